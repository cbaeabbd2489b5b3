import type { AppContext } from '../context.js';
import { MAX_PENALTY_MS } from '../limiter/types.js';
import { pacingDeferrals } from '../metrics.js';
import { createLogThrottle } from '../log-throttle.js';
import { evalScript } from '../redis-script.js';

/**
 * Why a poll's pacing step did not run (turn.ts), as a bounded metric label: one value per distinct
 * case in the code, never the free-text reason (which names commands).
 *  - command_running: a command held the campaign's lifecycle lock when the poll came to its step;
 *  - changed_since_read: a command wrote the campaign between the poll's read and its turn;
 *  - command_queued: another command is still to run in the campaign's order;
 *  - command_accepted_ahead: one was accepted between the turn's read of the order and pacing's
 *    enqueue (the registration refused pacing's change);
 *  - turn_lapsed: the turn's lease lapsed before its first write (a stalled process);
 *  - own_change_pending: pacing's own previous change is still queued or running (the turn's
 *    `waiting`): not a deferral in turn.ts's words, but the campaign is just as unpaced while it lasts,
 *    and it is what an adjust worker that is down or a stuck adjust job looks like after pacing's first
 *    change.
 * A campaign found ended or gone by the turn is not counted: that is its end, not a hold-up.
 */
export const DEFERRAL_CAUSES = [
  'command_running',
  'changed_since_read',
  'command_queued',
  'command_accepted_ahead',
  'turn_lapsed',
  'own_change_pending',
] as const;
export type DeferralCause = (typeof DEFERRAL_CAUSES)[number];

/** An episode of consecutive deferrals of one campaign, as kept in Redis. */
export interface DeferralTally {
  /** Deferred polls in a row. */
  polls: number;
  /** When the episode's first deferral was noted (ctx.clock ms). */
  sinceMs: number;
  /** Whether the episode was already warned of. */
  warned: boolean;
}

/**
 * When an episode deserves a warning: deferred at least `polls` polls in a row AND for at least
 * `spanMs`. Healthy commands hold a campaign for seconds (a CXone read and write or two; a lock lease is
 * 30 s at most), so even a burst of them meets one or two polls; 3 minutes is past the controller's
 * 2-minute cooldown, so by then it has missed at least one step it would have taken, and the campaign is
 * dialing on its last rate with only the abandonment guard's cap and pause over it. Both conditions,
 * because the poll interval varies: at the default 15 s the span decides (12 polls); with intervals
 * stretched by the stats budget (minutes per poll) three polls in a row still show it is no accident.
 */
export const DEFERRAL_WARN_AFTER = { polls: 3, spanMs: 3 * 60_000 } as const;

/**
 * The same for a campaign whose current deferral is pacing's own change still on its way
 * (own_change_pending): the controller has acted, and its change waits in the adjust queue. A healthy
 * adjust worker may wait out a CXone 429 penalty on the campaign endpoints for up to MAX_PENALTY_MS
 * (its jobs wait without a bound), while the polls, on the stats endpoint, go on every 15 s: under a
 * busy budget every campaign pacing just changed would be warned of at 3 minutes. Past the longest
 * penalty (and the 3 minutes beyond it) no healthy worker explains it: it is down or its job is stuck.
 */
export const OWN_CHANGE_WARN_AFTER = {
  polls: DEFERRAL_WARN_AFTER.polls,
  spanMs: MAX_PENALTY_MS + DEFERRAL_WARN_AFTER.spanMs,
} as const;

/** The threshold that applies to a deferral of this cause. */
export function warnAfterFor(cause: DeferralCause): { polls: number; spanMs: number } {
  return cause === 'own_change_pending' ? OWN_CHANGE_WARN_AFTER : DEFERRAL_WARN_AFTER;
}

