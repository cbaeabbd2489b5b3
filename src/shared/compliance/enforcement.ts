import { DelayedError, type Job } from 'bullmq';
import { z } from 'zod';
import type { CampaignConfig } from '../campaign-config.js';
import { createCampaignStore } from '../campaign-store.js';
import type { AppContext } from '../context.js';
import type { CampaignStatus } from '../cxone/wire.js';
import { commandInFlight, enqueueCommand, getCommand } from '../lifecycle/enqueue.js';
import { isFinal } from '../lifecycle/state-machine.js';
import { floorSource } from './config-rules.js';
import { endAbandonmentMeasurement } from './guard-actions.js';
import { recordDeploymentOverrides } from './overrides.js';
import { closedBy, complianceRefusal, RESUME_CLOSE_MARGIN_MS } from './command-guard.js';
import { runtimeComplianceProblems } from './deployment-policy.js';
import { COMPLIANCE_ACTOR, recordComplianceAction } from './record.js';
import {
  clearWindowState,
  getGuardState,
  getWindowState,
  readWindowState,
  replaceWindowState,
  type WindowState,
} from './state-store.js';
import {
  currentWindowClose,
  isWithinWindow,
  localIso,
  nextWindowOpen,
  nextWindowTransition,
} from './windows.js';
import { computeSpacing } from '../limiter/spacing.js';
import { redelayAfterRun } from '../redelay-job.js';
import { SCOPE_RECHECK_MS } from '../cxone/token-provider.js';
import { STATS_SCOPE } from '../cxone/scopes.js';
import { statsScopeMissingNow } from './scope-at-send.js';
import {
  announceScopeHoldLifted,
  announceScopeHoldPlaced,
  scopeHoldPlacedAt,
  type ScopeHoldEnd,
} from './scope-hold-events.js';

/**
 * Run-time calling-window enforcement: each watched campaign has exactly one delayed job on the
 * 'compliance' queue (job id `window-<campaignId>`) that fires at the campaign's next window
 * transition, computed in its own zone (windows.ts). When it fires it compares the campaign's state
 * with the window — outside and active → pause; inside and paused by the window → resume — through
 * the lifecycle's enqueueCommand, then re-delays itself to the next transition. The same job is
 * moved back to delayed, so there is never a second one, and it reads the campaign's config at
 * every firing, so a config change cannot leave it acting on stale windows.
 *
 * A pause is verified: until the campaign is seen paused the job fires again every VERIFY_MS and
 * re-issues the pause if its command failed. Dialing outside the window is the one failure this
 * module exists to prevent.
 */
export const WINDOW_JOB = 'window';
export const REASON_WINDOW = 'compliance-window';
/** How soon an issued pause/resume is checked again while the campaign has not reached its state. */
export const VERIFY_MS = 30_000;
/** Retry delay when acting failed (Redis blip); the job keeps its attempts for real failures. */
export const RETRY_MS = 5_000;
/** Window resumes issued per window open before the enforcer leaves the campaign paused for an operator. */
export const MAX_RESUME_ATTEMPTS = 3;
/**
 * What a close's pause is given on top of its turn in the fleet's budget: queue hops, a retry. The
 * command guard refuses a resume this close to a close (RESUME_CLOSE_MARGIN_MS, the same span).
 */
export const CLOSE_MARGIN_MS = RESUME_CLOSE_MARGIN_MS;
/**
 * Each pause's turn, over the bare spacing of one call: the pause's GET and PATCH use two endpoints
 * (so they overlap), and operator commands, activations and a 409's re-read share those budgets.
 */
const PAUSE_TURN_FACTOR = 1.25;

/**
 * How long before a close its window job fires, so that the pause has landed on CXone by the close:
 * the margin plus one turn of the fleet's per-endpoint spacing (`minTimeMs`) for this pause and for
 * each of the `competing` window jobs due shortly before it. Campaigns that close together (every one
 * on New York time ending at 21:00) are otherwise paused one spacing apart from the close on: 0.6 s
 * each at 100 calls a minute, minutes late for a few hundred. Planned this way, the n-th campaign to
 * plan a close finds the n - 1 planned before it ahead of its close and fires a turn before the
 * earliest of them, so their pauses go out in turn and the last of them still lands by the close.
 * Pure.
 */
export function closeLeadMs(competing: number, minTimeMs: number): number {
  return CLOSE_MARGIN_MS + Math.ceil((competing + 1) * minTimeMs * PAUSE_TURN_FACTOR);
}

/** BullMQ scores a delayed job by its due time (ms) × 0x1000 plus a counter (getDelayedScore.lua). */
const DELAYED_SCORE_FACTOR = 0x1000;

/**
 * closeLeadMs for a close at `closeAtMs`, counting the window jobs due before the close within the
 * longest lead the fleet could need (every delayed window job competing). Two reads of the queue's
 * delayed set.
 */
async function closeLead(ctx: EnforcementContext, closeAtMs: number): Promise<number> {
  const { minTimeMs } = computeSpacing(
    ctx.config.cxone.rateLimitPerWindow,
    ctx.config.cxone.rateLimitWindowMs,
  );
  const queue = ctx.queues.compliance;
  const widest = closeLeadMs(await queue.getDelayedCount(), minTimeMs);
  // The delayed set is scored on the real clock; plans are in ctx.clock's time (equal in production).
  const closeReal = Date.now() + (closeAtMs - ctx.clock.now());
  const competing = await ctx.redis.zcount(
    queue.keys.delayed as string,
    (closeReal - widest) * DELAYED_SCORE_FACTOR,
    (closeReal + 1) * DELAYED_SCORE_FACTOR - 1,
  );
  return closeLeadMs(competing, minTimeMs);
}

