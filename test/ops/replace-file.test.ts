import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutputFileError, writeReplacing } from '../../src/cli/replace-file.js';

/**
 * `audit export --out FILE` writes through writeReplacing: an export that fails halfway (Redis lost
 * after some records, a full disk) used to leave FILE emptied and half-written — the last good export
 * of a trail a compliance officer keeps gone, and a partial one in its place under the same name.
 */
describe('writeReplacing', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cxo-replace-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function* failingAfter(lines: string[], err: Error) {
    for (const line of lines) yield line;
    throw err;
  }

  it('leaves the file at the path as it was when the source fails midway, and no file beside it', async () => {
    const file = join(dir, 'trail.jsonl');
    writeFileSync(file, 'the last good export\n');
    const lost = new Error('Connection is closed.');
    await expect(writeReplacing(file, failingAfter(['{"a":1}\n', '{"a":2}\n'], lost))).rejects.toBe(lost);
    expect(readFileSync(file, 'utf8')).toBe('the last good export\n');
    expect(readdirSync(dir)).toEqual(['trail.jsonl']);
  });

  it('replaces the file whole once the source has ended', async () => {
    const file = join(dir, 'trail.jsonl');
    writeFileSync(file, 'the last good export\n');
    await writeReplacing(file, ['{"a":1}\n', '{"a":2}\n']);
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n{"a":2}\n');
    expect(readdirSync(dir)).toEqual(['trail.jsonl']);
  });

  it('names the path, not the file beside it, when the file cannot be written', async () => {
    const file = join(dir, 'no-such-dir', 'trail.jsonl');
    const err = await writeReplacing(file, ['x\n']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutputFileError);
    // The system's message names the file it opened: the one beside the path, said as the path.
    expect((err as OutputFileError).message).toBe(
      `cannot write ${file}: ENOENT: no such file or directory, open '${file}'`,
    );
    // A directory where the file should be: the rename fails, and the file beside it goes.
    const taken = join(dir, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'keep'), '');
    await expect(writeReplacing(taken, ['x\n'])).rejects.toBeInstanceOf(OutputFileError);
    expect(readdirSync(dir)).toEqual(['taken']);
  });

  it('writes through a symlink (as /dev/stdout is one) instead of replacing the link', async () => {
    const real = join(dir, 'real.jsonl');
    writeFileSync(real, 'old\n');
    const link = join(dir, 'link.jsonl');
    symlinkSync(real, link);
    await writeReplacing(link, ['new\n']);
    expect(readFileSync(real, 'utf8')).toBe('new\n');
    expect(readdirSync(dir).sort()).toEqual(['link.jsonl', 'real.jsonl']);
  });
});