/** Whether this deferral is the one to warn at: once per episode, never before the threshold. Pure. */
export function deferralWarningDue(
  tally: DeferralTally,
  nowMs: number,
  after: { polls: number; spanMs: number } = DEFERRAL_WARN_AFTER,
): boolean {
  return !tally.warned && tally.polls >= after.polls && nowMs - tally.sinceMs >= after.spanMs;
}

/**
 * The episode's key, fleet-wide because the polls of one campaign run on whichever worker takes the
 * tick. A key of its own, not a field of the campaign record's `pacing`: a deferral is by definition a
 * moment when pacing does not hold the campaign's lock, and `pacing` is written whole under that lock
 * (recordCarriedSafeStart, pacing's own steps) and compared by the turn (changeSinceRead) — a count
 * written there would race the command's memory and defer the next poll itself. The key exists only
 * during an episode (deleted as soon as pacing runs, expiring on its own otherwise), so a campaign paced
 * normally keeps nothing, and the fleet's per-campaign memory is unchanged.
 */
export function deferralKey(ctx: Pick<AppContext, 'keys'>, campaignId: string): string {
  return ctx.keys.custom('pacing', 'deferred', campaignId);
}

/**
 * Longer than any poll interval the budget stretches to, so consecutive deferrals of a slowly polled
 * campaign still add up; short enough that an episode nothing closed (closeDeferralEpisode's failure)
 * does not outlive the day.
 */
export const DEFERRAL_TALLY_TTL_MS = 6 * 3600_000;

// Counts one deferral, starting the episode at ARGV[1] if none is open; returns {polls, since, warned}.
const NOTE = `
redis.call('HSETNX', KEYS[1], 's', ARGV[1])
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {n, redis.call('HGET', KEYS[1], 's'), redis.call('HGET', KEYS[1], 'w') or ''}
`;

/** Parses the stored hash (HGETALL), or null when no episode is open. Pure. */
export function parseDeferralTally(raw: Record<string, string> | null | undefined): DeferralTally | null {
  if (!raw || raw.n === undefined || raw.s === undefined) return null;
  return { polls: Number(raw.n), sinceMs: Number(raw.s), warned: raw.w === '1' };
}

/** The open episode of the campaign, or null (read by the turn in the round trip of its record). */
export async function readDeferralTally(ctx: AppContext, campaignId: string): Promise<DeferralTally | null> {
  return parseDeferralTally(await ctx.redis.hgetall(deferralKey(ctx, campaignId)));
}

/**
 * One poll's pacing step did not run: counted (cxo_pacing_deferrals_total), added to the campaign's
 * episode, and warned of once the episode crosses its threshold (warnAfterFor). Two polls of one
 * campaign can overlap (the poll lease lapses when a poll waits past it in the fleet limiter after its
 * renewal, e.g. for the resync read), so the warning is claimed with HSETNX: only one of them warns.
 * Best-effort: its failure is logged, never fails the poll.
 */
export async function noteDeferral(
  ctx: AppContext,
  campaignId: string,
  cause: DeferralCause,
  detail: string,
): Promise<void> {
  pacingDeferrals.inc({ reason: cause });
  try {
    const nowMs = ctx.clock.now();
    const key = deferralKey(ctx, campaignId);
    const [polls, since, warned] = (await evalScript(
      ctx.redis,
      NOTE,
      1,
      key,
      String(nowMs),
      String(DEFERRAL_TALLY_TTL_MS),
    )) as [number, string, string];
    const tally: DeferralTally = { polls: Number(polls), sinceMs: Number(since), warned: warned === '1' };
    if (!deferralWarningDue(tally, nowMs, warnAfterFor(cause))) return;
    if ((await ctx.redis.hsetnx(key, 'w', '1')) === 0) return;
    ctx.logger.warn(
      {
        campaignId,
        polls: tally.polls,
        since: new Date(tally.sinceMs).toISOString(),
        forMs: nowMs - tally.sinceMs,
        reason: cause,
        detail,
      },
      'pacing deferred poll after poll: the campaign is not paced (only the abandonment guard caps it)',
    );
  } catch (err) {
    warnTallyFailure(ctx, campaignId, err, 'pacing deferral could not be tallied', { reason: cause });
  }
}

