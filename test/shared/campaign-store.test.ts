import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { CampaignStore, configFromResource } from '../../src/shared/campaign-store.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { ManualClock } from '../../src/shared/clock.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import type { CampaignResource, CampaignStats } from '../../src/shared/cxone/wire.js';
import { efficiencyScore } from '../../src/shared/efficiency.js';
import { createKeys } from '../../src/shared/keys.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

const prefix = testPrefix();
const keys = createKeys(prefix);
const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));
let redis: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const config: CampaignConfig = {
  name: 'Compact record',
  description: 'orchestrator-only',
  startDateTime: '2026-12-01T09:00:00-05:00',
  targetListId: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60',
  skillGroupId: '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b',
  complianceTimeZone: 'America/New_York',
  allowedCallTimes: [{ days: ['mon', 'tue', 'wed'], start: '09:00', end: '17:00' }],
  dialerStrategy: { strategy: 'predictive', agentCapacity: 10, callRate: 0.5, answerRate: 0.3 },
  compliance: { regime: 'TCPA', doNotCallCheck: true },
  pacing: { strategy: 'abandonment-target', targetAbandonment: 0.025, pollIntervalMs: 15_000 },
};

function resource(id: string, version: number, patch: Record<string, unknown> = {}): CampaignResource {
  return {
    ...toCreateCampaignRequest(config),
    id,
    version,
    status: 'active',
    createdAt: '2026-12-01T14:00:00Z',
    updatedAt: '2026-12-01T14:30:00Z',
    ...patch,
  } as CampaignResource;
}

const stats: CampaignStats = {
  version: 3,
  status: 'active',
  totalCalls: 1843,
  answeredCalls: 652,
  abandonedCalls: 14,
  complianceViolations: 0,
  agentUtilization: 83.5,
};

const store = () => new CampaignStore({ redis, keys, clock });

