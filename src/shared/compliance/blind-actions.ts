import type { CampaignConfig } from '../campaign-config.js';
import { createCampaignStore, type CampaignRecord } from '../campaign-store.js';
import type { AppContext } from '../context.js';
import type { CampaignStats } from '../cxone/wire.js';
import { enqueueCommand, getCommand } from '../lifecycle/enqueue.js';
import { LimiterClosedError } from '../limiter/types.js';
import { campaignLockKey } from '../lifecycle/lock.js';
import { isFinal } from '../lifecycle/state-machine.js';
import { waitForLease } from '../polling/lease.js';
import { evalScript } from '../redis-script.js';
import {
  blindPauseDecision,
  blindResumeDecision,
  describePollError,
  noteFailedPoll,
  summarizePollError,
  type BlindWatch,
  type PollErrorSummary,
} from './blind.js';
import { RESUME_CLOSE_MARGIN_MS } from './command-guard.js';
import { REASON_WINDOW, windowClaims, windowView } from './enforcement.js';
import { evaluateAbandonmentGuard } from './guard.js';
import { COMPLIANCE_ACTOR, OUTSIDE, recordComplianceAction, RESUMED_OUTSIDE } from './record.js';
import {
  complianceKeys,
  getBlindWatch,
  getWindowState,
  readGuardState,
  setBlindWatch,
} from './state-store.js';
import { isWithinWindow } from './windows.js';

/** The reason of the guard's blind pause and of its resume (commands, audit records, events). */
export const REASON_BLIND = 'abandonment-guard-blind';

const RULE = 'abandonment-guard-blind';
const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * A statistics poll of the campaign failed: counted in Redis (so a restarted worker goes on counting),
 * and once an active campaign has had no statistics read for `guardBlindPauseAfterMs` it is paused
 * through the lifecycle, as the guard's own pauses are (blind.ts says when). Only the failure path
 * pays for this; a successful poll writes nothing here. Never throws: the caller rethrows the poll's
 * own failure, which must reach BullMQ as it was.
 */
export async function noteFailedStatsPoll(
  ctx: AppContext,
  record: Pick<CampaignRecord, 'campaignId' | 'status' | 'config' | 'lastStats'>,
  err: unknown,
  /** The poll job's attempt: its retries are the same tick, counted once (blind.ts noteFailedPoll). */
  attempt = 1,
  /** The poll job's id: its re-runs after a 429 (attempt 1 again) are the same tick too. */
  tick?: string,
  /** `reread`: the poll lost its lease meanwhile; counted on the record as it reads now. */
  opts: { reread?: boolean } = {},
): Promise<void> {
  // This process shutting down cut the call short: CXone was not asked, nothing failed.
  if (err instanceof LimiterClosedError) return;
  const { campaignId } = record;
  await countUnderLock(ctx, campaignId, async () => {
    const current = opts.reread ? ((await createCampaignStore(ctx).get(campaignId)) ?? record) : record;
    await countFailedPoll(ctx, current, summarizePollError(err), attempt, tick);
  });
}

/**
 * A statistics poll whose answer came back after its lease had gone to another tick (the stats call
 * waited past the lease in the fleet limiter): that tick acts on the campaign, so this answer is not
 * used, and the guard saw nothing by it. Counted as a failed poll (`late`), unless the statistics were
 * read since this poll began (`startedOkAt`, the record's `lastStats.at` then): that read is the
 * guard's view, nobody was blind. Without this, a fleet starved of CXone budget — every stats call
 * waiting past the lease, every answer finding the next tick in its place — never counted a poll and
 * its campaigns dialed on unmeasured. Never throws.
 */
export async function noteLateStatsPoll(
  ctx: AppContext,
  campaignId: string,
  startedOkAt: string | null,
  waitedMs: number,
  attempt = 1,
  tick?: string,
): Promise<void> {
  await countUnderLock(ctx, campaignId, async () => {
    // Read under the lock: the tick holding the campaign may have read the statistics meanwhile.
    const record = await createCampaignStore(ctx).get(campaignId);
    if (record === null || (record.lastStats?.at ?? null) !== startedOkAt) return;
    await countFailedPoll(ctx, record, { kind: 'late', waitedMs: Math.max(0, waitedMs) }, attempt, tick);
  });
}