/**
 * Pacing's step ran (or the campaign ended): the open episode, if any, is over. An episode that was
 * warned of is told of its end at info. Best-effort, as noteDeferral.
 */
export async function endDeferralEpisode(
  ctx: AppContext,
  campaignId: string,
  tally: DeferralTally,
  how: 'paced' | 'ended',
): Promise<void> {
  try {
    await ctx.redis.del(deferralKey(ctx, campaignId));
    logEpisodeEnd(ctx, campaignId, tally, EPISODE_END_MESSAGES[how]);
  } catch (err) {
    warnTallyFailure(ctx, campaignId, err, 'pacing deferral episode could not be closed');
  }
}

/**
 * The campaign's open episode, if any, is over without a step of pacing: a poll found the campaign
 * paused and took no turn (it dials nothing, so nothing goes unpaced, and a deferral after its resume
 * hours later is no continuation of this one), or its polling stopped (ended, gone: nothing reads the
 * episode again). Read and deleted in one step; a warned episode is told of its end at info.
 * Best-effort, as noteDeferral.
 */
export async function closeDeferralEpisode(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'clock' | 'logger'>,
  campaignId: string,
  how: 'paused' | 'stopped',
): Promise<void> {
  try {
    const replies = await ctx.redis
      .multi()
      .hgetall(deferralKey(ctx, campaignId))
      .del(deferralKey(ctx, campaignId))
      .exec();
    const tally = parseDeferralTally(replies?.[0]?.[1] as Record<string, string> | undefined);
    if (tally) logEpisodeEnd(ctx, campaignId, tally, EPISODE_END_MESSAGES[how]);
  } catch (err) {
    warnTallyFailure(ctx, campaignId, err, 'pacing deferral episode could not be closed');
  }
}

const EPISODE_END_MESSAGES = {
  paced: 'pacing runs again after consecutive deferrals',
  ended: 'campaign ended while its pacing was deferred',
  paused: 'campaign paused while its pacing was deferred',
  stopped: 'polling stopped while its pacing was deferred',
} as const;

/** The end of an episode is told (at info) only when its start was: a warned episode. */
function logEpisodeEnd(
  ctx: Pick<AppContext, 'clock' | 'logger'>,
  campaignId: string,
  tally: DeferralTally,
  message: string,
): void {
  if (!tally.warned) return;
  ctx.logger.info(
    {
      campaignId,
      polls: tally.polls,
      since: new Date(tally.sinceMs).toISOString(),
      forMs: ctx.clock.now() - tally.sinceMs,
    },
    message,
  );
}

/** At most one warn per campaign and error every this long, saying how many were left out. */
export const TALLY_FAILURE_WARN_INTERVAL_MS = 5 * 60_000;
// The clock read at each call (not Date.now bound at load), so a test's fake clock applies.
const tallyFailureWarnings = createLogThrottle(TALLY_FAILURE_WARN_INTERVAL_MS, () => Date.now());

/**
 * A failed read or write of a campaign's deferral tally, logged at warn but throttled: the tally is
 * bookkeeping beside pacing, and a failure that repeats at every poll (a key of the wrong type, which
 * nothing deletes while its own reads fail) would otherwise log a line per poll for ever.
 */
export function warnTallyFailure(
  ctx: Pick<AppContext, 'logger'>,
  campaignId: string,
  err: unknown,
  message: string,
  fields: Record<string, unknown> = {},
): void {
  const text = err instanceof Error ? err.message : String(err);
  tallyFailureWarnings(`${campaignId}\n${message}\n${text}`, (suppressed) =>
    ctx.logger.warn({ err, campaignId, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, message),
  );
}