/** When a planned window job fires: a close ahead of the close by its lead, anything else on time. */
export async function fireAtMs(
  ctx: EnforcementContext,
  plan: Pick<WindowJob, 'kind' | 'atMs'>,
): Promise<number> {
  return plan.kind === 'close' ? plan.atMs - (await closeLead(ctx, plan.atMs)) : plan.atMs;
}

/**
 * The window as enforcement acts on it at `now`: a campaign whose close is the one a firing was
 * planned ahead of (`closingAt`: the plan of a close firing early, or what its pause recorded) is
 * treated as closed already; `next` is then the transition after that close.
 */
export function windowView(
  config: CampaignConfig,
  now: number,
  closingAt: number | undefined,
): { within: boolean; closing: number | undefined; next: { kind: 'close' | 'open'; atMs: number } | null } {
  const within = isWithinWindow(config, now);
  const next = nextWindowTransition(config, now);
  if (within && next?.kind === 'close' && closingAt === next.atMs) {
    return { within: false, closing: next.atMs, next: nextWindowTransition(config, next.atMs) };
  }
  return { within, closing: undefined, next };
}

const WINDOW_JOB_ID_PREFIX = 'window-';

export function windowJobId(campaignId: string): string {
  return `${WINDOW_JOB_ID_PREFIX}${campaignId}`;
}

export const windowJobSchema = z.object({
  campaignId: z.string().min(1),
  /** What the job expects at `atMs`: the window's close, its open, or a check of an issued command. */
  kind: z.enum(['close', 'open', 'verify']),
  atMs: z.number().int(),
});
export type WindowJob = z.infer<typeof windowJobSchema>;

/**
 * What a window job stores as its data: the campaign is its job id, so the data is only the plan
 * (every active campaign keeps one of these jobs in Redis). Jobs written by an earlier release also
 * carry `campaignId`, which is accepted.
 */
export const storedWindowJobSchema = windowJobSchema.extend({ campaignId: z.string().min(1).optional() });
export type StoredWindowJob = Omit<WindowJob, 'campaignId'>;

function storedData(data: WindowJob): StoredWindowJob {
  return { kind: data.kind, atMs: data.atMs };
}

/** A window job's plan with its campaign, from the job's data and id. Throws on a malformed job. */
export function windowJobOf(job: { id?: string | undefined; data: unknown }): WindowJob {
  const data = storedWindowJobSchema.parse(job.data);
  const fromId = job.id?.startsWith(WINDOW_JOB_ID_PREFIX) ? job.id.slice(WINDOW_JOB_ID_PREFIX.length) : '';
  const campaignId = data.campaignId ?? fromId;
  if (!campaignId) throw new Error(`window job ${job.id ?? '?'} names no campaign`);
  return { campaignId, kind: data.kind, atMs: data.atMs };
}

type EnforcementContext = AppContext;

async function loadConfig(
  ctx: EnforcementContext,
  campaignId: string,
): Promise<{
  config: CampaignConfig;
  status: CampaignStatus;
  version: number;
} | null> {
  const record = await createCampaignStore(ctx).get(campaignId);
  return record ? { config: record.config, status: record.status, version: record.version } : null;
}

/**
 * Moves a delayed job to fire `delayMs` from now. False when it is no longer delayed — promoted by a
 * worker since its state was read (it was due), or running: it re-plans itself when it has run.
 */
async function moveDelayedJob(job: Job, delayMs: number): Promise<boolean> {
  try {
    await job.changeDelay(delayMs);
    return true;
  } catch (err) {
    // BullMQ's JobNotInState for changeDelay (finished-errors.js).
    if (err instanceof Error && err.message.includes('is not in the delayed state')) return false;
    throw err;
  }
}

/**
 * Puts (or moves) the campaign's window job at `data.atMs`. Idempotent: the same plan twice changes
 * nothing; a different plan moves the existing delayed job; a job that is running or due now is left
 * alone, because it re-plans from the current config when it finishes.
 */
async function upsertWindowJob(ctx: EnforcementContext, data: WindowJob): Promise<void> {
  const queue = ctx.queues.compliance;
  const jobId = windowJobId(data.campaignId);
  const existing = await queue.getJob(jobId);
  // A close keeps the lead it was first planned with: its place among the closes planned before it.
  const delay = async () => Math.max(0, (await fireAtMs(ctx, data)) - ctx.clock.now());
  if (existing) {
    const state = await existing.getState();
    if (state === 'delayed') {
      const current = storedWindowJobSchema.safeParse(existing.data);
      if (current.success && current.data.atMs === data.atMs && current.data.kind === data.kind) return;
      const now = ctx.clock.now();
      if (
        data.kind === 'close' &&
        data.atMs <= now &&
        current.success &&
        current.data.kind === 'close' &&
        current.data.atMs <= now
      ) {
        // "Close now" (found active outside its hours) while the close it dialed past has not run (a
        // worker backlog, a restart): that close is brought forward with its plan, which is what its
        // pause is judged against (missedClose). Planned for this instant instead, the pause would be
        // due by no close, and the report would call a campaign that dialed past its close adherent.
        await moveDelayedJob(existing, 0);
        return;
      }
      const ms = await delay();
      if (ms === 0) {
        // Due now: the plan first, so that the job acts on it even if a worker takes it meanwhile.
        await existing.updateData(storedData(data));
        await moveDelayedJob(existing, 0);
        return;
      }
      // Later: moved first, and the plan written only while the job is still waiting for it. A job
      // promoted since its state was read is due on its old plan and re-plans itself when it has run;
      // given this plan, a close's firing now would take the window for closed ahead of its lead.
      if (await moveDelayedJob(existing, ms)) await existing.updateData(storedData(data));
      return;
    }
    if (
      state === 'active' ||
      state === 'waiting' ||
      state === 'prioritized' ||
      state === 'waiting-children'
    ) {
      return;
    }
    await existing.remove().catch((err: unknown) => {
      ctx.logger.warn({ err, campaignId: data.campaignId }, 'could not remove the finished window job');
    });
  }
  await queue.add(WINDOW_JOB, storedData(data), { jobId, delay: await delay(), removeOnComplete: true });
}

