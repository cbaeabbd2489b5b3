import { pacingStrategyOf } from '../campaign-config.js';
import { CampaignStore, type CampaignRecord } from '../campaign-store.js';
import type { AppContext } from '../context.js';
import { CommandAcceptedAheadError } from '../lifecycle/enqueue.js';
import { DEFAULT_LEASE_MS, LockLostError, lockOwner, tryAcquireCampaignLock } from '../lifecycle/lock.js';
import { firstLiveCommand, unfinishedCommands } from '../lifecycle/pending-commands.js';
import { isFinal } from '../lifecycle/state-machine.js';
import {
  endDeferralEpisode,
  noteDeferral,
  readDeferralTally,
  warnTallyFailure,
  type DeferralCause,
  type DeferralTally,
} from './deferrals.js';
import { readPacingRecord } from './record.js';

/**
 * A poll's pacing step that did not run: what the poll read may no longer hold (a command wrote the
 * campaign, is writing it now, or is queued to). The next tick decides, on statistics read after that
 * command. `ended` is set when the campaign was found ended (its final status) or gone (null).
 */
export interface PacingDeferred {
  kind: 'deferred';
  reason: string;
  ended?: string | null;
  /** The guard's cap, queued on its own because the step was deferred while it throttles (apply.ts). */
  guardCapCommandId?: string;
}

/** Pacing's own previous change is still queued or running: it decides again once that is done. */
export interface PacingWaiting {
  kind: 'waiting';
  commandId: string;
}

/** The writes a pacing step makes check first that its turn still holds (throws LockLostError if not). */
export type PacingFence = () => Promise<void>;

/**
 * The campaign's command order as the turn read it, every command in it judged unable to run or
 * pacing's own: a change the step queues is queued only behind these (enqueueCommand's `onlyBehind`).
 */
export type PacingOrderSeen = readonly string[];

/**
 * Why the record as it is now no longer matches the one a poll decided from, or null when it does.
 * Compared: the CXone version of the stored resource (every command that wrote CXone synced its answer
 * there), the config's revision (orchestrator-only settings such as the pacing strategy), and pacing's
 * own memory (a command that carried a safe start wrote it). Not `version` or `lastStats`, which the
 * poll itself moved when it stored its statistics. Pure.
 */
export function changeSinceRead(seen: CampaignRecord, now: CampaignRecord | null): string | null {
  if (now === null) return 'the campaign record is gone';
  if (isFinal(now.status)) return `the campaign ended (${now.status})`;
  if (now.cxone.version !== seen.cxone.version) {
    return `the campaign was written (version ${seen.cxone.version} → ${now.cxone.version}) after the poll read it`;
  }
  if ((now.configRev ?? 0) !== (seen.configRev ?? 0)) {
    return 'its orchestrator-only settings were stored after the poll read them';
  }
  if (JSON.stringify(now.pacing ?? null) !== JSON.stringify(seen.pacing ?? null)) {
    return "pacing's memory was written after the poll read it";
  }
  return null;
}

/**
 * What a command still to run on the campaign means for pacing now, or null when none is (`live`: the
 * first of its unfinished commands that can still run; `own`: pacing's pending change). Its own change
 * at the head: wait for it, as ever. Another command: it will change what the poll read (a pause, a
 * resume carrying a safe start, an operator's rate), and pacing's change would be queued behind it and
 * applied to the campaign as that command leaves it — a raise to a campaign paused meanwhile, a
 * conflict with the safe start just carried — so the decision is left to a poll after it. Pure.
 */
export function commandAhead(live: string | null, own: string | null): PacingWaiting | PacingDeferred | null {
  if (live === null) return null;
  if (live === own) return { kind: 'waiting', commandId: own };
  return { kind: 'deferred', reason: `command ${live} is queued or running on the campaign` };
}

const POLL_OWNER = lockOwner('poll');

/**
 * The lock's lease started on Redis after the request to take it left here, and only its holder
 * deletes it: until this much of the lease has passed on this process's monotonic clock, the turn holds
 * for certain and the fence asks Redis nothing. Half the lease leaves room for the two clocks' rates.
 */
const CERTAIN_TURN_MS = DEFAULT_LEASE_MS / 2;

export interface PacingTurnOptions {
  /** Monotonic milliseconds (tests stand in a stalled process); performance.now by default. */
  monotonicNow?: () => number;
}

/**
 * Runs a poll's pacing step as one more writer on the campaign's lifecycle lock (lifecycle/lock.ts),
 * the lock every command holds from its first CXone read to its last record write, its carried safe
 * start's memory included. A command's write and pacing's read-decide-write therefore never interleave:
 *  - a command holds the campaign now: deferred (it is changing what the poll read);
 *  - a command wrote since the poll read the record (`seen`): deferred (changeSinceRead), rather than
 *    deciding for the campaign as it was — a raise over a safe start just carried, a change queued for a
 *    campaign paused since, pacing's memory stored over the command's;
 *  - a command is queued, not yet run (the campaign's command order): deferred, or `waiting` when it is
 *    pacing's own previous change (commandAhead);
 *  - otherwise `step` runs on the record read under the lock, and calls `fence` before its first write
 *    so that a turn whose lease lapsed (a stalled process) writes nothing. A turn younger than
 *    CERTAIN_TURN_MS cannot have lapsed, so the fence reads Redis only for an older one;
 *  - a command accepted after the order was read (it takes no lock to be accepted) refuses the change
 *    the step queues behind `orderSeen` (CommandAcceptedAheadError, before anything is written):
 *    deferred, as if the turn had read it.
 * The record and the order are read in one round trip, right after the lock is taken. The lock is held
 * for a few Redis round trips; a command that meets it waits its usual short delay.
 * Every step that does not run (deferred, or waiting for pacing's own change) is counted and added to
 * the campaign's deferral episode, warned of once it lasts (deferrals.ts); a step that runs ends it.
 */
