import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { parseAuditArgs, runAuditCli } from '../../src/cli/audit.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { ManualClock } from '../../src/shared/clock.js';
import { createKeys, type Keys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { connect, deletePrefix, knownCampaign, REDIS_URL, testPrefix } from './redis-helpers.js';

const run = promisify(execFile);
let redis: Redis;
let prefix: string;
let keys: Keys;
let dir: string;
const env = () => ({ REDIS_URL, KEY_PREFIX: prefix, LOG_LEVEL: 'silent' as const });
/** What the CLI says of an id with no records: where it looked, so a wrong KEY_PREFIX shows. */
const noRecords = (id: string) =>
  `no audit records for campaign ${id} under KEY_PREFIX ${prefix} at ${REDIS_URL}: ` +
  "check the id, and that KEY_PREFIX and REDIS_URL are the fleet's";

beforeAll(async () => {
  redis = connect();
  prefix = testPrefix();
  keys = createKeys(prefix);
  dir = mkdtempSync(join(tmpdir(), 'cxo-audit-cli-'));
  const trail = createAuditTrail({ redis, keys, logger: silentLogger });
  for (const campaignId of ['cli-a', 'cli-b']) {
    for (let i = 0; i < 3; i++) {
      await trail.append({ campaignId, action: 'state_changed', actor: 'api:ops', details: { i } });
    }
  }
});

/** Removes a chain a test added, so the counts the other tests expect of the whole trail hold. */
async function deleteChain(campaignId: string): Promise<void> {
  const index = (await redis.xrange(keys.auditCampaignIndex(campaignId), '-', '+')) as [string, string[]][];
  for (const [id] of index) await redis.xdel(keys.auditStream(), id);
  await redis.del(keys.auditCampaignIndex(campaignId), keys.auditChainHead(campaignId));
  await redis.srem(keys.custom('audit-campaigns'), campaignId);
}

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit CLI arguments', () => {
  it('parses export, verify and trim', () => {
    expect(parseAuditArgs(['export', 'c1', '--out', 'x.jsonl'])).toEqual({
      ok: true,
      command: { kind: 'export', campaignId: 'c1', out: 'x.jsonl' },
    });
    expect(parseAuditArgs(['export'])).toEqual({ ok: true, command: { kind: 'export' } });
    expect(parseAuditArgs(['verify', '--json'])).toEqual({
      ok: true,
      command: { kind: 'verify', json: true },
    });
    expect(parseAuditArgs(['trim'])).toEqual({ ok: true, command: { kind: 'trim' } });
    expect(parseAuditArgs([])).toEqual({ ok: true, command: { kind: 'help' } });
  });

  it('rejects what it does not understand', () => {
    expect(parseAuditArgs(['export', '--out'])).toMatchObject({ ok: false });
    // Empty, it would have written to stdout instead of the file meant.
    expect(parseAuditArgs(['export', 'c1', '--out='])).toEqual({
      ok: false,
      error: '--out needs a file name',
    });
    expect(parseAuditArgs(['verify', 'a', 'b'])).toMatchObject({ ok: false });
    expect(parseAuditArgs(['verify', '--force'])).toMatchObject({ ok: false });
    expect(parseAuditArgs(['trim', 'c1'])).toMatchObject({ ok: false });
    expect(parseAuditArgs(['shred'])).toMatchObject({ ok: false, error: 'unknown command shred' });
  });
});

