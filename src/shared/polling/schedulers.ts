import type { JobSchedulerJson } from 'bullmq';
import { DEFAULT_POLL_INTERVAL_MS } from '../campaign-config.js';
import type { AppContext } from '../context.js';
import { CampaignStore, UnknownCampaignError } from '../campaign-store.js';
import { pollIntervalFloor, polledCampaigns } from '../metrics.js';
import { CXONE_BACKOFF_TYPE, POLL_ATTEMPTS } from '../../workers/worker-options.js';
import { waitForLease, type Lease } from './lease.js';
import { budgetTier, minPollIntervalMs, nextBudgetTier } from './budget.js';
import { closeDeferralEpisode } from '../pacing/deferrals.js';

/**
 * One BullMQ job scheduler per polled campaign, id `poll:<campaignId>`. Schedulers live in Redis,
 * so a fleet restart keeps them, and upsert is idempotent, so calling ensurePolling again after a
 * restart (or from two workers at once) never creates a second one.
 *
 * The polled campaigns and the interval each asked for are kept in one hash. Every campaign is
 * polled at max(desired, floor), where the floor is what the stats endpoint's budget allows for the
 * campaign count rounded up to its budget tier (budget.ts): adding a campaign stretches everyone's
 * interval instead of growing a backlog in the limiter, but only when the count crosses a tier
 * boundary, so an activation costs a handful of Redis calls, not one per polled campaign.
 *
 * The scheduler's template is kept minimal because every campaign carries it twice (the scheduler
 * and its next job): no data (the campaign id is the scheduler id) and only attempts + backoff in
 * the options; retention of finished poll jobs is the poll worker's (worker-options.ts).
 */
export const POLL_JOB_NAME = 'poll';

const SCHEDULER_PREFIX = 'poll:';

export function pollSchedulerId(campaignId: string): string {
  return `${SCHEDULER_PREFIX}${campaignId}`;
}

/** The campaign a scheduler id belongs to, or null for an id that is not a poll scheduler's. */
export function campaignIdOfScheduler(schedulerId: string | undefined): string | null {
  if (!schedulerId?.startsWith(SCHEDULER_PREFIX) || schedulerId.length === SCHEDULER_PREFIX.length) {
    return null;
  }
  return schedulerId.slice(SCHEDULER_PREFIX.length);
}

/**
 * The campaign a poll job is for: its scheduler's id (jobs from current schedulers carry no data), or
 * `data.campaignId` for jobs added by hand and jobs from schedulers written by an older release.
 */
export function campaignIdOfPollJob(job: { data?: unknown; repeatJobKey?: string }): string | null {
  const data = job.data as { campaignId?: unknown } | null | undefined;
  if (typeof data?.campaignId === 'string' && data.campaignId.length > 0) return data.campaignId;
  return campaignIdOfScheduler(job.repeatJobKey);
}

/** Options stored on every poll scheduler's template (and so on each job it creates). */
export const POLL_TEMPLATE_OPTS = { attempts: POLL_ATTEMPTS, backoff: { type: CXONE_BACKOFF_TYPE } };

function activeKey(ctx: Pick<AppContext, 'keys'>): string {
  return ctx.keys.custom('polling', 'active');
}

/** `tier` (campaign count the floor is computed for) and `floorMs` in force; see rebalance(). */
function metaKey(ctx: Pick<AppContext, 'keys'>): string {
  return ctx.keys.custom('polling', 'meta');
}

type PollingContext = Pick<AppContext, 'config' | 'redis' | 'keys' | 'queues' | 'logger' | 'clock'>;

interface BudgetState {
  count: number;
  tier: number | null;
  floorMs: number | null;
}

/**
 * The tier a schedule is floored at without the rebalance lock: the larger of the recorded tier and
 * the count's, which never overruns the budget.
 */
function unlockedTier(state: BudgetState): number {
  return Math.max(state.tier ?? 1, budgetTier(state.count));
}

/**
 * Starts (or re-affirms) polling of a campaign. `desiredIntervalMs` defaults to what was asked for
 * before, else the campaign's `pacing.pollIntervalMs`, else 15 s. Costs O(1) Redis calls unless the
 * campaign count crosses a budget tier, which rewrites the schedulers whose interval changes.
 */