/**
 * Starts (or re-plans) calling-window enforcement for a campaign: called by the launch worker after
 * activation and by the lifecycle after every status or settings change. A campaign found active
 * outside its window is acted on at once.
 */
export async function scheduleWindowEnforcement(
  ctx: EnforcementContext,
  campaignId: string,
  opts: { config?: CampaignConfig; status?: CampaignStatus } = {},
): Promise<void> {
  const loaded = opts.config && opts.status ? null : await loadConfig(ctx, campaignId);
  const config = opts.config ?? loaded?.config;
  const status = opts.status ?? loaded?.status;
  if (!config || !status) {
    ctx.logger.warn({ campaignId }, 'window enforcement not scheduled: campaign unknown to the orchestrator');
    return;
  }
  if (isFinal(status)) {
    await cancelWindowEnforcement(ctx, campaignId);
    return;
  }
  await recordDeploymentOverrides(ctx, { campaignId, config });
  const now = ctx.clock.now();
  if (status === 'active' && !isWithinWindow(config, now)) {
    await upsertWindowJob(ctx, { campaignId, kind: 'close', atMs: now });
    return;
  }
  const win = status === 'paused' ? await getWindowState(ctx, campaignId) : undefined;
  // Paused ahead of a close (closeLeadMs): the window counts as closed until its next open.
  const view = windowView(config, now, win?.closingAt);
  if (status === 'paused' && view.within && win?.pausedAt) {
    // Paused by the window, whose hours (widened since, through the API or CXone's console) hold now:
    // the open is now. Planning the next transition instead would be the close, and the resume would
    // wait for the open after it — days, for a weekly window.
    await upsertWindowJob(ctx, { campaignId, kind: 'open', atMs: now });
    return;
  }
  const next = view.next;
  if (!next) {
    ctx.logger.error(
      { campaignId },
      'no calling-window transition within 15 days; enforcement not scheduled',
    );
    return;
  }
  await upsertWindowJob(ctx, { campaignId, kind: next.kind, atMs: next.atMs });
  ctx.logger.debug(
    { campaignId, next: next.kind, at: new Date(next.atMs).toISOString() },
    'window enforcement scheduled',
  );
}

/**
 * Stops enforcement for a campaign that ended (completed, cancelled): compliance's step at a
 * campaign's end, which the lifecycle and the poll both take. Its window job goes, and its abandonment
 * measurement ends with its last period closed and recorded (guard-actions.ts). `stop`: the lifecycle's
 * stop that ended a dialing campaign with its own status write, and when CXone took it — with the
 * window's pause still on its way, that is when the campaign stopped dialing, judged against the close
 * the pause was due by (`window_pause_released` with `stoppedBy`).
 */
export async function cancelWindowEnforcement(
  ctx: EnforcementContext,
  campaignId: string,
  stop?: { actor: string; commandId: string; version: number; statusAt: string },
): Promise<void> {
  await endAbandonmentMeasurement(ctx, campaignId);
  // A window pause that landed before the end, its re-check not yet come: recorded now, and the claim
  // ends with the campaign (a campaign that ended is paused by no window). Should this fail, the
  // claim, the found-paused marker and the job stay, and the job's next firing, finding the campaign
  // final, records the landing then. The marker goes only after the claim: a later call (the poll and
  // the lifecycle both see the end) must not find the claim's command without it, and count a pause
  // that found someone else's in place as landed.
  const found = await ctx.redis.get(foundPausedKey(ctx, campaignId));
  const win = await getWindowState(ctx, campaignId);
  if (win.pauseCommandId !== undefined) {
    const record = await createCampaignStore(ctx).get(campaignId);
    if (record) await recordPauseLanded(ctx, campaignId, win, record.version, found);
    // Or it had not, and this stop is what stopped the dialing it was due to stop.
    const measured = stop ? await stopAgainstDue(ctx, win, found, stop.statusAt) : null;
    if (stop && measured) {
      await recordClaimEnded(ctx, campaignId, win, {
        actor: stop.actor,
        commandId: stop.commandId,
        cxoneVersion: stop.version,
        stoppedBy: true,
        stop: measured,
      });
    }
  }
  await clearWindowState(ctx, campaignId);
  await ctx.redis.del(foundPausedKey(ctx, campaignId));
  const job = await ctx.queues.compliance.getJob(windowJobId(campaignId));
  if (!job) return;
  // A running job cannot be removed (it holds a lock); it finds the campaign final and ends itself.
  await job.remove().catch((err: unknown) => {
    ctx.logger.debug({ err, campaignId }, 'window job busy; it stops itself on its next firing');
  });
}

export type WindowOutcome =
  'paused' | 'pause_pending' | 'resumed' | 'resume_pending' | 'resume_withheld' | 'nothing' | 'stopped';

/** The end of a window's resume held for the statistics scope (none when `scopeHeldAt` is unset). */
async function windowScopeHoldLifted(
  ctx: EnforcementContext,
  campaignId: string,
  scopeHeldAt: number | undefined,
  why: ScopeHoldEnd,
): Promise<void> {
  if (scopeHeldAt === undefined) return;
  const heldSince = new Date(scopeHeldAt).toISOString();
  await announceScopeHoldLifted(
    ctx,
    campaignId,
    { kind: 'window_resume_withheld', heldSince, name: `window:${scopeHeldAt}` },
    why,
  );
}

async function commandPending(ctx: EnforcementContext, commandId: string | undefined): Promise<boolean> {
  return commandId ? commandInFlight(ctx, commandId) : false;
}

