import { randomUUID } from 'node:crypto';
import {
  campaignConfigBaseSchema,
  pacingStrategyOf,
  targetAbandonmentOf,
  type CampaignConfig,
} from '../../src/shared/campaign-config.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { scheduleWindowEnforcement } from '../../src/shared/compliance/enforcement.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext } from '../../src/shared/context-factory.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import type { CampaignResource } from '../../src/shared/cxone/wire.js';
import { efficiencyScore } from '../../src/shared/efficiency.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { PacingRecord } from '../../src/shared/pacing/record.js';
import { decidePacing, type PacingControllerState } from '../../src/shared/pacing/index.js';
import { ensurePolling } from '../../src/shared/polling/schedulers.js';
import { QUEUES } from '../../src/shared/keys.js';
import type { AppContext } from '../../src/shared/context.js';
import { workerOptions } from '../../src/workers/worker-options.js';
import { Worker } from 'bullmq';
import { benchCampaignConfig } from './config.js';
import { deletePrivatePrefix } from '../../src/shared/private-prefix.js';
import { bytesUnder } from './redis-keys.js';
import { forEachConcurrent } from './stats.js';

export interface MemoryResult {
  campaigns: number;
  keys: number;
  bytes: number;
  bytesPerCampaign: number;
  seconds: number;
  /** Where the bytes are, by key shape. */
  byShape: { shape: string; keys: number; bytes: number }[];
}

/**
 * Redis bytes per active campaign, with everything an active campaign keeps in Redis as the product
 * writes it: its launch record, its campaign record (config, CXone resource, last stats, efficiency,
 * pacing and polling state), its statistics poll scheduler with the scheduler's next job, and its
 * calling-window enforcement job. The schedulers and the window job are created by the same calls
 * the launch worker makes on activation (ensurePolling, scheduleWindowEnforcement), one campaign at a
 * time, and the pacing record is what the product's controller leaves after two polls. Measured as the MEMORY USAGE sum of every key under a private
 * prefix, so other users of the same Redis do not distort the figure.
 */
export async function measureRedisPerCampaign(opts: {
  redisUrl: string;
  campaigns: number;
}): Promise<MemoryResult> {
  const prefix = `{cxo-bench-mem-${randomUUID().slice(0, 8)}}`;
  const config = loadConfig({
    REDIS_URL: opts.redisUrl,
    KEY_PREFIX: prefix,
    API_TOKEN: 'bench-api-token',
    // No CXone call is made here; the client is built but never used.
    CXONE_BASE_URL: 'http://127.0.0.1:9',
    CXONE_CLIENT_ID: 'sandbox-client',
    CXONE_CLIENT_SECRET: 'sandbox-secret',
    CXONE_RATE_LIMIT_PER_MIN: '100',
    LOG_LEVEL: 'silent',
  });
  const ctx = await createContext(config, silentLogger);
  const campaigns = createCampaignStore(ctx);
  const launches = createLaunchStore(ctx);
  const started = Date.now();
  try {
    const baseline = await bytesUnder(ctx.redis, prefix);
    const zone = zoneInsideWindow(Date.now());
    const now = Date.now();
    await forEachConcurrent([...Array(opts.campaigns).keys()], 64, async (i) => {
      const input = benchCampaignConfig(i, now - 24 * 3600 * 1000);
      // An active campaign is inside its calling window (outside it, enforcement pauses it), so its
      // window job waits, delayed, for the close: the bench's window must hold "now" in its zone.
      const campaignConfig = campaignConfigBaseSchema.parse({ ...input, complianceTimeZone: zone });
      const campaignId = randomUUID();
      const launchId = randomUUID();
      const iso = new Date(now).toISOString();
      await launches.create({ launchId, actor: 'api:bench', name: campaignConfig.name, requestedAt: iso });
      // The dearer of the two shapes: a launch for a later start, which its activation then noted.
      await launches.finish(launchId, {
        status: 'succeeded',
        campaignId,
        campaignStatus: 'scheduled',
        cxoneVersion: 2,
        activateAt: iso,
      });
      await launches.recordActivation(launchId, {
        campaignStatus: 'active',
        cxoneVersion: 3,
        activatedAt: iso,
      });
      const resource: CampaignResource = {
        ...toCreateCampaignRequest(campaignConfig),
        id: campaignId,
        version: 3,
        status: 'active',
        createdAt: iso,
        updatedAt: iso,
      };
      const stats = {
        version: 3,
        status: 'active' as const,
        totalCalls: 1843,
        answeredCalls: 652,
        abandonedCalls: 14,
        complianceViolations: 0,
        agentUtilization: 83.5,
      };
      const pacing = pacingAfterTwoPolls(campaignConfig, now);
      await campaigns.put({
        campaignId,
        launchId,
        status: 'active',
        version: 3,
        config: campaignConfig,
        cxone: resource,
        lastStats: { ...stats, at: iso },
        efficiency: efficiencyScore(stats),
        pacing,
        syncedAt: iso,
        // Noted before the activating write (on version 2) and kept: every campaign the orchestrator
        // activated carries it.
        activationSent: 2,
      });
      // What the launch worker does once a campaign is active (startWatching): its poll scheduler,
      // through the budget-aware ensurePolling, then its calling-window job.
      await ensurePolling(ctx, campaignId, campaignConfig.pacing?.pollIntervalMs);
      await scheduleWindowEnforcement(ctx, campaignId);
    });
    await runFirstTicks(ctx, opts.campaigns);
    const schedulers = await ctx.queues.poll.getJobSchedulersCount();
    if (schedulers !== opts.campaigns)
      throw new Error(`expected ${opts.campaigns} poll schedulers, found ${schedulers}`);

    const after = await bytesUnder(ctx.redis, prefix);
    const bytes = after.bytes - baseline.bytes;
    return {
      campaigns: opts.campaigns,
      keys: after.keys - baseline.keys,
      bytes,
      bytesPerCampaign: Math.round(bytes / opts.campaigns),
      seconds: (Date.now() - started) / 1000,
      byShape: after.byShape,
    };
  } finally {
    await deletePrivatePrefix(ctx.redis, prefix);
    await ctx.close();
  }
}