export async function ensurePolling(
  ctx: PollingContext,
  campaignId: string,
  desiredIntervalMs?: number,
): Promise<void> {
  const desired = desiredIntervalMs ?? (await storedDesired(ctx, campaignId));
  await withRebalanceLock(ctx, async (lease) => {
    await ctx.redis.hset(activeKey(ctx), campaignId, String(desired));
    const state = await readBudgetState(ctx);
    const touched = { touched: true, verify: true, count: state.count };
    if (lease === null) {
      // Someone else is rebalancing (or died holding the lock): schedule this campaign alone, at the
      // floor of the larger of the recorded tier and the count's, which never overruns the budget;
      // the next tier change brings it in line with the others.
      const tier = unlockedTier(state);
      await applyInterval(ctx, campaignId, desired, floorFor(ctx, tier), touched);
      // The others still poll at the recorded tier's floor: past it, the next holder of the lock
      // rebalances them all (no floor recorded means a full rebalance).
      if (tier > (state.tier ?? 0)) await ctx.redis.hdel(metaKey(ctx), 'floorMs');
      return;
    }
    const tier = nextBudgetTier(state.count, state.tier);
    if (state.floorMs === null || needsRebalance(ctx, state.tier, state.floorMs, tier)) {
      await rebalance(ctx, { tier, previousFloorMs: state.floorMs, touched: campaignId, lease });
      return;
    }
    publishMetrics(state.count, state.floorMs);
    await applyInterval(ctx, campaignId, desired, state.floorMs, touched);
  });
}

/** Stops polling a campaign (completed, cancelled, deleted); the others may now poll faster. */
export async function stopPolling(ctx: PollingContext, campaignId: string): Promise<void> {
  const removed = await ctx.redis.hdel(activeKey(ctx), campaignId);
  await ctx.queues.poll.removeJobScheduler(pollSchedulerId(campaignId));
  // The record stops saying "polling every …" (GET /v1/campaigns/{id}, `cxo status`).
  await new CampaignStore(ctx).clear(campaignId, ['polling']);
  // Nothing will take a turn on it any more: its pacing deferral episode, if one is open, goes too.
  await closeDeferralEpisode(ctx, campaignId, 'stopped');
  if (removed === 0) return;
  ctx.logger.info({ campaignId }, 'polling stopped');
  await withRebalanceLock(ctx, async (lease) => {
    // Without the lock the others keep their (longer, so budget-safe) intervals until the next call.
    if (lease === null) return;
    await rebalanceIfNeeded(ctx, lease);
  });
}

/**
 * Brings the polled campaigns' schedulers to the budget this process is configured for, when the
 * fleet's recorded floor is not that budget's: a fleet restarted with another
 * `CXONE_RATE_LIMIT_PER_MIN` or `CXONE_RATE_LIMIT_WINDOW_MS` (lowered, every campaign went on polling
 * at the old, shorter interval until some campaign's activation or end — the scheduled polls alone
 * overran the stats budget, kept the poll worker's jobs waiting in the limiter and left nothing of
 * the 20% kept for others), or a rebalance that died half-way (no floor recorded). The poll worker
 * runs it as it starts. With nothing off, the lock and two reads; with no campaign polled, one read.
 */
export async function reconcilePolling(ctx: PollingContext): Promise<void> {
  if ((await ctx.redis.hlen(activeKey(ctx))) === 0) return;
  await withRebalanceLock(ctx, async (lease) => {
    // Held by another process: it is rebalancing, or will check when its own call ends.
    if (lease === null) return;
    await rebalanceIfNeeded(ctx, lease);
  });
}

/** Rebalances when the tier changed, no floor is recorded, or the one recorded is another budget's. */
async function rebalanceIfNeeded(ctx: PollingContext, lease: Lease): Promise<void> {
  const state = await readBudgetState(ctx);
  const tier = nextBudgetTier(state.count, state.tier);
  if (state.floorMs === null || needsRebalance(ctx, state.tier, state.floorMs, tier)) {
    await rebalance(ctx, { tier, previousFloorMs: state.floorMs, lease });
  } else {
    publishMetrics(state.count, state.floorMs);
  }
}