/** True when the window's resume went through: the campaign dialed again after the window's pause. */
async function resumeTookEffect(ctx: EnforcementContext, commandId: string | undefined): Promise<boolean> {
  return commandId ? (await getCommand(ctx, commandId))?.status === 'succeeded' : false;
}

/** The window state changed between a firing's read and its write: the firing decides again. */
export class WindowStateChangedError extends Error {
  constructor(readonly campaignId: string) {
    super(`the calling-window state of campaign ${campaignId} changed while the window job decided`);
    this.name = 'WindowStateChangedError';
  }
}

/**
 * Records that someone other than the window paused the campaign — an operator through the API (also
 * a pause of a campaign the window already held paused), or CXone's console after the window's
 * resume: that pause is theirs, and the window must never lift it (`window_pause_released`). Recorded
 * before the claim is dropped, so a failure leaves the claim for the retry to record (the command's
 * dedupe key keeps it to one record), never a dropped claim without its record.
 */
async function recordClaimEnded(
  ctx: EnforcementContext,
  campaignId: string,
  win: WindowState,
  by: {
    actor?: string;
    commandId?: string;
    cxoneVersion?: number;
    foundPaused?: boolean;
    /** Their stop ended the campaign (cancelWindowEnforcement), rather than a pause. */
    stoppedBy?: boolean;
    /** When their pause or stop stopped the dialing the window's pause was due to stop (stopAgainstDue). */
    stop?: Record<string, unknown>;
  },
): Promise<void> {
  const dedupeId = by.commandId ?? win.resumeCommandId;
  await recordComplianceAction(ctx, {
    campaignId,
    kind: 'window_pause_released',
    cxoneVersion: by.cxoneVersion,
    ...(by.actor ? { actor: by.actor } : {}),
    details: {
      rule: 'calling-window',
      [by.stoppedBy ? 'stoppedBy' : 'pausedBy']:
        by.actor ??
        (by.foundPaused
          ? "someone else before the window's pause reached CXone (its console, or another command)"
          : 'outside the orchestrator (CXone)'),
      ...(by.commandId ? { commandId: by.commandId } : {}),
      ...(by.foundPaused ? { foundPaused: true } : {}),
      ...(win.pausedAt ? { windowPausedAt: win.pausedAt } : {}),
      ...(by.stop ?? {}),
      note: by.stoppedBy
        ? "stopped by someone other than the calling window before the window's pause landed: the campaign ended"
        : 'paused by someone other than the calling window: the window will not resume it',
    },
    ...(dedupeId ? { dedupeKey: `window-pause-released:${campaignId}:${dedupeId}` } : {}),
  });
}

/** True while the window holds a claim on the campaign's pause (its marker or its commands). */
export function windowClaims(win: WindowState): boolean {
  return (
    win.pausedAt !== undefined ||
    win.pauseCommandId !== undefined ||
    win.resumeCommandId !== undefined ||
    win.resumeAttempts !== undefined
  );
}

/**
 * Called by the lifecycle once a pause that is not the window's own is in place (written or found):
 * ends the window's claim on the campaign's pause, so no later open nor pending re-check resumes it,
 * and a window resume already queued is withdrawn when it comes to run (`windowResumeWithdrawn`).
 * The release wins a race with a firing of the window job: the job's write is a compare-and-set and
 * decides again, while this one re-reads and writes until it lands.
 */
export async function releaseWindowPause(
  ctx: EnforcementContext,
  campaignId: string,
  by: { actor: string; reason: string; commandId: string; version: number; statusAt?: string },
): Promise<boolean> {
  if (by.reason === REASON_WINDOW) return false;
  for (let tries = 0; tries < 5; tries++) {
    // Read before the claim, which whoever deletes the marker has ended first (releaseFoundPause).
    const found = tries === 0 ? await ctx.redis.get(foundPausedKey(ctx, campaignId)) : null;
    const { state: win, raw } = await readWindowState(ctx, campaignId);
    if (!windowClaims(win)) return false;
    if (tries === 0) {
      // The window's own pause may have landed already, its re-check (which records that) not yet
      // come: recorded now, before the claim and its command are dropped. It did stop the dialing.
      await recordPauseLanded(ctx, campaignId, win, by.version, found);
      // Or it had not: this pause is what stopped the dialing the window's was due to stop, and the
      // window's will find it in place. When it stopped is judged against that due time.
      const stop = await stopAgainstDue(ctx, win, found, by.statusAt);
      await recordClaimEnded(ctx, campaignId, win, {
        actor: by.actor,
        commandId: by.commandId,
        cxoneVersion: by.version,
        ...(stop ? { stop } : {}),
      });
    }
    // A resume held for the scope ends with the claim: the window will not resume their pause.
    await windowScopeHoldLifted(ctx, campaignId, win.scopeHeldAt, 'paused');
    const keep = win.lastTransitionMs !== undefined ? { lastTransitionMs: win.lastTransitionMs } : {};
    if (await replaceWindowState(ctx, campaignId, raw, keep)) return true;
  }
  throw new WindowStateChangedError(campaignId);
}

/**
 * Where the window's pause that found its campaign paused already is noted, for the window job: the
 * hand-over below may fail (a follow-up's error is only logged) or run before the job stored the
 * command as its own, and the job's next firing must let go all the same.
 */
const foundPausedKey = (ctx: EnforcementContext, campaignId: string) =>
  ctx.keys.custom('compliance', 'window-pause-found', campaignId);
/** Long past any re-check of the pause it names (every VERIFY_MS until the command finished). */
const FOUND_PAUSED_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Called by the lifecycle when a command found its status already in place, written by nobody of
 * this command. For the window's own pause that means the campaign was paused by someone else first
 * (CXone's console, or an operator's pause landing between the window job's read of the record, which
 * a poll refreshes only every few seconds, and its claim): that pause is theirs, and the window must
 * not resume it at the next open. The claim is ended as an operator's pause ends it
 * (`window_pause_released`, with `foundPaused`). Returns whether it ended one here.
 */
