import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

describe('signals', () => {
  // A terminal or SSH session that closes sends SIGHUP; by default Node dies of it on the spot,
  // cutting active jobs off instead of draining them as for SIGTERM.
  it.each(['SIGHUP', 'SIGTERM'] as const)('%s drains and exits 0, as documented', async (signal) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'sandbox'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, HOST: '127.0.0.1', SANDBOX_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.once('exit', (code, sig) => resolve({ code, signal: sig })),
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner:\n${out}`)), 30_000);
        proc.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (/cxone-orchestrator is running/.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      proc.kill(signal);
      expect(await exited, out).toEqual({ code: 0, signal: null });
      expect(out).toMatch(new RegExp(`"signal":"${signal}".*shutting down`));
      expect(out).toMatch(/"msg":"stopped"/);
    } finally {
      proc.kill('SIGKILL');
    }
  });
});
