import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/redis-prefix.js';

/** The real demo in its own process, with the shell environment it is documented to ignore or use. */
function startDemo(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts', '--duration', '60'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { PATH: process.env.PATH, REDIS_URL, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, out: () => out, err: () => err };
}

describe("the demo and the shell's environment", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('ignores every CXONE_* variable, as documented: its CXone is its own sandbox', async () => {
    // Set for a real tenant (or mistyped): none of it may reach the demo's fleet.
    const demo = startDemo({
      CXONE_RATE_LIMIT_PER_MIN: 'abc',
      CXONE_RATE_LIMIT_WINDOW_MS: '-1',
      CXONE_TIMEOUT_MS: 'soon',
    });
    const prefix = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the demo did not launch in time:\n${demo.out()}`)),
        60_000,
      );
      const check = () => {
        const named = /keys under (\{cxo-demo-[0-9a-f]{8}\})/.exec(demo.out());
        if (named && /created on CXone/.test(demo.out())) {
          clearTimeout(timer);
          resolve(named[1] as string);
        }
      };
      demo.child.stdout.on('data', check);
      void demo.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the demo exited before launching:\n${demo.out()}${demo.err()}`));
      });
    });
    demo.child.kill('SIGTERM');
    expect(await demo.exited, demo.err()).toBe(0);
    expect(await redis.keys(`*${prefix.slice(1, -1)}*`)).toEqual([]);
  }, 90_000);

  it('a bad value of a variable it does use stops it with one line naming it, no stack trace (exit 1)', async () => {
    const demo = startDemo({ LOG_LEVEL: 'verbose' });
    expect(await demo.exited).toBe(1);
    expect(demo.err()).toContain('LOG_LEVEL');
    expect(demo.err()).not.toMatch(/\n\s+at /);
    expect(demo.err()).not.toContain('ConfigError');
  }, 30_000);

  it('never prints the password of the REDIS_URL it was given', async () => {
    // Nothing listens on port 1: the demo says so, naming the URL without its password.
    const demo = startDemo({ REDIS_URL: 'redis://:s3cret-pass@127.0.0.1:1' });
    expect(await demo.exited).toBe(1);
    expect(demo.err()).toContain('Redis does not answer at redis://');
    expect(demo.out() + demo.err()).not.toContain('s3cret-pass');
  }, 30_000);
});