export async function windowPauseFoundInPlace(
  ctx: EnforcementContext,
  campaignId: string,
  by: { reason: string; commandId: string; version: number },
): Promise<boolean> {
  if (by.reason !== REASON_WINDOW) return false;
  await ctx.redis.set(foundPausedKey(ctx, campaignId), by.commandId, 'EX', FOUND_PAUSED_TTL_SECONDS);
  for (let tries = 0; tries < 5; tries++) {
    const { state: win, raw } = await readWindowState(ctx, campaignId);
    // Not (yet) the window's claim: the job lets go when it next fires (releaseFoundPause).
    if (win.pauseCommandId !== by.commandId) return false;
    if (tries === 0) {
      await recordClaimEnded(ctx, campaignId, win, {
        commandId: by.commandId,
        cxoneVersion: by.version,
        foundPaused: true,
      });
    }
    const keep = win.lastTransitionMs !== undefined ? { lastTransitionMs: win.lastTransitionMs } : {};
    if (await replaceWindowState(ctx, campaignId, raw, keep)) return true;
  }
  throw new WindowStateChangedError(campaignId);
}

/**
 * Why a window resume that was queued should not run any more: the window no longer holds the
 * campaign's pause (someone else paused it after the resume was queued, or it was dropped as theirs).
 * Null when it still does, or for any other command. Read by the lifecycle just before it acts.
 */
export async function windowResumeWithdrawn(
  ctx: EnforcementContext,
  command: { campaignId: string; reason: string; action?: string | undefined },
): Promise<string | null> {
  if (command.reason !== REASON_WINDOW || command.action !== 'resume') return null;
  const win = await getWindowState(ctx, command.campaignId);
  return win.pausedAt
    ? null
    : "withdrawn: the calling window no longer holds this campaign's pause (someone else paused it after this resume was queued); it stays paused";
}

/**
 * Records when the window's own pause went through on CXone against when it was due (the close it was
 * issued ahead of): what says the campaign stopped dialing in time, which the firing's own timing
 * cannot (the pause waits its turn in the fleet's budget after the job fired). Once per command; by
 * the re-check that sees it through, or, should the claim end first (an operator's pause, the
 * campaign's end), by what ends it. Nothing for a pause that did not land: one still queued or failed,
 * or one that found someone else's pause in place (its command succeeds, but the pause is theirs).
 */
async function recordPauseLanded(
  ctx: EnforcementContext,
  campaignId: string,
  win: WindowState,
  version: number,
  /** The found-paused marker, when the caller read it before `win`; read here otherwise. */
  foundPaused?: string | null,
): Promise<void> {
  if (!win.pauseCommandId || win.pauseDueAt === undefined) return;
  const command = await getCommand(ctx, win.pauseCommandId);
  if (command?.status !== 'succeeded') return;
  const found =
    foundPaused !== undefined ? foundPaused : await ctx.redis.get(foundPausedKey(ctx, campaignId));
  if (found === win.pauseCommandId) return;
  // When CXone took the status write (not when the command finished its audit and follow-ups).
  const landedAt = command.result?.writes.find((w) => w.step === 'status')?.at ?? command.finishedAt;
  if (!landedAt) return;
  const landedMs = Date.parse(landedAt);
  await recordComplianceAction(ctx, {
    campaignId,
    kind: 'window_pause_landed',
    cxoneVersion: version,
    details: {
      rule: 'calling-window',
      commandId: win.pauseCommandId,
      dueAt: new Date(win.pauseDueAt).toISOString(),
      landedAt,
      lateByMs: Math.max(0, landedMs - win.pauseDueAt),
      aheadOfDueMs: Math.max(0, win.pauseDueAt - landedMs),
    },
    dedupeKey: `window-pause-landed:${campaignId}:${win.pauseCommandId}`,
  });
}

/**
 * When someone else's pause or stop (an operator's, queued ahead of the window's pause) stopped a
 * campaign the window's own pause had not stopped yet, how that stop compares with the close the
 * window's pause was due by: the window's pause then finds theirs in place (or the campaign ended) and
 * never lands, so this is the only measure of whether the campaign stopped dialing by the close. Null
 * when the window's pause landed itself (recordPauseLanded), has no due time (a campaign found active
 * outside its hours), or when their command wrote no status of its own (it found the campaign paused
 * or ended already: when it stopped is not known). `lateByMs` > 0 counts against `adherent` in the
 * report (lateness.ts isLateStop).
 */
async function stopAgainstDue(
  ctx: EnforcementContext,
  win: WindowState,
  foundPaused: string | null,
  statusAt: string | undefined,
): Promise<Record<string, unknown> | null> {
  if (statusAt === undefined || !win.pauseCommandId || win.pauseDueAt === undefined) return null;
  const command = await getCommand(ctx, win.pauseCommandId);
  if (command?.status === 'succeeded' && foundPaused !== win.pauseCommandId) return null;
  const stoppedMs = Date.parse(statusAt);
  return {
    windowCommandId: win.pauseCommandId,
    dueAt: new Date(win.pauseDueAt).toISOString(),
    stoppedAt: statusAt,
    lateByMs: Math.max(0, stoppedMs - win.pauseDueAt),
    aheadOfDueMs: Math.max(0, win.pauseDueAt - stoppedMs),
  };
}

/**
 * Ends the window's claim when its pending pause found the campaign paused by someone else
 * (windowPauseFoundInPlace noted it, but could not end the claim itself). True when it did: the
 * firing then decides again without the claim.
 */
