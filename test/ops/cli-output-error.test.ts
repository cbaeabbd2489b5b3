import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/args.js';

/**
 * cxo's output that cannot be written (a full disk: `cxo audit ID --export > trail.jsonl`) is a
 * failure, not a success: process.exit ran before Node reported the failed write, so cxo exited 0
 * with nothing (or half the trail) in the file, and a script's `|| alert` never fired. A reader that
 * stops reading (`| head -1`, EPIPE) is still the end of the output it wanted (cli-e2e.test.ts).
 */
function runTo(stdoutFd: number, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/cxo.ts', ...args], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { PATH: process.env.PATH },
    stdio: ['ignore', stdoutFd, 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe.runIf(existsSync('/dev/full'))('cxo output that cannot be written', () => {
  it('exits 1 with one line naming the failure, not 0', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      for (const args of [['--help'], ['validate', 'examples/campaign.json', '--offline']]) {
        const { code, stderr } = await runTo(full, args);
        expect(code, args.join(' ')).toBe(EXIT.usage);
        expect(stderr.trim(), args.join(' ')).toMatch(/^cxo: could not write the output \(ENOSPC\): /);
        expect(stderr, args.join(' ')).not.toMatch(/\n\s+at /);
      }
    } finally {
      closeSync(full);
    }
  }, 30_000);

  it('exits as before when the output was written', async () => {
    const nul = openSync('/dev/null', 'w');
    try {
      expect((await runTo(nul, ['--help'])).code).toBe(EXIT.ok);
      expect((await runTo(nul, ['validate', 'examples/campaign.json', '--offline'])).code).toBe(EXIT.ok);
    } finally {
      closeSync(nul);
    }
  }, 30_000);
});
