import { DelayedError, Worker, type Job } from 'bullmq';
import { createCampaignStore, UnknownCampaignError } from '../shared/campaign-store.js';
import { noteCleanupFoundMissing, noteMissingOnCxone } from '../shared/campaign-missing.js';
import type { AppContext } from '../shared/context.js';
import { CxoneNotFoundError } from '../shared/errors.js';
import { adjustJobSchema, type AdjustJob } from '../shared/jobs.js';
import { QUEUES } from '../shared/keys.js';
import { createLaunchStore, LAUNCH_FAILED_REASON } from '../shared/launch-store.js';
import {
  createCommandStore,
  isFinished,
  type CommandRecord,
  type CommandStatus,
} from '../shared/lifecycle/commands.js';
import { executeCommand, PartialFailureError, type ExecutionOutcome } from '../shared/lifecycle/executor.js';
import { HistoryBehindError } from '../shared/lifecycle/own-write.js';
import { createLifecycleHooks } from '../shared/lifecycle/hooks.js';
import { DEFAULT_LEASE_MS, lockOwner, tryAcquireCampaignLock } from '../shared/lifecycle/lock.js';
import { createCommandOrder } from '../shared/lifecycle/order.js';
import { commandFate } from '../shared/lifecycle/pending-commands.js';
import { lifecycleCommands, lifecycleLockWaits } from '../shared/metrics.js';
import { classifyError } from '../shared/retry/classify.js';
import { failedForStallLimit, isLastAttempt, rethrowForBullmq } from './job-errors.js';
import { trackHandlerWork } from './handler-work.js';
import { timedProcessor } from './job-timing.js';
import { JOB_BACKOFF, workerOptions } from './worker-options.js';

export interface AdjustWorkerOptions {
  /** Campaign lock lease; renewed while a command runs. */
  leaseMs?: number;
}

/** Lock waits are short: a command holds its campaign for a few CXone round trips. */
const LOCK_WAIT_MS: readonly [number, number] = [50, 400];
/**
 * A command behind another on its campaign waits this long at most; usually less, because the
 * command ahead promotes the next one when it finishes.
 */
const TURN_WAIT_MS: readonly [number, number] = [250, 750];

const jittered = ([min, max]: readonly [number, number]) => min + Math.floor(Math.random() * (max - min));

/**
 * The adjust queue's worker: applies campaign commands (shared/lifecycle/executor.ts) one at a time
 * per campaign across the fleet, in the order they were accepted.
 *
 * Two gates before a command runs, both re-checked by whichever worker holds the job:
 *   1. its turn: it must be the oldest unfinished command of its campaign (lifecycle/order.ts);
 *   2. the campaign lock with fencing tokens (lifecycle/lock.ts), which also fences a worker that
 *      stalled past its lease.
 * A job that must wait is moved back to delayed (`job.moveToDelayed` + DelayedError). BullMQ does not
 * count that as an attempt, so waiting never uses up the retries kept for real failures, and the
 * worker slot serves other campaigns meanwhile.
 */