/** Campaigns being polled and the interval each asked for. */
export async function listPolledCampaigns(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
): Promise<Map<string, number>> {
  const raw = await ctx.redis.hgetall(activeKey(ctx));
  return new Map(Object.entries(raw).map(([id, ms]) => [id, Number(ms)]));
}

/**
 * Brings every scheduler to the interval the budget allows for the current number of polled
 * campaigns, reading each one back (a repair after manual changes, or a first run after an upgrade).
 * Only schedulers whose interval or template differs are rewritten, each keeping its phase (nextPollRunAt).
 */
export async function rebalancePolling(ctx: PollingContext): Promise<void> {
  await withRebalanceLock(ctx, async (lease) => {
    const state = await readBudgetState(ctx);
    const tier = nextBudgetTier(state.count, state.tier);
    await rebalance(ctx, { tier, previousFloorMs: null, lease });
  });
}

const LOCK_TTL_MS = 10_000;
/** Long enough to wait out a tier change rewriting ten thousand schedulers. */
const LOCK_WAIT_MS = 30_000;
/** Schedulers rewritten at once during a rebalance (pipelined on the shared connection). */
const REBALANCE_CONCURRENCY = 32;

/**
 * Serialized across the fleet: two processes deciding from different campaign counts could otherwise
 * leave some schedulers at the interval the older count allowed.
 */
async function withRebalanceLock(
  ctx: PollingContext,
  fn: (lease: Lease | null) => Promise<void>,
): Promise<void> {
  const lease = await waitForLease(ctx.redis, ctx.keys.lock('polling-rebalance'), LOCK_TTL_MS, LOCK_WAIT_MS);
  if (lease === null) {
    // A holder that died keeps the key for at most LOCK_TTL_MS; the callers fall back to a
    // budget-safe action of their own rather than fail an activation.
    ctx.logger.warn({ waitedMs: LOCK_WAIT_MS }, 'poll rebalance lock busy; going ahead without it');
  }
  try {
    await fn(lease);
  } finally {
    await lease?.release();
  }
}

async function readBudgetState(ctx: PollingContext): Promise<BudgetState> {
  const [count, [tier, floorMs]] = await Promise.all([
    ctx.redis.hlen(activeKey(ctx)),
    ctx.redis.hmget(metaKey(ctx), 'tier', 'floorMs'),
  ]);
  const num = (v: string | null | undefined) => (v && Number(v) > 0 ? Number(v) : null);
  return { count, tier: num(tier), floorMs: num(floorMs) };
}

/**
 * Whether the schedulers must be rewritten (besides when no floor is recorded: a first run, or a
 * campaign scheduled without the lock past the recorded tier): the tier changed, or the floor
 * recorded is not this tier's under the rate limit configured now (CXONE_RATE_LIMIT_PER_MIN changed
 * since it was written: lowered, every campaign would keep polling at the old, too short interval).
 */
function needsRebalance(
  ctx: PollingContext,
  recordedTier: number | null,
  recordedFloorMs: number,
  tier: number,
): boolean {
  return tier !== recordedTier || recordedFloorMs !== floorFor(ctx, tier);
}

function floorFor(ctx: PollingContext, tier: number): number {
  return minPollIntervalMs({
    perWindow: ctx.config.cxone.rateLimitPerWindow,
    windowMs: ctx.config.cxone.rateLimitWindowMs,
    activeCampaigns: tier,
  });
}

/**
 * Sets the polling gauges from what Redis holds, for a scrape: they are otherwise set only when this
 * process changes the set of polled campaigns, so a restarted process (or one that never polled)
 * would report 0 while the fleet polls.
 */
export async function refreshPollingMetrics(ctx: PollingContext): Promise<void> {
  const state = await readBudgetState(ctx);
  // No floor recorded (a rebalance under way clears it first; an activation without the lock past the
  // recorded tier clears it; a fleet that never polled has none): the floor in force is the one new
  // schedules get without the lock (unlockedTier, as in ensurePolling). Read as 0,
  // the gauge said "nothing stretched" for the whole of a large rebalance, and read differently with
  // no campaign polled depending on whether one ever was.
  const floorMs = state.floorMs ?? floorFor(ctx, unlockedTier(state));
  publishMetrics(state.count, floorMs);
}

function publishMetrics(count: number, floorMs: number): void {
  polledCampaigns.set(count);
  pollIntervalFloor.set(floorMs / 1000);
}