describe('CampaignStore compact record', () => {
  it('returns the CXone resource exactly as CXone sent it, without storing it next to the config', async () => {
    const cxone = resource('k1', 3, {
      dialerSettings: { ...resource('k1', 3).dialerSettings, wrapUpTime: 45 },
      addedByNewerCxone: { x: 1 },
    });
    await store().syncFromCxone(cxone, { launchId: 'l1', config });
    const record = await store().get('k1');
    expect(record?.cxone).toEqual(cxone);
    expect(record?.config).toEqual({ ...config });
    expect(record?.campaignId).toBe('k1');

    // One string per campaign, and no copy of the config's content in the stored resource part.
    expect(await redis.type(keys.campaign('k1'))).toBe('string');
    const bytes = Number(await redis.call('MEMORY', 'USAGE', keys.campaign('k1'), 'SAMPLES', '0'));
    expect(bytes).toBeLessThan(JSON.stringify(config).length + 200);
  });

  it('derives efficiency from the stats, and keeps one a caller set otherwise', async () => {
    const s = store();
    await s.syncFromCxone(resource('k2', 3), { config });
    await s.recordStats('k2', stats, efficiencyScore(stats));
    expect((await s.get('k2'))?.efficiency).toEqual(efficiencyScore(stats));
    await s.recordStats('k2', stats, null);
    expect((await s.get('k2'))?.efficiency).toBeNull();
    await s.recordStats(
      'k2',
      { ...stats, totalCalls: 2000 },
      efficiencyScore({ ...stats, totalCalls: 2000 }),
    );
    expect((await s.get('k2'))?.efficiency?.totalCalls).toBe(2000);
  });

  it('keeps the resource right when only the config is written afterwards', async () => {
    const s = store();
    const cxone = resource('k3', 5);
    await s.put({ campaignId: 'k3', status: 'active', version: 5, config, cxone });
    const changed = { ...config, dialerStrategy: { ...config.dialerStrategy, callRate: 0.9 } };
    await s.patch('k3', { config: changed });
    const record = await s.get('k3');
    expect(record?.config.dialerStrategy.callRate).toBe(0.9);
    expect(record?.cxone).toEqual(cxone);
  });

  it('keeps an orchestrator-only config change that lands after a poll stored a newer version', async () => {
    await store().syncFromCxone(resource('k-local', 6), { config });
    // A stats poll (or any read) stores v7 while the command that read v6 is finishing.
    await store().syncFromCxone(resource('k-local', 7, { name: 'renamed in the console' }));
    await store().updateLocalConfig(resource('k-local', 6), {
      description: 'changed by a command',
      pacing: { ...config.pacing!, targetAbandonment: 0.02 },
    });
    const record = await store().get('k-local');
    expect(record).toMatchObject({ version: 7, cxone: { name: 'renamed in the console' } });
    expect(record?.config).toMatchObject({
      name: 'renamed in the console',
      description: 'changed by a command',
      pacing: { targetAbandonment: 0.02 },
      compliance: config.compliance,
    });
  });

  it('merges concurrent writes of different fields field by field', async () => {
    const s = store();
    await s.syncFromCxone(resource('k4', 2), { config });
    await Promise.all([
      s.patch('k4', { pacing: { strategy: 'abandonment-target', note: 'x'.repeat(300) } }),
      s.patch('k4', { polling: { effectiveIntervalMs: 20_000, desiredIntervalMs: 15_000 } }),
      s.patch('k4', { compliance: { window: 'open' } }),
      s.recordStats('k4', { ...stats, version: 2 }, efficiencyScore(stats)),
      s.syncFromCxone(resource('k4', 3, { status: 'paused' })),
    ]);
    const record = await s.get('k4');
    expect(record).toMatchObject({
      status: 'paused',
      version: 3,
      pacing: { note: 'x'.repeat(300) },
      polling: { effectiveIntervalMs: 20_000 },
      compliance: { window: 'open' },
      lastStats: { totalCalls: 1843 },
    });
    expect(record?.cxone.status).toBe('paused');
  });

  it('reads a record an earlier release kept as a hash, and converts it on the next write', async () => {
    const cxone = resource('k5', 4);
    await redis.hset(keys.campaign('k5'), {
      campaignId: JSON.stringify('k5'),
      launchId: JSON.stringify('l5'),
      status: JSON.stringify('active'),
      version: '4',
      config: JSON.stringify(config),
      cxone: JSON.stringify(cxone),
      efficiency: JSON.stringify({ efficiencyScore: 1, answerRate: 0, abandonmentRate: 0 }),
      updatedAt: JSON.stringify('2026-12-01T14:00:00.000Z'),
    });
    const s = store();
    expect(await s.get('k5')).toMatchObject({ campaignId: 'k5', launchId: 'l5', version: 4, cxone });

    // A stale CXone write is still refused against the legacy record's version…
    expect(await s.syncFromCxone(resource('k5', 3, { status: 'paused' }))).toBe(false);
    expect(await redis.type(keys.campaign('k5'))).toBe('string');
    const record = await s.get('k5');
    expect(record).toMatchObject({ status: 'active', version: 4, launchId: 'l5', cxone });
    expect(record?.efficiency).toEqual({ efficiencyScore: 1, answerRate: 0, abandonmentRate: 0 });

    // …and a newer one replaces the whole CXone part.
    expect(await s.syncFromCxone(resource('k5', 6, { status: 'paused' }))).toBe(true);
    expect((await s.get('k5'))?.cxone).toEqual(resource('k5', 6, { status: 'paused' }));
  });
});

describe("recipient states (the orchestrator's own, never on CXone)", () => {
  const withStates: CampaignConfig = { ...config, recipientStates: ['NY', 'NJ'] };

  it('keeps them through every sync from CXone, whose resource never carries them', async () => {
    const s = store();
    expect(await s.syncFromCxone(resource('rs1', 3), { config: withStates })).toBe(true);
    expect((await s.get('rs1'))?.config.recipientStates).toEqual(['NY', 'NJ']);
    // A poll (no config passed) and a later version changed in the console.
    expect(await s.syncFromCxone(resource('rs1', 4, { name: 'Renamed in the console' }))).toBe(true);
    const record = await s.get('rs1');
    expect(record?.config).toMatchObject({ name: 'Renamed in the console', recipientStates: ['NY', 'NJ'] });
    expect(record?.cxone.complianceSettings).not.toHaveProperty('recipientStates');
    // A resource that still carries a list (sent by an earlier release) is not read for them.
    const stray = resource('rs1', 5);
    stray.complianceSettings = { ...stray.complianceSettings, recipientStates: ['TX'] } as never;
    expect(await s.syncFromCxone(stray)).toBe(true);
    expect((await s.get('rs1'))?.config.recipientStates).toEqual(['NY', 'NJ']);
    expect(configFromResource(stray).recipientStates).toBeUndefined();
  });

  it('reads records an earlier release stored with the list on CXone, keeping their declared states', async () => {
    // Then the config held CXone's copy of the list as last synced, the launch's states were kept
    // beside it (declaredStates) once that existed, and the resource was stored whole.
    const legacyResource = (id: string, states: string[]) => {
      const r = resource(id, 4);
      return { ...r, complianceSettings: { ...r.complianceSettings, recipientStates: states } };
    };
    const legacy = (id: string, listed: string[], declared?: string[]) =>
      redis.hset(keys.campaign(id), {
        campaignId: JSON.stringify(id),
        status: JSON.stringify('active'),
        version: '4',
        config: JSON.stringify({ ...config, recipientStates: listed }),
        cxone: JSON.stringify(legacyResource(id, listed)),
        ...(declared ? { declaredStates: JSON.stringify(declared) } : {}),
        updatedAt: JSON.stringify('2026-12-01T14:00:00.000Z'),
      });
    // CXone's copy emptied in the console; the launch's states kept beside it.
    await legacy('rs-old1', [], ['NY', 'NJ']);
    // From before declaredStates: the list as CXone held it is the only copy.
    await legacy('rs-old2', ['NY', 'NJ']);
    const s = store();
    for (const id of ['rs-old1', 'rs-old2']) {
      expect((await s.get(id))?.config.recipientStates, id).toEqual(['NY', 'NJ']);
      // The next sync brings a resource without the list: the states stay.
      expect(await s.syncFromCxone(resource(id, 5, { status: 'paused' }))).toBe(true);
      const record = await s.get(id);
      expect(record?.config.recipientStates, id).toEqual(['NY', 'NJ']);
      expect(record?.cxone).toEqual(resource(id, 5, { status: 'paused' }));
    }
  });
});