/** How long the watch's lock is held at most, and waited for (its holders do a few Redis calls). */
const WATCH_LOCK_MS = 15_000;
const WATCH_LOCK_WAIT_MS = 5_000;

/**
 * The blind watch is read, changed and written whole, and a pause decided on it: a poll whose answer
 * came late counts beside the tick holding the poll's lease (noteLateStatsPoll), so every writer of it
 * takes this lock, else two at once lost a count (or a settled pause came back), or each read no
 * pause and each issued one. False when it stayed taken; `fn`'s failure is thrown.
 */
async function withWatchLock(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
  campaignId: string,
  fn: () => Promise<void>,
): Promise<boolean> {
  const lock = await waitForLease(
    ctx.redis,
    ctx.keys.lock(`blind:${campaignId}`),
    WATCH_LOCK_MS,
    WATCH_LOCK_WAIT_MS,
  );
  if (lock === null) return false;
  try {
    await fn();
    return true;
  } finally {
    await lock.release();
  }
}

/** A failed (or late) poll counted under the watch's lock; logged, never thrown (the poll's own outcome stands). */
async function countUnderLock(ctx: AppContext, campaignId: string, fn: () => Promise<void>): Promise<void> {
  try {
    if (!(await withWatchLock(ctx, campaignId, fn))) {
      ctx.logger.warn(
        { campaignId },
        'the abandonment guard’s blind watch stayed locked: this statistics poll is not counted',
      );
    }
  } catch (noteErr) {
    ctx.logger.error(
      { err: noteErr, campaignId },
      'could not count the failed statistics poll for the abandonment guard’s blind pause',
    );
  }
}

async function countFailedPoll(
  ctx: AppContext,
  record: Pick<CampaignRecord, 'campaignId' | 'status' | 'config' | 'lastStats'>,
  error: PollErrorSummary,
  attempt: number,
  tick: string | undefined,
): Promise<void> {
  const { campaignId } = record;
  const nowMs = ctx.clock.now();
  const watch = noteFailedPoll(
    await getBlindWatch(ctx, campaignId),
    record.lastStats?.at ?? null,
    nowMs,
    error,
    attempt > 1,
    tick,
  );
  await setBlindWatch(ctx, campaignId, watch);
  // Not dialing as far as the orchestrator knows: nothing to pause, and nothing more to read.
  if (record.status !== 'active') return;
  const [win, guard, command] = await Promise.all([
    getWindowState(ctx, campaignId),
    readGuardState(ctx, campaignId),
    watch.pause ? getCommand(ctx, watch.pause.commandId) : Promise.resolve(null),
  ]);
  const afterMs = ctx.config.guardBlindPauseAfterMs;
  const decision = blindPauseDecision({
    watch,
    nowMs,
    afterMs,
    status: record.status,
    ended: guard.state?.endedAtMs !== undefined,
    withinWindow: isWithinWindow(record.config, nowMs),
    windowPaused: windowClaims(win),
    pauseCommand: command?.status,
    pauseFinishedAtMs: command?.finishedAt ? Date.parse(command.finishedAt) : undefined,
  });
  if (decision.kind !== 'pause') return;
  const reissued = decision.reissued;
  const { commandId } = await enqueueCommand(ctx, {
    campaignId,
    actor: COMPLIANCE_ACTOR,
    reason: REASON_BLIND,
    action: 'pause',
  });
  const lastStatsAt = record.lastStats?.at ?? null;
  const next: BlindWatch = {
    ...watch,
    pause: {
      commandId,
      atMs: nowMs,
      lastStatsAt,
      failedPolls: watch.failedPolls,
      lastError: error,
      okAt: watch.okAt,
      ...(reissued ? { reissues: reissued.reissues } : {}),
    },
  };
  await setBlindWatch(ctx, campaignId, next);
  await recordComplianceAction(ctx, {
    campaignId,
    kind: 'guard_blind_pause',
    details: {
      rule: RULE,
      reason:
        `no statistics read for ${Math.round(decision.blindForMs / 1000)} s ` +
        `(${watch.failedPolls} failed polls, the last ${describePollError(error)}): ` +
        `the abandonment guard cannot measure the campaign, so it pauses it until it can`,
      blindForMs: decision.blindForMs,
      pauseAfterMs: afterMs,
      lastStatsAt,
      lastMeasuredAt: iso(guard.state?.lastSeen?.atMs),
      failedPolls: watch.failedPolls,
      lastError: error,
      commandId,
      ...(reissued
        ? { reissued: true, failedCommandId: reissued.failedCommandId, reissues: reissued.reissues }
        : {}),
    },
    dedupeKey: `guard-blind-pause:${campaignId}:${commandId}`,
    ...(reissued ? {} : { event: 'campaign.compliance.paused' as const }),
  });
}