export function createAdjustWorker(ctx: AppContext, opts: AdjustWorkerOptions = {}): Worker {
  const log = ctx.logger.child({ component: 'adjust-worker' });
  const commands = createCommandStore(ctx);
  const order = createCommandOrder(ctx);
  const store = createCampaignStore(ctx);
  const hooks = createLifecycleHooks(ctx);
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const owner = lockOwner();
  const queue = ctx.queues.adjust;
  const nowDate = () => new Date(ctx.clock.now());

  // Best-effort: the command record already holds the outcome, and a throw here would send the job
  // to `fail`, which sets a finished command back to queued (or failed) and runs it again.
  const recordLastCommand = async (record: CommandRecord | null) => {
    if (!record) return;
    try {
      await store.patch(record.campaignId, {
        lastCommand: {
          commandId: record.commandId,
          status: record.status,
          actor: record.actor,
          reason: record.reason,
          ...(record.action ? { action: record.action } : {}),
          ...(record.result ? { version: record.result.version } : {}),
          at: record.updatedAt,
        },
      });
    } catch (err) {
      if (err instanceof UnknownCampaignError) return;
      log.warn(
        { commandId: record.commandId, campaignId: record.campaignId, err: (err as Error).message },
        "could not note the command's outcome on the campaign record; the command record has it",
      );
    }
  };

  /** Leaves the campaign's order and wakes the next command instead of letting it sleep out its wait. */
  const leaveOrder = async (campaignId: string, commandId: string) => {
    await order.remove(campaignId, commandId);
    const next = await order.head(campaignId);
    if (!next) return;
    const job = await queue.getJob(next);
    // Only a delayed job can be promoted; one that is active or waiting is on its way anyway.
    await job?.promote().catch(() => undefined);
  };

  /**
   * A head that can never run (commandFate: finished, its job gone or dead) must not block the
   * campaign; one whose record is still unfinished is recorded lost.
   */
  const headIsDead = async (commandId: string): Promise<boolean> => {
    const { dead, jobState: state } = await commandFate(ctx, commandId);
    if (!dead || state === undefined) return dead;
    // Our processor records the outcome before BullMQ moves the job on, so a command finished by its
    // job is seen finished here; only one BullMQ ended without us (stalled out, removed) is lost.
    const again = await commands.get(commandId);
    if (again && !isFinished(again.status)) {
      await commands.update(
        commandId,
        {
          status: 'failed',
          finishedAt: nowDate().toISOString(),
          error: {
            kind: 'lost',
            message: `the command's job is ${state}; it was never carried out to the end`,
          },
        },
        nowDate(),
      );
      log.warn({ commandId, campaignId: again.campaignId, state }, 'dropped a command whose job is gone');
      // Finished like any other: counted, so queued minus finished does not read as in flight for good.
      lifecycleCommands.inc({ kind: again.action ?? 'patch', outcome: 'failed' });
    }
    return true;
  };

  const myTurn = async (data: AdjustJob): Promise<boolean> => {
    for (;;) {
      const head = await order.head(data.campaignId);
      // Not in the order at all (enqueued by hand or by an older release): nothing to wait for.
      if (head === null || head === data.commandId) return true;
      if (!(await headIsDead(head))) return false;
      await order.remove(data.campaignId, head);
    }
  };

  const waitAndRetry = async (job: Job, token: string | undefined, ms: number): Promise<never> => {
    await job.moveToDelayed(Date.now() + ms, token);
    throw new DelayedError();
  };

  const finish = async (data: AdjustJob, outcome: ExecutionOutcome, attempt: number): Promise<void> => {
    const finishedAt = nowDate().toISOString();
    const common = { status: outcome.status as CommandStatus, finishedAt, error: undefined };
    // Named by attempt: a rollback kept from an earlier attempt must not read as this one's.
    const rollback =
      outcome.status !== 'succeeded' && outcome.rollback ? { ...outcome.rollback, attempt } : undefined;
    const partial: Partial<CommandRecord> =
      outcome.status === 'succeeded'
        ? { ...common, result: outcome.result }
        : outcome.status === 'conflict'
          ? { ...common, conflict: outcome.conflict, ...(rollback ? { rollback } : {}) }
          : { ...common, error: outcome.error, ...(rollback ? { rollback } : {}) };
    await recordLastCommand(await commands.update(data.commandId, partial, nowDate()));
    lifecycleCommands.inc({ kind: data.action ?? 'patch', outcome: outcome.status });
    log.info(
      { commandId: data.commandId, campaignId: data.campaignId, outcome: outcome.status },
      'campaign command finished',
    );
  };

  /**
   * A pause or a stop queued behind `commandId` on its campaign, still to run (the calling window's at
   * its close, the guard's, an operator's), or null.
   */
  const pauseBehind = async (campaignId: string, commandId: string): Promise<CommandRecord | null> => {
    const pending = await order.pending(campaignId);
    const at = pending.indexOf(commandId);
    for (const id of at < 0 ? [] : pending.slice(at + 1)) {
      const record = await commands.get(id);
      if (record && !isFinished(record.status) && (record.action === 'pause' || record.action === 'stop')) {
        return record;
      }
    }
    return null;
  };

  /**
   * A command that cannot tell yet whether its earlier write was applied and changed since (CXone's
   * history lags: HistoryBehindError) retries with backoff, for minutes should the history not catch
   * up, and holds its campaign's order meanwhile: a pause behind it, the calling window's at its close
   * or the guard's, would wait out every retry while the campaign dials. With one waiting it ends now,
   * failed, having written nothing this run; null otherwise (retried as any transient failure). Best
   * effort: unanswered (Redis), it retries.
   */
  const yieldToPause = async (data: AdjustJob, cause: unknown): Promise<ExecutionOutcome | null> => {
    if (!(cause instanceof HistoryBehindError)) return null;
    const waiting = await pauseBehind(data.campaignId, data.commandId).catch(() => null);
    if (!waiting) return null;
    log.warn(
      { commandId: data.commandId, campaignId: data.campaignId, waiting: waiting.commandId },
      'ended a command waiting on a lagging CXone history, so the pause behind it runs',
    );
    return {
      status: 'failed',
      error: {
        kind: 'history_behind',
        message:
          `${cause.message}; ended rather than hold up the ${waiting.action} behind it (command ` +
          `${waiting.commandId}, ${waiting.reason}): check the campaign in CXone, then send this command again if still wanted`,
      },
    };
  };

  /**
   * A pause or a stop waiting its turn behind a command between retries on a lagging history (its
   * last run failed so): that command runs now rather than at the end of its backoff, up to a minute
   * away, and ends itself for the pause (yieldToPause) should the history still lag. Best effort.
   */
  const hurryAhead = async (data: AdjustJob): Promise<void> => {
    if (data.action !== 'pause' && data.action !== 'stop') return;
    const head = await order.head(data.campaignId);
    if (head === null || head === data.commandId) return;
    const record = await commands.get(head);
    if (record?.status !== 'queued' || record.error?.kind !== HistoryBehindError.name) return;
    const job = await queue.getJob(head);
    if (job && (await job.isDelayed())) await job.promote();
  };

  /** Records a failed attempt; the command only fails for good when BullMQ will not retry it. */
  const fail = async (job: Job, data: AdjustJob, err: unknown): Promise<boolean> => {
    const cause = err instanceof PartialFailureError ? err.cause : err;
    const rollback = err instanceof PartialFailureError ? err.rollback : undefined;
    const decision = classifyError(cause, { attempt: job.attemptsMade + 1, backoff: JOB_BACKOFF });
    const lastAttempt = isLastAttempt(decision, job);
    const error = {
      message: decision.kind === 'permanent' ? decision.message : decision.reason,
      kind: (cause as { kind?: string }).kind ?? (cause instanceof Error ? cause.name : 'error'),
      ...(typeof (cause as { status?: unknown }).status === 'number'
        ? { status: (cause as { status: number }).status }
        : {}),
    };
    const updated = await commands
      .update(
        data.commandId,
        {
          // Between attempts the command is waiting again (and keeps its turn); only the last failure is final.
          status: lastAttempt ? 'failed' : 'queued',
          error,
          // Named by attempt, so an earlier attempt's rollback does not read as this failure's.
          ...(rollback ? { rollback: { ...rollback, attempt: job.attemptsMade + 1 } } : {}),
          ...(lastAttempt ? { finishedAt: nowDate().toISOString() } : {}),
        },
        nowDate(),
      )
      .catch(() => null);
    if (lastAttempt) {
      await recordLastCommand(updated);
      lifecycleCommands.inc({ kind: data.action ?? 'patch', outcome: 'failed' });
      if (cause instanceof CxoneNotFoundError) await noteCampaignGone(data);
    }
    return lastAttempt;
  };

  /**
   * The command met CXone's 404 for its campaign (deleted after the command was accepted, say): the
   * disappearance is recorded as any other look that meets it records it (docs/api.md), so the
   * campaign's view stops showing it alive and the trail and webhooks say so, once. A failed launch's
   * cleanup stop also tells its launch. Best effort: the command record already says what happened.
   */
  const noteCampaignGone = async (data: AdjustJob) => {
    if (data.reason === LAUNCH_FAILED_REASON) {
      await noteLaunchCampaignGone(data.campaignId, data.commandId);
      return;
    }
    try {
      await noteMissingOnCxone(ctx, data.campaignId, 'command', data.actor);
    } catch (err) {
      log.warn(
        { campaignId: data.campaignId, commandId: data.commandId, err: (err as Error).message },
        'could not note that CXone no longer knows the campaign; the command record says so',
      );
    }
  };

  /**
   * The cleanup stop of a failed launch met a 404: CXone does not know the campaign (deleted, a CXone
   * that lost its state, or the fleet now talks to another tenant), so the stop is over and the launch
   * must stop naming it as pending; the trail gets the disappearance, as for any 404 of a campaign.
   * Best effort: the command record already says what happened.
   */
  const noteLaunchCampaignGone = async (campaignId: string, stopId: string) => {
    try {
      const launches = createLaunchStore(ctx);
      const launchId = await launches.launchOfCampaign(campaignId);
      if (launchId && (await launches.recordCampaignGone(launchId, campaignId, stopId))) {
        log.warn(
          { campaignId, launchId },
          "the failed launch's campaign is not found on CXone: its stop failed, nothing was cancelled",
        );
        await noteCleanupFoundMissing(ctx, campaignId, launchId);
      }
    } catch (err) {
      log.warn(
        { campaignId, err: (err as Error).message },
        'could not note on the failed launch that its campaign no longer exists on CXone',
      );
    }
  };

  const processJob = async (job: Job, token?: string): Promise<CommandStatus> => {
    const parsed = adjustJobSchema.safeParse(job.data);
    if (!parsed.success) return rethrowForBullmq(parsed.error, job, queue, ctx, token);
    const data = parsed.data;

    const existing = await commands.get(data.commandId);
    // A redelivered job whose command already finished (e.g. the worker died after recording it).
    if (existing && isFinished(existing.status)) {
      // Dead between recording a command meeting the 404 and noting the campaign gone (on its launch,
      // for a failed launch's stop): noted now (once), or the campaign would read as alive.
      if (existing.status === 'failed' && existing.error?.kind === 'not_found') {
        await noteCampaignGone(data);
      }
      await leaveOrder(data.campaignId, data.commandId);
      return existing.status;
    }
    if (!(await myTurn(data))) {
      await hurryAhead(data).catch(() => undefined);
      return waitAndRetry(job, token, jittered(TURN_WAIT_MS));
    }

    const lease = await tryAcquireCampaignLock(
      { redis: ctx.redis, keys: ctx.keys, logger: log, owner: `${owner}:${job.id}`, leaseMs },
      data.campaignId,
    );
    if (!lease) {
      lifecycleLockWaits.inc();
      return waitAndRetry(job, token, jittered(LOCK_WAIT_MS));
    }

    // What this attempt persists for the next ones (job.updateData replaces the whole payload).
    let saved: AdjustJob = data;
    const persist = async (progress: Partial<AdjustJob>) => {
      saved = { ...saved, ...progress };
      await job.updateData(saved);
    };
    let done = false;
    try {
      await commands.update(
        data.commandId,
        {
          status: 'running',
          attempts: (existing?.attempts ?? 0) + 1,
          worker: owner,
          startedAt: existing?.startedAt ?? nowDate().toISOString(),
        },
        nowDate(),
      );
      const outcome = await executeCommand(
        {
          cxone: ctx.cxone,
          store,
          audit: ctx.audit,
          events: ctx.events,
          logger: log,
          clock: ctx.clock,
          hooks,
          commands,
        },
        {
          job: data,
          lease,
          attempt: job.attemptsMade + 1,
          resumed: (existing?.attempts ?? 0) > 0,
          saveBase: (base, baseVersion) => persist({ base, baseVersion }),
          saveSettingsRecorded: (version) => persist({ settingsRecordedVersion: version }),
          saveLocalRecorded: () => persist({ localRecorded: true }),
          statusRecorded: data.statusRecorded === true,
          saveStatusRecorded: () => persist({ statusRecorded: true }),
          saveCarried: (carried) => persist({ carriedSafeStart: carried ?? undefined }),
          saveSent: (sent, step) =>
            persist({ lastSent: sent, ...(step === 'settings' ? { settingsSent: sent } : {}) }),
          forgetSettingsSent: (alsoLast) =>
            persist({ settingsSent: undefined, ...(alsoLast ? { lastSent: undefined } : {}) }),
        },
      );
      await finish(data, outcome, job.attemptsMade + 1);
      done = true;
      return outcome.status;
    } catch (err) {
      const ended = await yieldToPause(data, err instanceof PartialFailureError ? err.cause : err);
      if (ended) {
        await finish(data, ended, job.attemptsMade + 1);
        done = true;
        return ended.status;
      }
      done = await fail(job, data, err);
      return await rethrowForBullmq(
        err instanceof PartialFailureError ? err.cause : err,
        job,
        queue,
        ctx,
        token,
      );
    } finally {
      await lease.release();
      if (done) await leaveOrder(data.campaignId, data.commandId).catch(() => undefined);
    }
  };

  /**
   * A command whose job BullMQ failed without running it — its runs stalled more often than
   * maxStalledCount (a command that kept killing or hanging its workers). No run recorded it, so it
   * read `queued` or `running` for the week its record lives, and `cxo` waited on it, until another
   * command of its campaign happened to find it dead (headIsDead). Recorded as that finds it, and
   * taken out of its campaign's order, at once.
   */
  const settleGivenUp = async (job: Job, err: Error): Promise<void> => {
    const parsed = adjustJobSchema.safeParse(job.data);
    if (!parsed.success) return;
    const { commandId, campaignId } = parsed.data;
    const record = await commands.get(commandId);
    if (record && !isFinished(record.status)) {
      const updated = await commands.update(
        commandId,
        {
          status: 'failed',
          finishedAt: nowDate().toISOString(),
          error: {
            kind: 'lost',
            message: `${err.message}: its runs stalled (their workers died or hung while running it) and BullMQ gave it up; it was never carried out to the end`,
          },
        },
        nowDate(),
      );
      await recordLastCommand(updated);
      lifecycleCommands.inc({ kind: record.action ?? 'patch', outcome: 'failed' });
      log.warn({ commandId, campaignId }, 'dropped a command BullMQ gave up on after its runs stalled');
    }
    await leaveOrder(campaignId, commandId);
  };

  // Every run timed, the ones that wait for their turn or their campaign's lock (`delayed`) included;
  // a run that completed did so whatever its command came to (cxo_lifecycle_commands_total says that).
  const worker = new Worker(
    QUEUES.adjust,
    timedProcessor(QUEUES.adjust, processJob),
    workerOptions(ctx, QUEUES.adjust),
  );
  // close() waits for it (handler-work.ts), as the launch worker's.
  const handlerWork = trackHandlerWork(worker);
  worker.on('failed', (job, err) => {
    // BullMQ's own failure of a job it did not run; every other is recorded by the run (fail above).
    if (!failedForStallLimit(job, err)) return;
    handlerWork.run(() =>
      settleGivenUp(job, err).catch((settleErr: unknown) =>
        log.error(
          { jobId: job.id, err: (settleErr as Error).message },
          'could not record a command BullMQ gave up on; the next command of its campaign drops it',
        ),
      ),
    );
  });
  return worker;
}
