import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { ManualClock } from '../../src/shared/clock.js';
import { createKeys, type Keys } from '../../src/shared/keys.js';
import { createAuditTrail, type AuditTrailStore } from '../../src/shared/audit/trail.js';
import type { AuditInput, AuditRecord } from '../../src/shared/audit/types.js';
import { LaunchStore, launchAuditId } from '../../src/shared/launch-store.js';
import { auditWithChange } from '../../src/shared/side-records.js';
import { recordingLogger } from '../support/log-capture.js';
import { connect, deletePrefix, testPrefix } from './redis-helpers.js';

// A launch's request and its campaign's creation are recorded by the scripts that write them
// (audit-script.ts): both land or neither does, and a chain that cannot take the record there gets it
// through the trail's own append — the change itself never fails for its record.

let redis: Redis;
let keys: Keys;
let prefix: string;
const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));
const { logger, lines } = recordingLogger('debug');
const hooked: AuditRecord[] = [];
let trail: AuditTrailStore;
let launches: LaunchStore;

beforeAll(() => {
  redis = connect();
  prefix = testPrefix();
  keys = createKeys(prefix);
  trail = createAuditTrail({
    redis,
    keys,
    logger,
    clock,
    onAppended: async (record) => {
      hooked.push(record);
    },
  });
  launches = new LaunchStore({ redis, keys, clock });
});

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const deps = () => ({ audit: trail, logger });

function requested(launchId: string): AuditInput {
  return {
    campaignId: launchAuditId(launchId),
    action: 'launch_requested',
    actor: 'api:test',
    details: { launchId, name: 'with-change' },
  };
}

function created(launchId: string, campaignId: string): AuditInput {
  return {
    campaignId,
    action: 'campaign_created',
    actor: 'orchestrator:launch-worker',
    cxoneVersion: 1,
    details: { launchId },
    dedupeKey: `campaign_created:${launchId}`,
  };
}

async function createLaunch(launchId: string, audit = auditWithChange(deps(), requested(launchId))) {
  return launches.create(
    { launchId, actor: 'api:test', name: 'with-change', requestedAt: new Date(clock.now()).toISOString() },
    undefined,
    undefined,
    audit,
  );
}

/** The campaign id recorded on the launch, with its campaign_created record (launch-worker.ts). */
function recordCampaign(launchId: string, campaignId: string): Promise<boolean> {
  return launches.recordCreated(
    launchId,
    campaignId,
    1,
    auditWithChange(deps(), created(launchId, campaignId)),
  );
}

