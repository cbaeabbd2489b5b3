import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/process/private-redis.js';
import { redisAnswers } from '../../src/shared/redis.js';
import { freePort } from '../support/free-port.js';
import { stopRedisAt } from './stop-redis.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/private-redis-exit.ts', import.meta.url));

/** Whether Redis at `url` stops answering within a few seconds (a killed process takes a moment to go). */
async function goesAway(url: string): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!(await redisAnswers(url, 300))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const ports: number[] = [];
afterEach(async () => {
  // If the code under test left one behind, it must not outlive the test.
  for (const port of ports.splice(0)) {
    await stopRedisAt(port);
  }
});

describe.skipIf(!findOnPath('redis-server'))('private redis-server', () => {
  it('does not outlive a process that exits without stopping it', async () => {
    const port = await freePort();
    ports.push(port);
    const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(port), '1'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(out).toBe('up\n');
    expect(code).toBe(1);
    expect(await goesAway(`redis://127.0.0.1:${port}`)).toBe(true);
  });
});