async function releaseFoundPause(
  ctx: EnforcementContext,
  campaignId: string,
  win: WindowState,
  raw: string | null,
  version: number,
): Promise<boolean> {
  if (win.pauseCommandId === undefined) return false;
  const key = foundPausedKey(ctx, campaignId);
  if ((await ctx.redis.get(key)) !== win.pauseCommandId) return false;
  await recordClaimEnded(ctx, campaignId, win, {
    commandId: win.pauseCommandId,
    cxoneVersion: version,
    foundPaused: true,
  });
  const keep = win.lastTransitionMs !== undefined ? { lastTransitionMs: win.lastTransitionMs } : {};
  if (!(await replaceWindowState(ctx, campaignId, raw, keep))) throw new WindowStateChangedError(campaignId);
  await ctx.redis.del(key);
  return true;
}

/**
 * The close a close's job was planned for when it fires at or after it, or undefined: a plan made for a
 * campaign found active outside its hours is "close now" (scheduleWindowEnforcement), not a close of
 * the windows. Pure.
 */
function missedClose(config: CampaignConfig, data: WindowJob, now: number): number | undefined {
  if (data.kind !== 'close' || now < data.atMs) return undefined;
  return currentWindowClose(config, data.atMs - 1) === data.atMs ? data.atMs : undefined;
}

