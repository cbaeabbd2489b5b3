import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/redis-prefix.js';

/**
 * A supervisor, a CI step or `kill <pid>` signals `npm run demo` itself, not its process group. npm
 * passes SIGTERM on to the script's shell only: while the shell ran `tsx src/demo.ts` as a child the
 * shell died of it, npm exited, and the demo went on dialing, orphaned, its fleet's keys in Redis,
 * until its own end. The script execs tsx (as `npm start` execs node), which relays the signal.
 */
describe('npm run demo signalled through npm', () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  let tag: string | undefined;
  afterAll(async () => {
    const left = tag ? await redis.keys(`*${tag}*`) : [];
    if (left.length > 0) await redis.del(...left);
    redis.disconnect();
  });

  it('stops the demo cleanly on one SIGTERM to npm, leaving no key under its prefix', async () => {
    const npm = spawn('npm', ['run', '--silent', 'demo', '--', '--duration', '60'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!/created on CXone/.test(out)) {
      if (Date.now() > deadline) throw new Error(`the demo did not launch in time:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    tag = /keys under \{(cxo-demo-[0-9a-f]{8})\}/.exec(out)?.[1];
    expect(tag).toBeDefined();
    expect(await redis.keys(`*${tag}*`)).not.toHaveLength(0);

    npm.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    expect(out).toContain('SIGTERM: stopping the demo');
    expect(out).toContain('Demo stopped.');
    expect(await redis.keys(`*${tag}*`)).toEqual([]);
  }, 90_000);
});