export async function pacingTurn<T>(
  ctx: AppContext,
  seen: CampaignRecord,
  step: (record: CampaignRecord, fence: PacingFence, orderSeen: PacingOrderSeen) => Promise<T>,
  opts: PacingTurnOptions = {},
): Promise<T | PacingDeferred | PacingWaiting> {
  const turn = await takeTurn(ctx, seen, step, opts);
  // Accounted once the lock is released: a command meeting the turn waits no longer for it.
  const { campaignId } = seen;
  const { result, episode } = turn;
  if (turn.held !== undefined) {
    await noteDeferral(ctx, campaignId, turn.held.cause, turn.held.detail);
  } else if (episode) {
    await endDeferralEpisode(ctx, campaignId, episode, turn.ended ? 'ended' : 'paced');
  }
  return result;
}

/**
 * What a turn came to, for its accounting (deferrals.ts): `held` names why the step did not run, unset
 * when it ran or the campaign ended (`ended`); `episode` is the open deferral episode, when the turn got
 * as far as reading it.
 */
interface TurnTaken<R> {
  result: R;
  held?: { cause: DeferralCause; detail: string };
  ended?: true;
  episode?: DeferralTally | null;
}

async function takeTurn<T>(
  ctx: AppContext,
  seen: CampaignRecord,
  step: (record: CampaignRecord, fence: PacingFence, orderSeen: PacingOrderSeen) => Promise<T>,
  opts: PacingTurnOptions,
): Promise<TurnTaken<T | PacingDeferred | PacingWaiting>> {
  const { campaignId } = seen;
  const monotonicNow = opts.monotonicNow ?? (() => performance.now());
  const askedAt = monotonicNow();
  const lease = await tryAcquireCampaignLock(
    { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, owner: POLL_OWNER },
    campaignId,
  );
  if (lease === null) {
    return held(ctx, campaignId, 'command_running', 'a command is at work on the campaign');
  }
  let episode: DeferralTally | null = null;
  try {
    // One round trip, all read under the lock (the deferral episode rides along, so a paced poll
    // outside any episode pays nothing for it; its failure fails nothing, see readEpisode).
    const [now, pending, tally] = await Promise.all([
      new CampaignStore(ctx).get(campaignId),
      unfinishedCommands(ctx, campaignId),
      readEpisode(ctx, campaignId),
    ]);
    episode = tally;
    const change = changeSinceRead(seen, now);
    if (change !== null || now === null) {
      const ended = now === null ? null : isFinal(now.status) ? now.status : undefined;
      if (ended !== undefined) {
        return { result: deferred(ctx, campaignId, change ?? 'gone', ended), ended: true, episode };
      }
      return held(ctx, campaignId, 'changed_since_read', change ?? 'gone');
    }
    if (pending.length > 0) {
      const own = readPacingRecord(now.pacing, pacingStrategyOf(now.config)).pendingCommandId;
      const ahead = commandAhead(await firstLiveCommand(ctx, pending), own);
      if (ahead?.kind === 'deferred') return held(ctx, campaignId, 'command_queued', ahead.reason);
      if (ahead !== null) {
        const detail = `pacing's own change ${ahead.commandId} is still queued or running`;
        return { result: ahead, held: { cause: 'own_change_pending', detail }, episode };
      }
    }
    const fence = async () => {
      if (lease.held() && monotonicNow() - askedAt < CERTAIN_TURN_MS) return;
      await lease.verify();
    };
    return { result: await step(now, fence, pending), episode };
  } catch (err) {
    if (err instanceof LockLostError) {
      return held(ctx, campaignId, 'turn_lapsed', 'its turn on the campaign lapsed');
    }
    if (err instanceof CommandAcceptedAheadError) {
      return held(
        ctx,
        campaignId,
        'command_accepted_ahead',
        `command ${err.others.join(', ')} was accepted as pacing queued its change`,
      );
    }
    throw err;
  } finally {
    await lease.release();
  }
}

/**
 * The campaign's open deferral episode, best-effort: it only feeds the info line that tells a warned
 * episode's end (endDeferralEpisode), so a failed read (a Redis error on that one command, e.g. a
 * WRONGTYPE key) is logged at warn and read as no open episode, never failing the turn — the record
 * and the order are what it decides on. An episode left open by it is ended by a later turn, or
 * expires (DEFERRAL_TALLY_TTL_MS). The warning is throttled per campaign and error (warnTallyFailure):
 * a key that stays unreadable (a WRONGTYPE: nothing deletes it) fails the read of every poll.
 */
async function readEpisode(ctx: AppContext, campaignId: string): Promise<DeferralTally | null> {
  try {
    return await readDeferralTally(ctx, campaignId);
  } catch (err) {
    warnTallyFailure(
      ctx,
      campaignId,
      err,
      'pacing deferral episode could not be read: taken as none open for this turn',
    );
    return null;
  }
}

function held(
  ctx: AppContext,
  campaignId: string,
  cause: DeferralCause,
  reason: string,
): TurnTaken<PacingDeferred> {
  return { result: deferred(ctx, campaignId, reason), held: { cause, detail: reason } };
}

function deferred(
  ctx: AppContext,
  campaignId: string,
  reason: string,
  ended?: string | null,
): PacingDeferred {
  ctx.logger.debug({ campaignId, reason }, 'pacing left to the next poll');
  return { kind: 'deferred', reason, ...(ended !== undefined ? { ended } : {}) };
}