/**
 * The record's `pacing` field as applyPacing leaves it after two polls of the abandonment-target
 * controller (decidePacing is the function the poll worker runs): its memory, the last decision and
 * the adjustment it queued.
 */
function pacingAfterTwoPolls(config: CampaignConfig, nowMs: number): PacingRecord {
  const pacing = {
    strategy: pacingStrategyOf(config),
    targetAbandonment: targetAbandonmentOf(config),
  };
  const callRate = config.dialerStrategy.callRate;
  const polls = [
    { atMs: nowMs - 15_000, stats: { totalCalls: 1790, answeredCalls: 633, abandonedCalls: 14 } },
    { atMs: nowMs, stats: { totalCalls: 1843, answeredCalls: 652, abandonedCalls: 14 } },
  ];
  let state: PacingControllerState = null;
  let last: ReturnType<typeof decidePacing> = null;
  for (const poll of polls) {
    last = decidePacing(
      pacing,
      { atMs: poll.atMs, callRate, stats: { ...poll.stats, agentUtilization: 83.5 } },
      state,
    );
    state = last?.state ?? null;
  }
  const at = new Date(nowMs).toISOString();
  const decision = last?.decision ?? null;
  return {
    strategy: pacing.strategy,
    state,
    lastDecision: decision ? { ...decision, at } : null,
    lastAdjustment:
      decision && decision.direction !== 'hold'
        ? { at, commandId: randomUUID(), from: callRate, to: decision.callRate, reason: decision.reason }
        : { at, commandId: randomUUID(), from: callRate, to: callRate, reason: 'pacing' },
    pendingCommandId: null,
    guardCap: null,
  };
}

/**
 * Zones at most three hours apart: at any instant one of them is between 10:00 and 15:00, so the
 * bench's 20:00 close is at least five hours off — beyond the lead 10 000 campaigns closing together
 * get at 100 calls a minute (about 2.1 hours, closeLeadMs), so every window job waits in `delayed`.
 */
const ZONES = [
  'Pacific/Honolulu',
  'America/Los_Angeles',
  'America/New_York',
  'America/Sao_Paulo',
  'Atlantic/Azores',
  'Europe/Berlin',
  'Asia/Dubai',
  'Asia/Dhaka',
  'Asia/Shanghai',
  'Australia/Brisbane',
  'Pacific/Noumea',
  'Pacific/Tongatapu',
];

function zoneInsideWindow(nowMs: number): string {
  for (const zone of ZONES) {
    const hour = Number(
      new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', hourCycle: 'h23' }).format(nowMs),
    );
    if (hour >= 10 && hour < 15) return zone;
  }
  throw new Error('no bench zone is inside 10:00–15:00 now');
}

/**
 * Steady state of the poll queue: a scheduler's first job is due at once, and only after it ran does
 * the next one wait in `delayed` (a sorted-set entry, dearer than the wait list's). The first tick of
 * every scheduler is run here by a worker with the poll worker's options (retention included) and a
 * processor that does nothing: a real poll writes only record fields this benchmark already wrote.
 */
async function runFirstTicks(ctx: AppContext, campaigns: number): Promise<void> {
  const worker = new Worker(QUEUES.poll, async () => undefined, {
    ...workerOptions(ctx, QUEUES.poll),
    concurrency: 50,
  });
  try {
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      const counts = await ctx.queues.poll.getJobCounts('wait', 'active', 'delayed', 'prioritized');
      if (counts.delayed === campaigns && !counts.wait && !counts.active && !counts.prioritized) return;
      if (Date.now() > deadline) throw new Error(`poll ticks did not settle: ${JSON.stringify(counts)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await worker.close();
  }
}
