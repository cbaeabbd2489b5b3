import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

const run = promisify(execFile);

/**
 * `npm run audit -- export` in a process of its own, as an operator runs it: a FILE that cannot be
 * written is one line naming it and exit 1, never an unhandled stream error's stack trace; a reader
 * that stops reading (`| head`) ends the export quietly (0), as it does `cxo watch`.
 */
describe('audit export where its output goes', () => {
  const prefix = testPrefix('audit-out');
  let redis: Redis;
  let dir: string;

  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    dir = mkdtempSync(join(tmpdir(), 'cxo-audit-out-'));
    const trail = createAuditTrail({ redis, keys: createKeys(prefix), logger: silentLogger });
    for (let i = 0; i < 3; i++) {
      await trail.append({ campaignId: 'out-a', action: 'state_changed', actor: 'api:ops', details: { i } });
    }
    // Enough that the export is still writing when a reader that wanted one line has gone.
    const padding = 'x'.repeat(2_000);
    for (let i = 0; i < 300; i++) {
      await trail.append({
        campaignId: 'out-b',
        action: 'state_changed',
        actor: 'api:ops',
        details: { padding },
      });
    }
  });

  afterAll(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  const exportTo = (out: string, args: string[] = [], redisUrl = REDIS_URL) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/audit.ts', 'export', ...args, '--out', out], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { PATH: process.env.PATH, REDIS_URL: redisUrl, KEY_PREFIX: prefix, LOG_LEVEL: 'silent' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );

  it('names the file and exits 1, with no stack trace', async () => {
    const missingDir = join(dir, 'no-such-dir', 'trail.jsonl');
    const result = await exportTo(missingDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(missingDir);
    expect(result.stderr).not.toMatch(/Unhandled|\n\s+at /);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  }, 30_000);

  it('still writes every record to a path that can be written', async () => {
    const file = join(dir, 'trail.jsonl');
    const result = await exportTo(file);
    expect(result.code, result.stderr).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(303);
    expect(lines.slice(0, 3).map((l) => (JSON.parse(l) as { details: { i: number } }).details.i)).toEqual([
      0, 1, 2,
    ]);
  }, 30_000);

  it('leaves a file already at the path as it was when the export finds nothing or cannot reach Redis', async () => {
    // The last good export: an export of a mistyped id, or one run while Redis is down, used to
    // empty it before saying it had failed (exit 1).
    const file = join(dir, 'kept.jsonl');
    writeFileSync(file, 'the last good export\n');
    const typo = await exportTo(file, ['no-such-campaign']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('no audit records for campaign no-such-campaign');
    // Where it looked, and what to check: a shell without the fleet's KEY_PREFIX finds nothing either.
    expect(typo.stderr).toContain(`no-such-campaign under KEY_PREFIX ${prefix} at `);
    expect(typo.stderr).toContain("check the id, and that KEY_PREFIX and REDIS_URL are the fleet's");
    expect(readFileSync(file, 'utf8')).toBe('the last good export\n');
    // Nothing listens on port 1.
    const down = await exportTo(file, [], 'redis://127.0.0.1:1');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach Redis');
    expect(readFileSync(file, 'utf8')).toBe('the last good export\n');
    // A campaign that has records still replaces it.
    expect((await exportTo(file, ['out-a'])).code).toBe(0);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(3);
  }, 60_000);

  it('ends quietly with 0 when the reader stops reading (`| head -1`)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/audit.ts', 'export'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { PATH: process.env.PATH, REDIS_URL, KEY_PREFIX: prefix, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 30_000);
});
