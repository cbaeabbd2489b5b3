import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/redis-prefix.js';

/**
 * `npm run demo` stopped by a process manager (SIGTERM) rather than Ctrl-C: the real demo in its own
 * process against the test Redis, stopped once its fleet is up. It must close everything and delete
 * every key under its private prefix, as it does on Ctrl-C.
 */
describe('the demo stopped by SIGTERM', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('stops cleanly and leaves no key under its prefix', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts', '--duration', '60'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { PATH: process.env.PATH, REDIS_URL, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The banner names the demo's prefix; the campaign line means its keys are being written.
    const prefix = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not launch in time:\n${out}`)), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const named = /keys under (\{cxo-demo-[0-9a-f]{8}\})/.exec(out);
        if (named && /created on CXone/.test(out)) {
          clearTimeout(timer);
          resolve(named[1] as string);
        }
      });
    });
    const tag = prefix.slice(1, -1);
    expect(await redis.keys(`*${tag}*`)).not.toHaveLength(0);

    child.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    expect(out).toContain('SIGTERM: stopping the demo');
    expect(await redis.keys(`*${tag}*`)).toEqual([]);
  }, 90_000);
});