describe('configFromResource', () => {
  it("lists each day once, though CXone's console may repeat one, and keeps windows that do not as they are", () => {
    const clean = resource('c-days', 2);
    expect(configFromResource(clean).allowedCallTimes).toBe(clean.complianceSettings.allowedCallTimes);
    const repeated = resource('c-days', 3, {
      complianceSettings: {
        ...clean.complianceSettings,
        allowedCallTimes: [{ days: ['mon', 'mon', 'tue'], start: '09:00', end: '17:00' }],
      },
    });
    const rebuilt = configFromResource(repeated, config);
    expect(rebuilt.allowedCallTimes).toEqual([{ days: ['mon', 'tue'], start: '09:00', end: '17:00' }]);
    // So the merged config a PATCH or a pacing write re-checks is not refused for CXone's repeat.
    expect(campaignConfigSchema.safeParse(rebuilt).success).toBe(true);
  });
});

describe('a sync racing a command that stores orchestrator-only settings', () => {
  it("stores a command's settings when a poll has seen a newer version than the stored resource", async () => {
    await store().syncFromCxone(resource('ahead1', 9), { config });
    await store().recordStats('ahead1', { ...stats, version: 10 }, null);
    const changed = { ...config.pacing, targetAbandonment: 0.02 } as CampaignConfig['pacing'];
    // Syncs of the newer version race the command's write: none fails, the settings stay.
    await Promise.all([
      store().updateLocalConfig(resource('ahead1', 9), { pacing: changed }),
      store().syncFromCxone(resource('ahead1', 10)),
      store().syncFromCxone(resource('ahead1', 10)),
      store().syncFromCxone(resource('ahead1', 10)),
    ]);
    const record = await store().get('ahead1');
    expect(record?.config.pacing).toEqual(changed);
    expect(record?.cxone.version).toBe(10);
  });

  it('rebuilds on the settings the command stored between its read and its write, never writing them away', async () => {
    await store().syncFromCxone(resource('race1', 4), { config });
    const changed = { ...config.pacing, targetAbandonment: 0.02 } as CampaignConfig['pacing'];
    // The sync's read of the stored config comes back, and before its write lands a command stores a
    // new pacing target (through another store: another process).
    let interleave: (() => Promise<void>) | undefined = async () => {
      await store().updateLocalConfig(resource('race1', 4), { pacing: changed });
    };
    const slowReads = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop !== 'getBuffer') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<Redis['getBuffer']>) => {
          const value = await target.getBuffer(...args);
          const run = interleave;
          interleave = undefined;
          await run?.();
          return value;
        };
      },
    });
    const racing = new CampaignStore({ redis: slowReads, keys, clock });

    expect(await racing.syncFromCxone(resource('race1', 4, { name: 'Renamed in CXone' }))).toBe(true);
    const record = await store().get('race1');
    expect(record?.config.pacing).toEqual(changed);
    expect(record?.config.name).toBe('Renamed in CXone');
    expect(record?.configRev).toBe(3); // the first sync, the command, the sync read again
  });
});