describe('audit records written with the change they record', () => {
  it('writes the request with the launch, on a chain that verifies, and runs the after-append hook once', async () => {
    const launchId = randomUUID();
    hooked.length = 0;
    expect(await createLaunch(launchId)).toEqual({ created: true });

    const chain = await trail.list(launchAuditId(launchId));
    expect(chain.map((r) => r.action)).toEqual(['launch_requested']);
    expect(chain[0]).toMatchObject({ prevHash: '', actor: 'api:test', details: { launchId } });
    expect(await trail.verify(launchAuditId(launchId))).toMatchObject({ ok: true, checked: 1 });
    expect(hooked.map((r) => r.auditId)).toEqual([chain[0]!.auditId]);
    // Built on the head the script wrote: the next append links to it without a conflict.
    await trail.append({ ...requested(launchId), action: 'launch_failed', details: { launchId } });
    expect(await trail.verify(launchAuditId(launchId))).toMatchObject({ ok: true, checked: 2 });
  });

  it('records nothing for a change the script does not write (a launch already finished)', async () => {
    const launchId = randomUUID();
    await createLaunch(launchId);
    expect(await launches.finish(launchId, { status: 'failed', error: 'gave up' })).toBe(true);
    const campaignId = `c-${randomUUID()}`;

    expect(await recordCampaign(launchId, campaignId)).toBe(false);
    expect(await trail.list(campaignId)).toEqual([]);
    expect(await redis.exists(keys.auditChainHead(campaignId))).toBe(0);
  });

  it('writes a campaign_created record with the campaign id, once per dedupe key', async () => {
    const launchId = randomUUID();
    const campaignId = `c-${randomUUID()}`;
    await createLaunch(launchId);
    expect(await recordCampaign(launchId, campaignId)).toBe(true);
    expect((await launches.get(launchId))?.campaignId).toBe(campaignId);
    // A redelivered run records the id again: its record is the same one, not a second.
    const again = auditWithChange(deps(), created(launchId, campaignId));
    expect(await launches.recordCreated(launchId, campaignId, 1, again)).toBe(true);
    expect((await trail.list(campaignId)).map((r) => r.action)).toEqual(['campaign_created']);
  });

  it('appends the record after the change when writers are queued on the chain, in its turn', async () => {
    const launchId = randomUUID();
    const campaignId = `c-${randomUUID()}`;
    await createLaunch(launchId);
    // Another writer waits at the front of this chain's queue (trail.ts's fairness queue).
    const queue = keys.custom('audit-queue', campaignId);
    const seen = keys.custom('audit-queue-seen', campaignId);
    const [seconds] = await redis.time();
    await redis.zadd(queue, 1, 'aud_other');
    await redis.zadd(seen, Number(seconds) * 1000, 'aud_other');

    const recording = launches.recordCreated(
      launchId,
      campaignId,
      1,
      auditWithChange(deps(), created(launchId, campaignId)),
    );
    // The launch record is written at once; the record waits behind the queued writer.
    await expect.poll(async () => (await launches.get(launchId))?.campaignId).toBe(campaignId);
    expect(await trail.list(campaignId)).toEqual([]);
    await redis.del(queue, seen);
    expect(await recording).toBe(true);
    expect((await trail.list(campaignId)).map((r) => r.action)).toEqual(['campaign_created']);
    expect(await trail.verify(campaignId)).toMatchObject({ ok: true, checked: 1 });
  });

  it('appends on the head the chain has when it is not the one the record was built on', async () => {
    const launchId = randomUUID();
    const campaignId = `c-${randomUUID()}`;
    await createLaunch(launchId);
    // Prepared first, then another process appends: the prepared record's head is stale.
    const prepared = auditWithChange(deps(), created(launchId, campaignId));
    const other = createAuditTrail({ redis, keys, logger, clock });
    await other.append({ ...created(launchId, campaignId), action: 'cxone_history', dedupeKey: undefined });

    expect(await launches.recordCreated(launchId, campaignId, 1, prepared)).toBe(true);
    expect((await trail.list(campaignId)).map((r) => r.action)).toEqual([
      'cxone_history',
      'campaign_created',
    ]);
    expect(await trail.verify(campaignId)).toMatchObject({ ok: true, checked: 2 });
  });

  it('does not append a record twice when its script is sent again after it ran (a lost reply)', async () => {
    const launchId = randomUUID();
    const campaignId = `c-${randomUUID()}`;
    await createLaunch(launchId);
    const prepared = auditWithChange(deps(), created(launchId, campaignId));
    const settled: unknown[] = [];
    const spy = {
      ...prepared,
      settle: async (outcome: readonly [string, string?]) => (settled.push(outcome), true),
    };
    // The same script, keys and arguments twice, as ioredis sends a command again after a reconnect.
    expect(await launches.recordCreated(launchId, campaignId, 1, spy)).toBe(true);
    await trail.append({ ...created(launchId, campaignId), action: 'state_changed', dedupeKey: undefined });
    expect(await launches.recordCreated(launchId, campaignId, 1, spy)).toBe(true);

    const chain = await trail.list(campaignId);
    expect(chain.map((r) => r.action)).toEqual(['campaign_created', 'state_changed']);
    const [first, second] = settled as string[][];
    expect(first).toEqual(['ok', expect.any(String)]);
    // Answered with its own record, and the head the later record left.
    expect(second).toEqual(['ok', first![1], chain[1]!.hash]);
  });

  it('writes the launch when the trail keys are broken, and logs the record it could not append', async () => {
    const launchId = randomUUID();
    // The chain's dedupe key holds a string where the trail keeps a hash.
    const campaignId = launchAuditId(launchId);
    await redis.set(keys.custom('audit-dedupe', campaignId), 'not a hash');
    lines.length = 0;

    expect(await createLaunch(launchId)).toEqual({ created: true });
    expect((await launches.get(launchId))?.status).toBe('queued');
    // Without a dedupe key the trail's own append does not read that key: the record still lands.
    expect((await trail.list(campaignId)).map((r) => r.action)).toEqual(['launch_requested']);

    const brokenCampaign = `c-${randomUUID()}`;
    await redis.set(keys.auditCampaignIndex(brokenCampaign), 'not a stream');
    expect(await recordCampaign(launchId, brokenCampaign)).toBe(true);
    expect((await launches.get(launchId))?.campaignId).toBe(brokenCampaign);
    expect(lines.find((l) => l.msg === 'audit write failed')).toMatchObject({
      campaignId: brokenCampaign,
      action: 'campaign_created',
    });
  });

  it('leaves nothing in the stream of a record the trail’s own append cannot chain (an index of the wrong type)', async () => {
    const launchId = randomUUID();
    await createLaunch(launchId);
    const campaignId = `c-${randomUUID()}`;
    await redis.set(keys.auditCampaignIndex(campaignId), 'not a stream');
    lines.length = 0;

    expect(await recordCampaign(launchId, campaignId)).toBe(true);
    expect(lines.find((l) => l.msg === 'audit write failed')).toMatchObject({
      campaignId,
      action: 'campaign_created',
    });
    // A record in the main stream without its index entry would be reported by every later verify
    // (and exported) as unchained, even once the index is repaired.
    const entries = (await redis.xrange(keys.auditStream(), '-', '+')) as Array<[string, string[]]>;
    expect(entries.filter(([, fields]) => fields[1] === campaignId)).toEqual([]);
    await redis.del(keys.auditCampaignIndex(campaignId));
    expect((await trail.verify()).broken.filter((b) => b.campaignId === campaignId)).toEqual([]);
  });

  it('falls back to the trail’s append for a trail that hands out no records', async () => {
    const launchId = randomUUID();
    const appended: AuditInput[] = [];
    const plain = { audit: { append: async (i: AuditInput) => void appended.push(i) }, logger };
    expect(await createLaunch(launchId, auditWithChange(plain, requested(launchId)))).toEqual({
      created: true,
    });
    expect(appended.map((i) => i.action)).toEqual(['launch_requested']);
    expect(await trail.list(launchAuditId(launchId))).toEqual([]);
  });
});