/** Decides and acts for one firing; returns what it did and when to fire next (null = stop). */
export async function enforceWindow(
  ctx: EnforcementContext,
  data: WindowJob,
): Promise<{ outcome: WindowOutcome; next: WindowJob | null }> {
  const { campaignId } = data;
  const loaded = await loadConfig(ctx, campaignId);
  if (!loaded || isFinal(loaded.status)) {
    if (loaded) {
      // Ended before cancelWindowEnforcement came (or it failed): a window pause that landed, its
      // re-check not yet come, is recorded first, as cancelWindowEnforcement records it. The marker is
      // read before the claim, which cancelWindowEnforcement ends before it deletes the marker.
      const found = await ctx.redis.get(foundPausedKey(ctx, campaignId));
      await recordPauseLanded(ctx, campaignId, await getWindowState(ctx, campaignId), loaded.version, found);
    }
    // Its claim ended by removing the field, never by writing one: with no record (the retention
    // trim removed the finished campaign, or it was never known), or one the trim removes after the
    // read above, a write would bring back a compliance key that outlives the campaign for ever.
    await clearWindowState(ctx, campaignId);
    return { outcome: 'stopped', next: null };
  }
  const { config, status, version } = loaded;
  const zone = config.complianceTimeZone;
  const now = ctx.clock.now();
  const { state: win, raw } = await readWindowState(ctx, campaignId);
  if (await releaseFoundPause(ctx, campaignId, win, raw, version)) return enforceWindow(ctx, data);
  // A close's job fires ahead of the close (closeLeadMs), and its pause's re-checks follow before the
  // close: each of them acts as if the window had closed.
  const view = windowView(config, now, data.kind === 'close' ? data.atMs : win.closingAt);
  const within = view.within;
  const closing = view.closing === undefined ? {} : { closingAt: view.closing };
  // Every write of this firing is a compare-and-set against what it read: should the lifecycle end the
  // window's claim meanwhile (releaseWindowPause), the firing must not write the claim back.
  const save = async (next: WindowState) => {
    if (!(await replaceWindowState(ctx, campaignId, raw, next)))
      throw new WindowStateChangedError(campaignId);
  };
  const timing = {
    plannedAt: new Date(data.atMs).toISOString(),
    lateByMs: Math.max(0, now - data.atMs),
    ...(view.closing === undefined
      ? {}
      : { closesAt: new Date(view.closing).toISOString(), aheadOfCloseMs: view.closing - now }),
  };
  let outcome: WindowOutcome = 'nothing';
  /**
   * The statistics scope, when the resume looked at it: missing, the resume is held and looked at
   * again after SCOPE_RECHECK_MS; undecided (no token in time to tell), again after VERIFY_MS.
   */
  let scopeLook: Awaited<ReturnType<typeof statsScopeMissingNow>>;

  if (!within && status === 'active') {
    if (await commandPending(ctx, win.pauseCommandId)) {
      outcome = 'pause_pending';
    } else {
      const { commandId } = await enqueueCommand(ctx, {
        campaignId,
        actor: COMPLIANCE_ACTOR,
        reason: REASON_WINDOW,
        action: 'pause',
      });
      const next = nextWindowOpen(config, now);
      const retry = win.pauseCommandId !== undefined;
      // Due by the close it was issued ahead of (a re-issue by the first one's deadline), or by the
      // close its job was planned for when the job fired only after it (a backlog, a restart, a close
      // planned before leads existed): the campaign dialed past that close until the pause landed. A
      // pause of a campaign found active outside its hours (a console resume) has no close of its own
      // to be due by, and is not judged on when it lands.
      const dueAt = win.pauseDueAt ?? view.closing ?? missedClose(config, data, now);
      // Resumed by someone else while its resume was held, and the close is the first firing to see it:
      // the hold ended with their resume, and this save forgets it.
      await windowScopeHoldLifted(ctx, campaignId, win.scopeHeldAt, 'resumed');
      await save({
        pausedAt: win.pausedAt ?? new Date(now).toISOString(),
        pauseCommandId: commandId,
        lastTransitionMs: data.atMs,
        ...(dueAt !== undefined ? { pauseDueAt: dueAt } : {}),
        ...closing,
      });
      await recordComplianceAction(ctx, {
        campaignId,
        kind: 'window_pause',
        cxoneVersion: version,
        details: {
          rule: 'calling-window',
          // The floor that always binds: the federal hours, or under OFCOM the orchestrator's policy
          // (UK law sets no calling hours; citing the TCPA for a UK campaign would misstate the law).
          source: floorSource(config),
          // What closes the hours at the close (or now, for a pause after it): the federal hours, a
          // declared state's, or only the campaign's own windows.
          closedBy: closedBy(config, view.closing ?? now),
          timeZone: zone,
          localTime: localIso(zone, now),
          nextOpen: next === null ? null : localIso(zone, next),
          commandId,
          reissued: retry,
          ...timing,
        },
        ...(retry ? {} : { event: 'campaign.compliance.paused' as const }),
      });
      outcome = 'paused';
    }
  } else if (within && status === 'paused' && win.pausedAt) {
    const guard = await getGuardState(ctx, campaignId);
    const refusal = complianceRefusal({
      action: 'resume',
      reason: REASON_WINDOW,
      config,
      atMs: now,
      policy: ctx.config,
    });
    if (guard && guard.lastAction === 'pause' && guard.pausedInPeriod === guard.periodIndex) {
      // The abandonment guard paused it too; lifting that pause is an operator's decision.
      await save({ lastTransitionMs: data.atMs });
      await recordComplianceAction(ctx, {
        campaignId,
        kind: 'window_resume_withheld',
        cxoneVersion: version,
        details: { rule: 'abandonment-guard', timeZone: zone, localTime: localIso(zone, now), ...timing },
      });
      outcome = 'resume_withheld';
    } else if (await resumeTookEffect(ctx, win.resumeCommandId)) {
      // The window's resume went through and the campaign dialed; paused again since, by someone
      // else (CXone's console; the API's pauses release the marker as they land). Their pause, not
      // the window's: resuming it again would override them.
      await recordClaimEnded(ctx, campaignId, win, { cxoneVersion: version });
      await save({ lastTransitionMs: data.atMs });
    } else if (refusal) {
      // Its settings now break a rule (changed in CXone while paused): the resume would be refused
      // when applied, so it is not issued; recorded as withheld, not as a resume.
      await save({ ...win, lastTransitionMs: data.atMs });
      await recordComplianceAction(ctx, {
        campaignId,
        kind: 'window_resume_withheld',
        cxoneVersion: version,
        details: {
          // Refused for the settings, or (hours widened to hold now) for a close too near to resume.
          rule:
            runtimeComplianceProblems(config, ctx.config).length > 0
              ? 'noncompliant-settings'
              : 'calling-window',
          reason: refusal,
          timeZone: zone,
          ...timing,
        },
      });
      outcome = 'resume_withheld';
    } else if (await commandPending(ctx, win.resumeCommandId)) {
      outcome = 'resume_pending';
    } else if ((win.resumeAttempts ?? 0) >= MAX_RESUME_ATTEMPTS) {
      // Resumes keep failing (refused or rejected upstream): staying paused is the safe side; an
      // operator decides. Recorded once, then the job just follows the window.
      if (win.resumeAttempts === MAX_RESUME_ATTEMPTS) {
        await save({ ...win, resumeAttempts: MAX_RESUME_ATTEMPTS + 1 });
        await recordComplianceAction(ctx, {
          campaignId,
          kind: 'window_resume_withheld',
          cxoneVersion: version,
          details: { rule: 'resume-failed', attempts: MAX_RESUME_ATTEMPTS, timeZone: zone, ...timing },
        });
      }
      outcome = 'resume_withheld';
    } else if ((scopeLook = await statsScopeMissingNow(ctx.cxone, campaignId)) === 'undecided') {
      // No token came in time to tell (a slow token endpoint, a backlog in the limiter): the resume
      // could not leave without one either. Looked at again shortly; nothing to record yet.
      ctx.logger.debug(
        { campaignId, recheckInMs: VERIFY_MS },
        'window resume waits for a CXone token to tell whether it has the statistics scope',
      );
      outcome = 'resume_withheld';
    } else if (scopeLook) {
      // The token lacks the statistics scope: resumed, the campaign would dial with the abandonment
      // guard blind, started by no one's decision (an operator's resume is one, and is not held). It
      // stays paused, the hold recorded once, and is looked at again when the token provider next
      // asks for a token, while the window is open.
      if (win.scopeHeldAt === undefined) {
        const dedupeKey = `window_scope_hold:${campaignId}:${data.kind}:${data.atMs}`;
        // A retry of a hold recorded (and announced) by a run that died before its save keeps that
        // placement's time: the lift names it.
        const heldAt = await scopeHoldPlacedAt(ctx, campaignId, dedupeKey, now);
        // Recorded before the hold is saved: saved first, a record that failed (a Redis blip) would be
        // lost for good, the retry finding the hold already noted. Keyed on the firing's plan, which a
        // retry keeps, so a save that failed after it is not recorded twice.
        ctx.logger.warn(
          { campaignId, missingScopes: [STATS_SCOPE], recheckInMs: SCOPE_RECHECK_MS },
          `window resume held: CXone did not grant this OAuth client ${STATS_SCOPE}, so the abandonment ` +
            'guard could not measure the campaign; it stays paused and is resumed once the scope is ' +
            `granted while its window is open (grant it to the client in CXone admin; checked every ` +
            `${SCOPE_RECHECK_MS / 60_000} minutes), or resumed by an operator`,
        );
        await recordComplianceAction(ctx, {
          campaignId,
          kind: 'window_resume_withheld',
          cxoneVersion: version,
          details: {
            rule: 'statistics-scope',
            missingScopes: [STATS_SCOPE],
            reason: scopeLook.message,
            recheckInMs: SCOPE_RECHECK_MS,
            heldSince: new Date(heldAt).toISOString(),
            timeZone: zone,
            localTime: localIso(zone, now),
            ...timing,
          },
          dedupeKey,
          event: 'campaign.compliance.hold.placed',
        });
        await save({ ...win, scopeHeldAt: heldAt, lastTransitionMs: data.atMs });
      } else {
        // Still held: told now if the placement's own publish failed (a no-op once it was stored).
        await announceScopeHoldPlaced(
          ctx,
          campaignId,
          'window_resume_withheld',
          new Date(win.scopeHeldAt).toISOString(),
        );
      }
      outcome = 'resume_withheld';
    } else {
      const { commandId } = await enqueueCommand(ctx, {
        campaignId,
        actor: COMPLIANCE_ACTOR,
        reason: REASON_WINDOW,
        action: 'resume',
      });
      const { scopeHeldAt, ...rest } = win;
      await windowScopeHoldLifted(ctx, campaignId, scopeHeldAt, 'scope_granted');
      await save({
        ...rest,
        resumeCommandId: commandId,
        resumeAttempts: (win.resumeAttempts ?? 0) + 1,
        lastTransitionMs: data.atMs,
      });
      await recordComplianceAction(ctx, {
        campaignId,
        kind: 'window_resume',
        cxoneVersion: version,
        details: {
          rule: 'calling-window',
          timeZone: zone,
          localTime: localIso(zone, now),
          pausedSince: win.pausedAt,
          ...(scopeHeldAt === undefined ? {} : { heldForScopeSince: new Date(scopeHeldAt).toISOString() }),
          commandId,
          reissued: win.resumeCommandId !== undefined,
          ...timing,
        },
        ...(win.resumeCommandId === undefined ? { event: 'campaign.compliance.resumed' as const } : {}),
      });
      outcome = 'resumed';
    }
  } else if (within && status === 'active' && win.pausedAt) {
    // Resumed (by us or an operator inside the window): the window pause is over.
    await windowScopeHoldLifted(ctx, campaignId, win.scopeHeldAt, 'resumed');
    await save({ lastTransitionMs: data.atMs });
  } else if (!within && status === 'paused' && (await commandPending(ctx, win.pauseCommandId))) {
    // Seen paused (a poll read CXone) before the window's own pause came to run: that pause may yet
    // find the campaign paused by someone else (windowPauseFoundInPlace), and its landing is still to
    // be recorded, so the command is kept and checked again.
    outcome = 'pause_pending';
  } else if (
    !within &&
    status === 'paused' &&
    (win.pauseCommandId || win.resumeCommandId || win.resumeAttempts || win.scopeHeldAt !== undefined)
  ) {
    // Our pause holds: keep the marker, forget finished commands, and give the next open fresh
    // resume attempts.
    // Recorded before the save forgets the command (its dedupe key keeps a retry to one record).
    await recordPauseLanded(ctx, campaignId, win, version);
    // A resume held for the scope ends with the window it was held in: the next open holds anew.
    await windowScopeHoldLifted(ctx, campaignId, win.scopeHeldAt, 'window_closed');
    await save({
      pausedAt: win.pausedAt ?? new Date(now).toISOString(),
      lastTransitionMs: data.atMs,
      ...closing,
    });
  }

  const waiting =
    outcome === 'paused' ||
    outcome === 'pause_pending' ||
    outcome === 'resumed' ||
    outcome === 'resume_pending';
  const transition = view.next;
  let next: WindowJob | null = transition
    ? { campaignId, kind: transition.kind, atMs: transition.atMs }
    : null;
  // Compared by when each fires: a close goes out its lead ahead of the close, so a re-check due
  // before the close but after that firing (a resume issued 45 s before a close, the lead 31 s) would
  // hold the close's pause back until a second or two before it.
  if (waiting && (!next || (await fireAtMs(ctx, next)) > now + VERIFY_MS))
    next = { campaignId, kind: 'verify', atMs: now + VERIFY_MS };
  // Held for the statistics scope: looked at again when the provider re-asks for a token, unless the
  // window's next transition (its close) comes first.
  const lookAgainMs =
    scopeLook === undefined ? undefined : scopeLook === 'undecided' ? VERIFY_MS : SCOPE_RECHECK_MS;
  if (lookAgainMs !== undefined && (!next || (await fireAtMs(ctx, next)) > now + lookAgainMs))
    next = { campaignId, kind: 'verify', atMs: now + lookAgainMs };
  return { outcome, next };
}