/**
 * Moves every polled campaign to the floor of `tier`. With `previousFloorMs` known, a campaign whose
 * effective interval is the same under both floors is not touched at all (no Redis call); without it
 * each scheduler is read back and compared. The recorded floor is cleared first and written last, so
 * a rebalance that dies half-way makes the next one verify every scheduler.
 */
async function rebalance(
  ctx: PollingContext,
  opts: { tier: number; previousFloorMs: number | null; touched?: string; lease: Lease | null },
): Promise<void> {
  const floorMs = floorFor(ctx, opts.tier);
  await ctx.redis.hdel(metaKey(ctx), 'floorMs');
  const active = await listPolledCampaigns(ctx);
  publishMetrics(active.size, floorMs);
  const previous = opts.previousFloorMs;
  const due = [...active].filter(
    ([id, desired]) =>
      previous === null || id === opts.touched || Math.max(desired, previous) !== Math.max(desired, floorMs),
  );
  const stretched = [...active.values()].filter((desired) => desired < floorMs).length;
  const summary = {
    campaigns: active.size,
    tier: opts.tier,
    floorMs,
    previousFloorMs: previous,
    rewriting: due.length,
    stretched,
  };
  // Warned when the budget now makes campaigns poll slower than they asked (once per tier change).
  if (stretched > 0 && (previous === null || floorMs > previous)) {
    ctx.logger.warn(
      summary,
      'poll intervals stretched to stay within the stats endpoint budget; rebalancing',
    );
  } else {
    ctx.logger.info(summary, 'poll budget tier changed; rebalancing schedulers');
  }
  for (let i = 0; i < due.length; i += REBALANCE_CONCURRENCY) {
    await Promise.all(
      due.slice(i, i + REBALANCE_CONCURRENCY).map(([id, desired]) =>
        applyInterval(ctx, id, desired, floorMs, {
          touched: id === opts.touched,
          // With the previous floor known, a due scheduler's interval is known to differ.
          verify: previous === null || id === opts.touched,
          count: active.size,
        }),
      ),
    );
    // A rebalance of many thousands of schedulers may outlast the lock's ttl.
    if (opts.lease && i % (REBALANCE_CONCURRENCY * 16) === 0) await opts.lease.renew();
  }
  // Campaigns added meanwhile without the lock (it was held too long for them) count too: past this
  // tier, the rewrite goes on at the next one before the floor is recorded.
  const needed = nextBudgetTier(await ctx.redis.hlen(activeKey(ctx)), opts.tier);
  if (needed > opts.tier) {
    await rebalance(ctx, { ...opts, tier: needed, previousFloorMs: floorMs });
    return;
  }
  await ctx.redis.hset(metaKey(ctx), 'tier', String(opts.tier), 'floorMs', String(floorMs));
}