/**
 * A successful poll of a paused campaign: a blind pause of the guard's not yet decided on is decided
 * now (blind.ts blindResumeDecision): resumed through the lifecycle, or left paused, recorded either
 * way, and forgotten. One read (the watch) on a paused campaign's poll; none on an active one's.
 */
export async function settleBlindPause(
  ctx: AppContext,
  input: {
    campaignId: string;
    config: CampaignConfig;
    stats: CampaignStats;
    /** The poll re-read the campaign: it had been changed in CXone since the record's version. */
    changedOutside: boolean;
  },
): Promise<void> {
  const { campaignId } = input;
  if (!(await getBlindWatch(ctx, campaignId))?.pause) return;
  // Read again and decided under the watch's lock: a late poll may be counting meanwhile, and its
  // write of the watch as it read it would bring back a pause settled here. Left to the next poll
  // should the lock stay taken.
  await withWatchLock(ctx, campaignId, () => settleUnderLock(ctx, input));
}

async function settleUnderLock(
  ctx: AppContext,
  input: Parameters<typeof settleBlindPause>[1],
): Promise<void> {
  const { campaignId, stats } = input;
  const watch = await getBlindWatch(ctx, campaignId);
  const pause = watch?.pause;
  if (!watch || !pause) return;
  // Lifted by someone and recorded so (noteBlindPauseLifted): nothing left to decide or record.
  if (pause.liftedBy) {
    const { pause: _lifted, ...rest } = watch;
    await setBlindWatch(ctx, campaignId, rest);
    return;
  }
  const nowMs = ctx.clock.now();
  const [win, guard, command] = await Promise.all([
    getWindowState(ctx, campaignId),
    readGuardState(ctx, campaignId),
    getCommand(ctx, pause.commandId),
  ]);
  // Measured as the guard would on these statistics, without keeping its state: the campaign is
  // paused, and the guard's next poll of it dialing measures and keeps it.
  const measured = evaluateAbandonmentGuard({ config: input.config, state: guard.state, stats, nowMs });
  // The version the pause left, compared with these statistics': the poll's own re-read sees only
  // changes newer than the record, and another read (an API view's refresh, a command's) may have
  // synced one into it first, a resume and a pause made in CXone's console among them.
  const leftAt = command?.result?.version;
  // The resume meets the command guard, which refuses one in the last stretch before a close (and
  // from the firing of a close the window's job paused ahead of): decided there, it failed with the
  // pause forgotten, as a decision outside the window did. Waited out until the open as that is.
  const view = windowView(input.config, nowMs, win.closingAt);
  const closeNear = view.next?.kind === 'close' && view.next.atMs - nowMs < RESUME_CLOSE_MARGIN_MS;
  const decision = blindResumeDecision({
    pause,
    pauseCommand: command?.status,
    pauseWroteStatus: command?.result?.writes.some((w) => w.step === 'status') ?? false,
    ended: guard.state?.endedAtMs !== undefined || isFinal(stats.status),
    changedOutside: input.changedOutside || (leftAt !== undefined && stats.version > leftAt),
    withinWindow: view.within && !closeNear,
    windowPaused: windowClaims(win),
    rate: measured.figures.rate,
    cap: measured.figures.cap,
  });
  if (decision.kind === 'wait') return;
  const details = {
    rule: RULE,
    pauseCommandId: pause.commandId,
    pausedAt: iso(pause.atMs),
    rate: measured.figures.rate,
    answeredCalls: measured.figures.answeredCalls,
    abandonedCalls: measured.figures.abandonedCalls,
    cap: measured.figures.cap,
    period: measured.period.index,
  };
  let resumeCommandId: string | undefined;
  if (decision.kind === 'resume') {
    ({ commandId: resumeCommandId } = await enqueueCommand(ctx, {
      campaignId,
      actor: COMPLIANCE_ACTOR,
      reason: REASON_BLIND,
      action: 'resume',
    }));
  }
  // Forgotten before it is recorded: a record that failed is logged, and must not decide again.
  const { pause: _settled, ...rest } = watch;
  await setBlindWatch(ctx, campaignId, rest);
  if (resumeCommandId !== undefined) {
    await recordComplianceAction(ctx, {
      campaignId,
      cxoneVersion: stats.version,
      kind: 'guard_blind_resume',
      details: {
        ...details,
        commandId: resumeCommandId,
        reason:
          'the statistics are read again and the period’s abandonment rate is under the cap: the blind pause is lifted',
      },
      dedupeKey: `guard-blind-resume:${campaignId}:${pause.commandId}`,
      event: 'campaign.compliance.resumed',
    });
  } else if (decision.kind === 'keep') {
    await recordComplianceAction(ctx, {
      campaignId,
      cxoneVersion: stats.version,
      kind: 'guard_blind_pause_kept',
      details: { ...details, kept: decision.reason, reason: `left paused: ${decision.note}` },
      dedupeKey: `guard-blind-kept:${campaignId}:${pause.commandId}`,
    });
  }
}

