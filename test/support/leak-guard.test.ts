import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { redisMissingNotice } from './leak-guard.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('a test run without Redis', () => {
  it('names the Redis, with its password hidden, and what to do', () => {
    const notice = redisMissingNotice(
      'redis://:hunter2@10.0.0.9:6380/1',
      'connect ECONNREFUSED 10.0.0.9:6380',
    );
    expect(notice).toContain('redis://:***@10.0.0.9:6380/1');
    expect(notice).toContain('connect ECONNREFUSED');
    expect(notice).toContain('redis-server --daemonize yes');
    expect(notice).toContain('REDIS_URL');
    expect(notice).not.toContain('hunter2');
  });

  // Before, nothing named Redis: only the integration tests' own failures (hook timeouts, 503s).
  it('says so first and last, and a run of pure tests still passes', async () => {
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          'node_modules/vitest/vitest.mjs',
          'run',
          'test/process/node-support.test.ts',
          '-t',
          'accepts a Node',
        ],
        {
          cwd: ROOT,
          env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: 'redis://127.0.0.1:1' },
          timeout: 60_000,
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
      );
    });
    expect(code, output).toBe(0);
    const lines = output.split('\n').filter((line) => line.includes('The tests cannot use Redis at'));
    expect(lines, output).toHaveLength(2);
    expect(lines[0]).toContain('redis://127.0.0.1:1');
  }, 90_000);
});