/**
 * The compliance worker's processor for window jobs: enforce, then move the same job back to
 * delayed at the next transition (BullMQ's manual-delay pattern: moveToDelayed + DelayedError).
 * A failure to act is retried after RETRY_MS the same way, so transient errors never use up the
 * attempts of a job that lives as long as its campaign.
 */
export async function processWindowJob(
  ctx: EnforcementContext,
  job: Job,
  token: string | undefined,
): Promise<{ outcome: WindowOutcome }> {
  const data = windowJobOf(job);
  let result: { outcome: WindowOutcome; next: WindowJob | null };
  let retry = false;
  try {
    result = await enforceWindow(ctx, data);
  } catch (err) {
    if (err instanceof WindowStateChangedError) {
      ctx.logger.info({ campaignId: data.campaignId }, 'window state changed while deciding; deciding again');
    } else {
      ctx.logger.error({ err, campaignId: data.campaignId }, 'window enforcement failed; retrying shortly');
    }
    // The same plan, fired again shortly: a close's firing ahead of the close stays one (closingAt),
    // and the record of the retry says how late it came.
    result = { outcome: 'nothing', next: data };
    retry = true;
  }
  if (!result.next) return { outcome: result.outcome };
  await job.updateData(storedData(result.next));
  // BullMQ delays run on the real clock; the plan is in ctx.clock's time (equal in production).
  const fireAt = retry ? ctx.clock.now() + RETRY_MS : await fireAtMs(ctx, result.next);
  // This run ended: the stalls of earlier runs no longer count towards failing the job.
  await redelayAfterRun(job, ctx.redis, Date.now() + Math.max(0, fireAt - ctx.clock.now()), token);
  ctx.logger.debug(
    {
      campaignId: data.campaignId,
      outcome: result.outcome,
      next: result.next.kind,
      at: new Date(result.next.atMs).toISOString(),
    },
    'window job re-delayed',
  );
  throw new DelayedError();
}