// KEYS[1] the compliance hash; ARGV[1] the command that changed the status, ARGV[2] the note (JSON).
// One step, so a settle that forgot the pause meanwhile never gets it back.
const OVERTAKE_SCRIPT = `
local raw = redis.call('HGET', KEYS[1], 'blind')
if not raw then return 0 end
local watch = cjson.decode(raw)
if type(watch.pause) ~= 'table' or watch.pause.commandId == ARGV[1] or watch.pause.overtakenBy then return 0 end
watch.pause.overtakenBy = cjson.decode(ARGV[2])
redis.call('HSET', KEYS[1], 'blind', cjson.encode(watch))
return 1
`;

/**
 * The lifecycle changed the campaign's status by someone else's command (a resume, or a pause taken
 * over or found in place): a blind pause of the guard's is no longer the campaign's last word, and is
 * not lifted when the statistics come back. Not the window's pause at its close: that one lasts only
 * until the open, and the resume's decision checks the window itself.
 */
export async function noteBlindPauseOvertaken(
  ctx: Pick<AppContext, 'redis' | 'keys' | 'logger'>,
  campaignId: string,
  by: { actor: string; reason: string; commandId: string },
): Promise<void> {
  if (by.reason === REASON_BLIND || by.reason === REASON_WINDOW) return;
  if (!(await getBlindWatch(ctx, campaignId))?.pause) return;
  const note = () =>
    evalScript(
      ctx.redis,
      OVERTAKE_SCRIPT,
      1,
      complianceKeys(ctx.keys, campaignId).state,
      by.commandId,
      JSON.stringify({ actor: by.actor, reason: by.reason, commandId: by.commandId }),
    ).then(() => undefined);
  // Under the watch's lock, as its other writers: a failed poll counted meanwhile writes the watch
  // back whole as it read it, without this note, and the statistics coming back then lifted the
  // blind pause over the operator's own pause. Should the lock stay taken, noted all the same (one
  // step): a note that may be written away beats none.
  if (await withWatchLock(ctx, campaignId, note)) return;
  ctx.logger.warn(
    { campaignId, commandId: by.commandId },
    'the abandonment guard’s blind watch stayed locked: noting the command on its blind pause without the lock',
  );
  await note();
}

/**
 * Whether the campaign's last command, as its record notes it, is the guard's blind pause: a campaign
 * polled dialing after it was resumed outside the orchestrator (no command of ours since). Pure.
 */
export function lastCommandIsBlindPause(record: Pick<CampaignRecord, 'lastCommand'>): boolean {
  const last = record.lastCommand as { reason?: unknown; action?: unknown } | null | undefined;
  return last?.reason === REASON_BLIND && last.action === 'pause';
}

/**
 * Someone else's command resumed a campaign the guard paused blind (an operator's, through the API;
 * the lifecycle's hook): the blind pause is over by their decision. Recorded as
 * `guard_blind_pause_lifted` (event `campaign.compliance.resumed`), and the pause kept as lifted:
 * its streak is not paused again, and nothing more is recorded of it. Without this the trail showed a
 * blind pause nobody lifted, and the next pause of the campaign (anyone's) found it still standing
 * and recorded it kept ("overtaken"). Only a pause that went through (its command wrote the paused
 * status): one that failed, or found the campaign paused by someone else, paused nothing.
 */
