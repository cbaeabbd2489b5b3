import { hostname } from 'node:os';
import { CampaignStore, type CampaignRecord } from '../campaign-store.js';
import type { AppContext } from '../context.js';
import { LockLostError, tryAcquireCampaignLock } from '../lifecycle/lock.js';
import { isFinal } from '../lifecycle/state-machine.js';

/**
 * A poll's pacing step that did not run: what the poll read may no longer hold (a command wrote the
 * campaign, or is writing it now). The next tick decides, on statistics read after that command.
 */
export interface PacingDeferred {
  kind: 'deferred';
  reason: string;
}

/** The writes a pacing step makes check first that its turn still holds (throws LockLostError if not). */
export type PacingFence = () => Promise<void>;

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

const POLL_OWNER = `${hostname()}:${process.pid}:poll`;

/**
 * Runs a poll's pacing step as one more writer on the campaign's lifecycle lock (lifecycle/lock.ts),
 * the lock every command holds from its first CXone read to its last record write, its carried safe
 * start's memory included. A command's write and pacing's read-decide-write therefore never interleave:
 *  - a command holds the campaign now: deferred (it is changing what the poll read);
 *  - a command wrote since the poll read the record (`seen`): deferred (changeSinceRead), rather than
 *    deciding for the campaign as it was — a raise over a safe start just carried, a change queued for a
 *    campaign paused since, pacing's memory stored over the command's;
 *  - otherwise `step` runs on the record read under the lock, and calls `fence` before its first write
 *    so that a turn whose lease lapsed (a stalled process) writes nothing.
 * The lock is held for a few Redis round trips; a command that meets it waits its usual short delay.
 */
export async function pacingTurn<T>(
  ctx: AppContext,
  seen: CampaignRecord,
  step: (record: CampaignRecord, fence: PacingFence) => Promise<T>,
): Promise<T | PacingDeferred> {
  const { campaignId } = seen;
  const lease = await tryAcquireCampaignLock(
    { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, owner: POLL_OWNER },
    campaignId,
  );
  if (lease === null) {
    return deferred(ctx, campaignId, 'a command is at work on the campaign');
  }
  try {
    const now = await new CampaignStore(ctx).get(campaignId);
    const change = changeSinceRead(seen, now);
    if (change !== null || now === null) return deferred(ctx, campaignId, change ?? 'gone');
    return await step(now, () => lease.verify());
  } catch (err) {
    if (err instanceof LockLostError) return deferred(ctx, campaignId, 'its turn on the campaign lapsed');
    throw err;
  } finally {
    await lease.release();
  }
}

function deferred(ctx: AppContext, campaignId: string, reason: string): PacingDeferred {
  ctx.logger.debug({ campaignId, reason }, 'pacing left to the next poll');
  return { kind: 'deferred', reason };
}
