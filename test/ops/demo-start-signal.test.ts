import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { REDIS_URL } from '../support/redis-prefix.js';

/**
 * `npm run demo` stopped while its fleet is still starting: it must stop there — no launch, no
 * campaign — close what it started and exit 0 (its keys are deleted as in demo-signals.test.ts).
 */
describe('the demo stopped while its fleet starts', () => {
  it('launches nothing, cleans up and exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts', '--duration', '60'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      // info: the embedded sandbox's "listening" log line marks the start of the fleet's start-up.
      env: { PATH: process.env.PATH, REDIS_URL, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // The Redis connection, the workers and the API are started after the sandbox: the signal sent
    // as soon as the sandbox says it listens arrives while they are (the first of them takes far
    // longer than delivering a signal).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the demo did not start in time:\n${out}`)), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (/embedded CXone sandbox listening/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    expect(out).toContain('SIGTERM: stopping the demo');
    expect(out).toContain('Demo stopped before launching anything');
    expect(out).not.toContain('POST /v1/campaigns');
  }, 90_000);
});