/** A stable spot in [0, everyMs) for a campaign: new schedulers' first runs spread over the interval. */
export function campaignPhaseMs(campaignId: string, everyMs: number): number {
  // FNV-1a: cheap, stable across processes and releases, and well spread for similar ids.
  let hash = 0x811c9dc5;
  for (let i = 0; i < campaignId.length; i += 1) {
    hash ^= campaignId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % everyMs;
}

/**
 * When a scheduler written with interval `everyMs` should next run. BullMQ restarts an `every`
 * scheduler at "now" when its interval changes (and starts a new one at "now"), so a rebalance would
 * fire every rewritten campaign's poll at once and leave them all on one phase; the result is passed
 * as `startDate` instead. Always in (now, now + everyMs], except an unchanged interval, which keeps
 * its next run:
 * - an existing scheduler runs `everyMs` after its last run (its next run minus the old interval),
 *   so a longer interval takes effect at once and the relative phases of the campaigns are kept;
 * - when that is already past (a shorter interval), its pending next run is folded into the new
 *   interval: the spread of the old next runs over the old interval becomes one over the new one;
 * - a new scheduler starts at its campaign's phase within the interval (campaignPhaseMs).
 */
export function nextPollRunAt(input: {
  nowMs: number;
  everyMs: number;
  campaignId: string;
  existing?: { next?: number | null; every?: number | null } | null;
}): number {
  const { nowMs, everyMs } = input;
  const next = input.existing?.next;
  const previousEvery = input.existing?.every;
  if (typeof next !== 'number' || !Number.isFinite(next)) {
    return nowMs + (campaignPhaseMs(input.campaignId, everyMs) || everyMs);
  }
  if (previousEvery === everyMs) return next;
  // A next run already due is being (or about to be) run: it counts as the last one.
  const lastRun = next <= nowMs || !previousEvery ? Math.min(next, nowMs) : next - previousEvery;
  const following = lastRun + everyMs;
  if (following > nowMs) return Math.min(following, nowMs + everyMs);
  const folded = (((next - nowMs) % everyMs) + everyMs) % everyMs;
  return nowMs + (folded || everyMs);
}

function isCurrentTemplate(existing: JobSchedulerJson): boolean {
  const template = existing.template;
  if (template?.data && Object.keys(template.data as object).length > 0) return false;
  return JSON.stringify(template?.opts ?? {}) === JSON.stringify(POLL_TEMPLATE_OPTS);
}

/**
 * Upserts one campaign's scheduler at max(desired, floor); with `verify`, reads it first and leaves
 * it alone when it already runs at that interval with the current template.
 */
async function applyInterval(
  ctx: PollingContext,
  campaignId: string,
  desired: number,
  floorMs: number,
  opts: { touched: boolean; verify: boolean; count: number },
): Promise<void> {
  const every = Math.max(desired, floorMs);
  const store = new CampaignStore(ctx);
  const id = pollSchedulerId(campaignId);
  // Read even when the interval is known to differ: its next run is what keeps the campaign's phase.
  const existing = await ctx.queues.poll.getJobScheduler(id);
  if (opts.verify && existing?.every === every && isCurrentTemplate(existing)) {
    if (opts.touched) await recordInterval(store, campaignId, every, desired);
    return;
  }
  // BullMQ schedules on the wall clock, whatever clock the context carries.
  const startDate = nextPollRunAt({ nowMs: Date.now(), everyMs: every, campaignId, existing });
  // The offset is what BullMQ realigns to after missed runs; the one stored for the old interval
  // would otherwise be kept.
  const offset = startDate % every;
  await ctx.queues.poll.upsertJobScheduler(
    id,
    { every, startDate, ...(offset > 0 ? { offset } : {}) },
    { name: POLL_JOB_NAME, data: {}, opts: POLL_TEMPLATE_OPTS },
  );
  // Stopped meanwhile (stopPolling takes no lock): its removal may have run before this upsert, which
  // would bring the scheduler back for a campaign no longer polled. The set of polled campaigns decides.
  if (!(await ctx.redis.hexists(activeKey(ctx), campaignId))) {
    await ctx.queues.poll.removeJobScheduler(id);
    return;
  }
  // One line for the campaign being (re)scheduled; the others a rebalance rewrites are summed up in
  // one line by rebalance(), not one each (a ramp-up would log the square of the campaign count).
  const stretched =
    every > desired ? { desiredIntervalMs: desired, activeCampaigns: opts.count, floorMs } : {};
  if (opts.touched) {
    ctx.logger.info(
      { campaignId, effectiveIntervalMs: every, ...stretched },
      every > desired
        ? 'polling scheduled, interval stretched to stay within the stats endpoint budget'
        : 'polling scheduled',
    );
  } else {
    ctx.logger.debug({ campaignId, effectiveIntervalMs: every, ...stretched }, 'poll interval rewritten');
  }
  await recordInterval(store, campaignId, every, desired);
}

async function recordInterval(
  store: CampaignStore,
  campaignId: string,
  effectiveIntervalMs: number,
  desiredIntervalMs: number,
): Promise<void> {
  try {
    await store.patch(campaignId, { polling: { effectiveIntervalMs, desiredIntervalMs } });
  } catch (err) {
    // A campaign polled before its record exists (tests, manual scheduling) still gets polled.
    if (!(err instanceof UnknownCampaignError)) throw err;
  }
}

async function storedDesired(ctx: PollingContext, campaignId: string): Promise<number> {
  const previous = await ctx.redis.hget(activeKey(ctx), campaignId);
  if (previous !== null && Number(previous) > 0) return Number(previous);
  const record = await new CampaignStore(ctx).get(campaignId);
  return record?.config.pacing?.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
}