describe('audit CLI against Redis', () => {
  it('exports one campaign or all as JSONL', async () => {
    const one = join(dir, 'one.jsonl');
    expect(await runAuditCli(['export', 'cli-a', '--out', one], env())).toBe(0);
    const lines = readFileSync(one, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { details: { i: number } }).details.i)).toEqual([0, 1, 2]);
    const all = join(dir, 'all.jsonl');
    expect(await runAuditCli(['export', `--out=${all}`], env())).toBe(0);
    expect(readFileSync(all, 'utf8').trim().split('\n')).toHaveLength(6);
  });

  it('export of an id with no records says so and exits 1, to a file or to stdout, as verify does', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await runAuditCli(['export', 'cli-typo', '--out', join(dir, 'typo.jsonl')], env())).toBe(1);
      expect(error).toHaveBeenCalledWith(noRecords('cli-typo'));
      error.mockClear();
      expect(await runAuditCli(['export', 'cli-typo'], env())).toBe(1);
      expect(error).toHaveBeenCalledWith(noRecords('cli-typo'));
    } finally {
      error.mockRestore();
    }
  });

  it('verify exits 0 on intact chains and 2 naming the first broken link (as a real process)', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await runAuditCli(['verify'], env())).toBe(0);
      expect(log).toHaveBeenCalledWith(
        "ok: 6 records in 2 audit chain(s) verified (campaigns' and launches')",
      );
    } finally {
      log.mockRestore();
    }
    // A mistyped id has nothing to verify: an error, not "ok: 0 records".
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await runAuditCli(['verify', 'cli-typo'], env())).toBe(1);
      expect(error).toHaveBeenCalledWith(noRecords('cli-typo'));
    } finally {
      error.mockRestore();
    }
    const [, second] = (await redis.xrange(keys.auditCampaignIndex('cli-b'), '-', '+')) as [
      string,
      string[],
    ][];
    await redis.xdel(keys.auditStream(), second![0]);
    const victim = second![1][1];
    const child = await run('node', ['--import', 'tsx', 'src/cli/audit.ts', 'verify'], {
      env: { ...process.env, ...env() },
    }).catch((err: { code: number; stdout: string }) => err);
    expect('code' in child ? child.code : 0).toBe(2);
    expect(child.stdout).toContain(`BROKEN campaign cli-b: record ${victim} at index 1: missing_record`);
  });

  it('export of a campaign whose index names a record the trail lacks exports the rest and exits 2 naming it', async () => {
    const trail = createAuditTrail({ redis, keys, logger: silentLogger });
    for (let i = 0; i < 3; i++) {
      await trail.append({
        campaignId: 'cli-gap',
        action: 'state_changed',
        actor: 'api:ops',
        details: { i },
      });
    }
    const [, gone] = (await redis.xrange(keys.auditCampaignIndex('cli-gap'), '-', '+')) as [
      string,
      string[],
    ][];
    await redis.xdel(keys.auditStream(), gone![0]);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const file = join(dir, 'gap.jsonl');
      expect(await runAuditCli(['export', 'cli-gap', '--out', file], env())).toBe(2);
      expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2);
      expect(error).toHaveBeenCalledWith(
        expect.stringMatching(
          new RegExp(
            `^export incomplete: 1 record\\(s\\) of campaign cli-gap are missing .*first: ${gone![1][1]}, stream id ${gone![0]}.*2 record\\(s\\) written`,
          ),
        ),
      );
    } finally {
      error.mockRestore();
    }
    const child = await run('node', ['--import', 'tsx', 'src/cli/audit.ts', 'export', 'cli-gap'], {
      env: { ...process.env, ...env() },
    }).catch((err: { code: number; stdout: string; stderr: string }) => err);
    expect('code' in child ? child.code : 0).toBe(2);
    expect(child.stdout.trim().split('\n')).toHaveLength(2);
    expect(child.stderr).toContain('export incomplete');
    await deleteChain('cli-gap');
  });

  it('verify prints its result and exits 2 on a broken chain even when its alert cannot be claimed', async () => {
    const trail = createAuditTrail({ redis, keys, logger: silentLogger });
    for (let i = 0; i < 3; i++) {
      await trail.append({
        campaignId: 'cli-alert',
        action: 'state_changed',
        actor: 'api:ops',
        details: { i },
      });
    }
    const [, second] = (await redis.xrange(keys.auditCampaignIndex('cli-alert'), '-', '+')) as [
      string,
      string[],
    ][];
    await redis.xdel(keys.auditStream(), second![0]);
    // Setting the alert's de-duplication key fails (Redis refusing the write); everything else works.
    const realSet = Redis.prototype.set;
    const set = vi.spyOn(Redis.prototype, 'set').mockImplementation(function (
      this: Redis,
      ...args: unknown[]
    ) {
      if (String(args[0]).includes('audit-alerted'))
        return Promise.reject(new Error('OOM command not allowed'));
      return (realSet as (...a: unknown[]) => unknown).apply(this, args);
    } as never);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const webhooks = {
        WEBHOOK_URL: 'http://127.0.0.1:9/hook',
        WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
      };
      expect(await runAuditCli(['verify', 'cli-alert'], { ...env(), ...webhooks })).toBe(2);
      expect(set).toHaveBeenCalled();
      expect(log).toHaveBeenCalledWith(
        expect.stringContaining(
          `BROKEN campaign cli-alert: record ${second![1][1]} at index 1: missing_record`,
        ),
      );
      expect(error).toHaveBeenCalledWith(
        expect.stringMatching(
          /alert for campaign cli-alert \(missing_record\) not published: OOM command not allowed/,
        ),
      );
    } finally {
      set.mockRestore();
      log.mockRestore();
      error.mockRestore();
    }
    await deleteChain('cli-alert');
  });

  it('verify of a campaign whose records retention trimmed all is ok (exit 0), naming the cut and anchor', async () => {
    const own = testPrefix();
    const ownKeys = createKeys(own);
    const clock = new ManualClock(Date.now() + 2 * 86_400_000);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const trail = createAuditTrail({ redis, keys: ownKeys, logger: silentLogger, clock, retentionDays: 1 });
      await knownCampaign(redis, ownKeys, 'cli-gone');
      for (let i = 0; i < 2; i++) {
        await trail.append({
          campaignId: 'cli-gone',
          action: 'state_changed',
          actor: 'api:ops',
          details: { i },
        });
      }
      const head = await redis.get(ownKeys.auditChainHead('cli-gone'));
      await trail.applyRetention();
      expect(await runAuditCli(['verify', 'cli-gone'], { ...env(), KEY_PREFIX: own })).toBe(0);
      expect(log).toHaveBeenCalledWith(
        expect.stringMatching(
          new RegExp(
            `^ok: campaign cli-gone: every record was trimmed by retention .*retention anchor ${head}$`,
          ),
        ),
      );
    } finally {
      log.mockRestore();
      await deletePrefix(redis, own);
    }
  });

  it('names Redis and where it looked when Redis cannot be reached (exit 1), its password hidden', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const down = { ...env(), REDIS_URL: 'redis://ops:s3cret@127.0.0.1:1' };
      expect(await runAuditCli(['verify'], down)).toBe(1);
      const [[message]] = error.mock.calls as [[string]];
      expect(message).toMatch(
        /^audit verify failed: cannot reach Redis at redis:\/\/ops:\*\*\*@127\.0\.0\.1:1 \(REDIS_URL\): /,
      );
      expect(message).not.toContain('s3cret');
    } finally {
      error.mockRestore();
    }
  });

  it('trim refuses (exit 3, nothing changed) while another trim holds the lock, naming the lock and its holder', async () => {
    const own = testPrefix();
    const ownKeys = createKeys(own);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const trail = createAuditTrail({ redis, keys: ownKeys, logger: silentLogger });
      await trail.append({ campaignId: 'cli-busy', action: 'state_changed', actor: 'api:ops', details: {} });
      const lock = ownKeys.custom('audit-trim-lock');
      const holder = { host: 'cron-host-2', pid: 4242, since: '2026-11-30T03:00:00.000Z', token: 't' };
      await redis.set(lock, JSON.stringify(holder), 'PX', 60_000);
      const ownEnv = { ...env(), KEY_PREFIX: own, AUDIT_RETENTION_DAYS: '1' };
      expect(await runAuditCli(['trim'], ownEnv)).toBe(3);
      expect(error).toHaveBeenCalledWith(
        expect.stringMatching(
          new RegExp(
            `^audit trim skipped: another audit retention trim is running: lock ${lock.replace(/[{}]/g, '\\$&')} ` +
              'held by cron-host-2 pid 4242 since 2026-11-30T03:00:00.000Z .*this trim changed nothing$',
          ),
        ),
      );
      expect(await redis.xlen(ownKeys.auditStream())).toBe(1);
      expect(await redis.get(lock)).toBe(JSON.stringify(holder));
      // Once the lock is free, the trim runs (a record of today is kept) and releases it.
      await redis.del(lock);
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        expect(await runAuditCli(['trim'], ownEnv)).toBe(0);
        expect(log).toHaveBeenCalledWith(expect.stringMatching(/^trimmed 0 record\(s\) older than 1 day/));
      } finally {
        log.mockRestore();
      }
      expect(await redis.xlen(ownKeys.auditStream())).toBe(1);
      expect(await redis.exists(lock)).toBe(0);
    } finally {
      error.mockRestore();
      await deletePrefix(redis, own);
    }
  });

  it('trim does nothing without a retention setting', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await runAuditCli(['trim'], env())).toBe(0);
      expect(log).toHaveBeenCalledWith('AUDIT_RETENTION_DAYS is 0: nothing trimmed');
    } finally {
      log.mockRestore();
    }
    expect(await redis.xlen(keys.auditStream())).toBe(5);
  });
});