export async function noteBlindPauseLifted(
  ctx: AppContext,
  campaignId: string,
  by: { actor: string; reason: string; commandId: string; version: number },
): Promise<void> {
  if (by.reason === REASON_BLIND || by.reason === REASON_WINDOW) return;
  if (!(await getBlindWatch(ctx, campaignId))?.pause) return;
  const taken = await withWatchLock(ctx, campaignId, () =>
    liftUnderLock(ctx, campaignId, {
      actor: by.actor,
      requestedBy: by.actor,
      reason: by.reason,
      commandId: by.commandId,
      version: by.version,
    }),
  );
  if (!taken) {
    ctx.logger.warn(
      { campaignId, commandId: by.commandId },
      'the abandonment guard’s blind watch stayed locked: the lift of its blind pause is not recorded',
    );
  }
}

/**
 * A successful poll found a campaign the guard paused blind dialing at a CXone version newer than the
 * one the pause left: resumed in CXone's console (or by another tool), as no command of ours did it —
 * each of those is recorded by the lifecycle (noteBlindPauseLifted), and a command holding the
 * campaign's lock may be that resume, its record still to come: left to a later poll then. Recorded
 * as lifted `outside`, actor worker:compliance (CXone's history, imported beside, names who). The
 * poll calls it only when it re-read the campaign (a newer version) or the record's last command is
 * the blind pause, so a poll of a dialing campaign pays nothing for it otherwise.
 */
export async function noteBlindPauseLiftedOutside(
  ctx: AppContext,
  input: { campaignId: string; version: number },
): Promise<void> {
  const { campaignId } = input;
  const seen = (await getBlindWatch(ctx, campaignId))?.pause;
  if (!seen || seen.liftedBy) return;
  if ((await ctx.redis.exists(campaignLockKey(ctx.keys, campaignId))) === 1) return;
  await withWatchLock(ctx, campaignId, () =>
    liftUnderLock(ctx, campaignId, {
      actor: COMPLIANCE_ACTOR,
      requestedBy: OUTSIDE,
      reason: OUTSIDE,
      version: input.version,
    }),
  );
}

async function liftUnderLock(
  ctx: AppContext,
  campaignId: string,
  by: { actor: string; requestedBy: string; reason: string; commandId?: string; version: number },
): Promise<void> {
  // Read again under the lock: the other side may have recorded it meanwhile, or a poll settled it.
  const watch = await getBlindWatch(ctx, campaignId);
  const pause = watch?.pause;
  if (!watch || !pause || pause.liftedBy) return;
  const command = await getCommand(ctx, pause.commandId);
  if (command?.status !== 'succeeded' || !command.result) return;
  if (!command.result.writes.some((w) => w.step === 'status')) return;
  // Seen by a poll: only statistics of a version after the pause's (one read before it landed saw
  // the campaign dialing before the pause, not after it).
  if (by.commandId === undefined && by.version <= command.result.version) return;
  await recordComplianceAction(ctx, {
    campaignId,
    kind: 'guard_blind_pause_lifted',
    actor: by.actor,
    cxoneVersion: by.version,
    details: {
      rule: RULE,
      requestedBy: by.requestedBy,
      reason: by.reason,
      ...(by.commandId !== undefined ? { commandId: by.commandId } : {}),
      pauseCommandId: pause.commandId,
      pausedAt: iso(pause.atMs),
      note:
        by.commandId === undefined
          ? `${RESUMED_OUTSIDE} while the abandonment guard held it paused blind`
          : 'resumed while the abandonment guard held it paused blind: the blind pause is lifted by that decision, and not issued again until the statistics have been read',
    },
    dedupeKey: `guard-blind-lifted:${campaignId}:${pause.commandId}`,
    event: 'campaign.compliance.resumed',
  });
  const liftedBy = {
    requestedBy: by.requestedBy,
    reason: by.reason,
    ...(by.commandId !== undefined ? { commandId: by.commandId } : {}),
  };
  await setBlindWatch(ctx, campaignId, { ...watch, pause: { ...pause, liftedBy } });
}
