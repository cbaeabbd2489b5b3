import { randomUUID } from 'node:crypto';
import { RateLimitError, UnrecoverableError, Worker, type Job } from 'bullmq';
import { timedProcessor } from './job-timing.js';
import type { AppContext } from '../shared/context.js';
import type { StoredEvent } from '../shared/events/publisher.js';
import { QUEUES } from '../shared/keys.js';
import { webhookJobSchema } from '../shared/jobs.js';
import { registerWebhookHoldReader, webhookDestinationBackoffs, webhookOutcomes } from '../shared/metrics.js';
import type { AuditInput } from '../shared/audit/types.js';
import {
  DEFAULT_DELIVERY_TIMEOUT_MS,
  deliverOnce,
  type DeliveryAttempt,
} from '../shared/webhooks/deliver.js';
import { labelUrlsIn } from '../shared/webhooks/shown-destination.js';
import {
  DEFAULT_DESTINATION_BACKOFF,
  destinationBackoffKeys,
  destinationHoldLeftMs,
  destinationRef,
  dropForeignHold,
  enterDestinationGate,
  holdDestinationQueue,
  holdsDestination,
  releaseProbe,
  type DestinationBackoffBounds,
  type DestinationRef,
} from '../shared/webhooks/backoff.js';
import { classifyDelivery } from '../shared/webhooks/outcome.js';
import { settleOwedAudits } from '../shared/webhooks/owed-audit.js';
import {
  DEFAULT_JITTER_RATIO,
  DEFAULT_RETRY_SCHEDULE_MS,
  retryDelayMs,
} from '../shared/webhooks/schedule.js';
import {
  countSend,
  deadLetter,
  deadLetterUndecided,
  disableDestination,
  jobInstance,
  loadDeliveryContext,
  markDelivered,
  recordAttempt,
  spendFreeHold,
  type DeadLetter,
  type DeadLetterReason,
  type DeliveryContext,
  type FreeHold,
} from '../shared/webhooks/store.js';
import {
  backfillPendingIndex,
  DEFAULT_SWEEP_GRACE_MS,
  DEFAULT_SWEEP_INTERVAL_MS,
  sweepOrphanedEvents,
  takeSweepTurn,
  type SweepResult,
} from '../shared/webhooks/sweep.js';
import { trackHandlerWork } from './handler-work.js';
import { workerOptions } from './worker-options.js';

/**
 * An error's message as the worker's logs and dead letters may show it: any URL in it labelled
 * (labelUrlsIn), so WEBHOOK_URL's path and query, where receivers keep tokens, stay out.
 */
function shownError(err: unknown): string {
  return labelUrlsIn(err instanceof Error ? err.message : String(err));
}

/**
 * Delivers events to WEBHOOK_URL (Standard Webhooks). Each job is one event, identified by the event
 * id; it POSTs the stored bytes, so every attempt — and every replay — sends the same body under the
 * same `webhook-id`. Retries follow the webhook schedule (not the CXone backoff): the worker's custom
 * backoff strategy reads the error that failed the attempt, so a receiver's Retry-After for a 5xx
 * sets the delay for that job alone. A receiver that says it is overloaded (408/429/503) holds the
 * whole webhook queue instead, on every worker process (src/shared/webhooks/backoff.ts), and once it
 * ends one send probes the receiver alone before the rest follow; the CXone queues are never slowed
 * by either.
 */

export interface WebhookWorkerOptions {
  /** Delays before each retry; the job's attempts are set by the publisher from the same schedule. */
  retrySchedule?: readonly number[];
  jitterRatio?: number;
  random?: () => number;
  timeoutMs?: number;
  /** Parallel deliveries; a slow receiver holds at most one slot per event, for at most timeoutMs. */
  concurrency?: number;
  /**
   * How often to sweep: append the audit records webhook outcomes still owe (owed-audit.ts), and with
   * a destination, look for pending events with no delivery job (src/shared/webhooks/sweep.ts); 0 = never.
   */
  sweepIntervalMs?: number;
  /** How old a pending event must be before the sweep queues its job again. */
  sweepGraceMs?: number;
  /** Bounds of the destination-wide hold after a 408/429/503 (default 1 s … 10 min). */
  destinationBackoff?: Partial<DestinationBackoffBounds>;
  /**
   * Holds an event's job may meet without spending an attempt; later ones spend one (default 10).
   * Only a send whose own answer began or joined a hold counts (spendFreeHold), not a put-back of a
   * send that was only waiting.
   */
  freeHoldsPerEvent?: number;
  /**
   * While another send probes the receiver after a hold, how often a waiting send looks again
   * (default 250 ms): it goes as soon as the probe's 2xx ends the backoff.
   */
  probePollMs?: number;
  /**
   * How long the worker's start waits for the check that drops another destination's hold (default
   * 5 s); past it the worker starts anyway (see startup below).
   */
  startupCheckMs?: number;
}

export const DEFAULT_PROBE_POLL_MS = 250;

export const DEFAULT_STARTUP_CHECK_MS = 5_000;

export const DEFAULT_FREE_HOLDS_PER_EVENT = 10;

/**
 * How long BullMQ's main loop sleeps at a time through a hold (the queue's rate limit) before it
 * looks at the limiter key again: one cheap fetch a second per worker process while a hold lasts.
 * pause(), which a graceful shutdown waits on (closeWorkers) and a contest of the fleet's prefix
 * calls, cannot cut a sleep short: at the shared 30 s, a SIGTERM during a hold waited up to 30 s
 * with no delivery running, and could outlast SHUTDOWN_TIMEOUT_MS (a forced close, its warning
 * blaming jobs still running).
 */
export const HOLD_RECHECK_MS = 1_000;

/** Fails the attempt so BullMQ retries it on the webhook schedule (or after the receiver's Retry-After). */
export class WebhookRetryError extends Error {
  constructor(
    message: string,
    readonly eventId: string,
    readonly attempt: number,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
  ) {
    super(message);
    this.name = 'WebhookRetryError';
  }
}

/**
 * The run's outcome is already recorded (dead-lettered, or the event is no longer stored): BullMQ
 * fails the job without retrying, and the worker's `failed` fallback leaves it alone.
 */
export class WebhookSettledError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSettledError';
  }
}

export function webhookBackoffStrategy(
  opts: Pick<WebhookWorkerOptions, 'retrySchedule' | 'jitterRatio' | 'random'>,
) {
  return (attemptsMade: number, _type?: string, err?: Error): number =>
    retryDelayMs({
      retry: attemptsMade,
      schedule: opts.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_MS,
      retryAfterMs: err instanceof WebhookRetryError ? err.retryAfterMs : undefined,
      jitterRatio: opts.jitterRatio ?? DEFAULT_JITTER_RATIO,
      ...(opts.random ? { random: opts.random } : {}),
    });
}

/**
 * Events published before a campaign exists (launch requested) carry no campaign id; the audit
 * records of their delivery failures go to this system chain instead.
 */
export const WEBHOOK_SYSTEM_AUDIT_ID = '_system:webhooks';

function eventIdOf(job: Job): string | undefined {
  const parsed = webhookJobSchema.safeParse(job.data);
  return parsed.success ? parsed.data.eventId : undefined;
}

/** What the dead-letter records need of an event (a stored event, or what the dead-letter script read). */
type EventRef = { type: string; campaignId: string };

function auditCampaignId(event: EventRef): string {
  return event.campaignId || WEBHOOK_SYSTEM_AUDIT_ID;
}

/**
 * Whether a failed delivery of this event gets a `webhook_failure` audit record. Not for a copy of
 * an audit record (`audit.record.appended`, WEBHOOK_AUDIT_RECORDS): that record would be published
 * too, to the receiver that is failing, and its failure recorded and published again, without end
 * (a receiver answering 400 to every event would grow the trail as fast as it answers). Its dead
 * letter, its log line and the metric still say it failed, and the record it carried stays in the trail.
 */
function auditsFailure(event: EventRef): boolean {
  return event.type !== 'audit.record.appended';
}

export function createWebhookWorker(ctx: AppContext, opts: WebhookWorkerOptions = {}): Worker {
  const logger = ctx.logger.child({ component: 'webhook-worker' });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
  const deps = { redis: ctx.redis, keys: ctx.keys };
  const backoffBounds: DestinationBackoffBounds = {
    ...DEFAULT_DESTINATION_BACKOFF,
    ...opts.destinationBackoff,
  };
  const freeHolds = opts.freeHoldsPerEvent ?? DEFAULT_FREE_HOLDS_PER_EVENT;
  const probePollMs = Math.max(1, opts.probePollMs ?? DEFAULT_PROBE_POLL_MS);
  // The probe's lease outlives its send (the timeout, then up to 1 s reading the body) with room to
  // record the verdict, so a live prober never loses it and a dead one frees it within seconds.
  const probeLeaseMs = timeoutMs + 5_000;
  // BullMQ's queue-wide rate limit lives in the limiter key (Queue.rateLimit's); every worker's fetch
  // checks it. The hold's owner and probe lease sit beside it (backoff.ts).
  const backoffKeys = destinationBackoffKeys(ctx.keys);
  const limiterKey = backoffKeys.limiterKey;
  const self: DestinationRef | undefined = ctx.config.webhook
    ? destinationRef(ctx.config.webhook.url)
    : undefined;

  /** A hold of another destination was dropped: logged once, by the process that dropped it. */
  function logForeignHoldDropped(previous: string, current: DestinationRef): void {
    logger.warn(
      { previousDestination: previous, destination: current.label },
      'webhook delivery hold of another destination dropped: WEBHOOK_URL changed since it was set',
    );
  }

  // The delivery outcome is already recorded when its audit record is appended: the script that
  // wrote the outcome wrote the record as owed with it (owed-audit.ts), so a failed append is logged,
  // not thrown (the job's retry would resend the event), and the next sweep appends it.
  const auditDeps = { ...deps, audit: ctx.audit, logger };

  /**
   * A dead letter's `webhook_failure` record: one per dead letter (its dedupe key names the event and
   * the letter's time; a replay dead-lettered again is another failure), dated when it failed.
   */
  function failureRecord(event: EventRef, letter: DeadLetter): AuditInput {
    return {
      campaignId: auditCampaignId(event),
      action: 'webhook_failure',
      actor: `worker:${QUEUES.webhook}`,
      details: { eventType: event.type, ...letter },
      dedupeKey: `webhook_failure:${letter.eventId}:${letter.at}`,
      occurredAt: letter.at,
    };
  }

  /** The trail and the log of a dead letter just written, with the record it owes (if audited). */
  async function recordDeadLetter(
    event: EventRef,
    letter: DeadLetter,
    owed: AuditInput | undefined,
  ): Promise<void> {
    if (owed) await settleOwedAudits(auditDeps, owed);
    logger.warn({ ...letter, type: event.type, campaignId: event.campaignId }, 'webhook event dead-lettered');
  }

  async function toDeadLetters(
    job: Job,
    event: StoredEvent,
    reason: DeadLetterReason,
    attempt: DeliveryAttempt | undefined,
    audit: boolean,
    // Each run is counted once: a 410 that disabled the destination counts as that, not also here.
    outcome: string = reason === 'exhausted' ? 'exhausted' : 'dead_lettered',
    run?: string,
  ): Promise<never> {
    const letter = {
      eventId: event.id,
      reason,
      attempts: job.attemptsMade + 1,
      at: new Date(ctx.clock.now()).toISOString(),
      ...(attempt?.status !== undefined ? { status: attempt.status } : {}),
      ...(attempt?.bodyExcerpt ? { bodyExcerpt: attempt.bodyExcerpt } : {}),
      ...(attempt?.error ? { error: attempt.error } : {}),
    };
    const owed = audit ? failureRecord(event, letter) : undefined;
    const written = await deadLetter(deps, letter, run, owed, jobInstance(job));
    if (written === 'superseded') throw settledWhileSending(event.id);
    if (written === 'missing') {
      // Its stored bytes expired since the run read them: no dead letter without the bytes to replay.
      webhookOutcomes.inc({ outcome: 'missing' });
      throw new WebhookSettledError(`webhook event ${event.id} expired before it could be dead-lettered`);
    }
    webhookOutcomes.inc({ outcome });
    await recordDeadLetter(event, letter, owed);
    throw new WebhookSettledError(
      `webhook event ${event.id} dead-lettered (${reason}${attempt?.status ? `, HTTP ${attempt.status}` : ''}); ` +
        'fix the receiver, then POST /v1/webhooks/dead-letters/replay',
    );
  }

  /**
   * Holds every delivery, fleet-wide, after the receiver said it is overloaded; true when the hold is
   * in place. Logged at warn and counted once per hold, by the answer that began it: the answers to
   * sends that were already under way join it silently (or lengthen it, by their own Retry-After).
   * A hold that cannot be stored (Redis failing) leaves the event to its ordinary retry.
   */
  async function holdDestination(
    eventId: string,
    status: number,
    retryAfterMs: number | undefined,
    destination: DestinationRef,
  ): Promise<boolean> {
    try {
      const hold = await holdDestinationQueue(ctx.redis, backoffKeys, {
        self: destination,
        retryAfterMs,
        bounds: backoffBounds,
      });
      if (hold.dropped) logForeignHoldDropped(hold.dropped, destination);
      const fields = {
        status,
        holdMs: hold.holdMs,
        until: new Date(ctx.clock.now() + hold.holdMs).toISOString(),
        streak: hold.streak,
        eventId,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
      if (hold.started) {
        webhookDestinationBackoffs.inc({ status: String(status) });
        logger.warn(
          fields,
          retryAfterMs !== undefined
            ? 'webhook receiver is overloaded: every delivery held for its Retry-After'
            : 'webhook receiver is overloaded: every delivery held (exponential backoff, no Retry-After)',
        );
      } else if (hold.lengthened) {
        logger.info(fields, "webhook delivery hold lengthened to another answer's Retry-After");
      }
      return true;
    } catch (err) {
      logger.warn(
        { eventId, status, err: shownError(err) },
        'could not store the webhook delivery hold; retrying this event on its schedule instead',
      );
      return false;
    }
  }

  /**
   * The event was settled while this run was sending: BullMQ failed the job for its stall limit and
   * the fallback dead-lettered it, or another run took the job over. That outcome, and its count,
   * stand; this run's verdict adds neither.
   */
  function settledWhileSending(eventId: string): WebhookSettledError {
    logger.warn({ eventId }, 'webhook event settled while this run was sending; its verdict is dropped');
    return new WebhookSettledError(`webhook event ${eventId} was settled while this run was sending`);
  }

  /**
   * The gate a send passes while a destination backoff is under way (backoff.ts, GATE_SCRIPT):
   * `probe` when this send is the probe that goes out alone after a hold, `waited` when it waited for
   * another send's probe first (the caller then reads the event and destination again). A job fetched just before a hold
   * began is put back unsent (RateLimitError: the worker then sleeps through the hold like every
   * other). While another send probes, this one waits here, in its slot, and looks again every
   * probePollMs: it goes the moment the probe's 2xx ends the backoff, takes the lease if the probe
   * failed otherwise (or its process died), and is put back if the probe's answer began a new hold.
   * Waiting in the slot rather than being put back keeps the fleet's fetches quiet. A worker pausing
   * or closing puts its waiters back, so shutdown does not wait for the probe. None of these
   * put-backs sent anything: they spend neither an attempt (BullMQ's RateLimitError leaves
   * attemptsMade alone) nor one of the event's free holds (counted by spendFreeHold, only for an
   * answer that met a hold; BullMQ's attemptsStarted counts every start, so it is not used).
   */
  async function passGate(
    eventId: string,
    run: string,
    destination: DestinationRef,
  ): Promise<{ probe: boolean; waited: boolean }> {
    let waited = false;
    for (;;) {
      const gate = await enterDestinationGate(ctx.redis, backoffKeys, {
        self: destination,
        run,
        leaseMs: probeLeaseMs,
      });
      switch (gate.kind) {
        case 'open':
          if (gate.dropped) logForeignHoldDropped(gate.dropped, destination);
          return { probe: false, waited };
        case 'probe':
          return { probe: true, waited };
        case 'held':
          logger.debug({ eventId, holdMs: gate.ms }, 'webhook job fetched as a hold began: put back unsent');
          throw new RateLimitError();
        case 'wait':
          if (worker.isPaused() || worker.closing) throw new RateLimitError();
          waited = true;
          await new Promise((resolve) => setTimeout(resolve, Math.min(probePollMs, Math.max(gate.ms, 1))));
      }
    }
  }

  async function handle(job: Job): Promise<{ status: number } | { skipped: string }> {
    const { eventId, replay } = webhookJobSchema.parse(job.data);
    const destination = ctx.config.webhook;
    const context = await loadDeliveryContext(deps, eventId, destination?.url);
    const checked = await checkBeforeSend(job, eventId, replay === true, context);
    if ('skipped' in checked) return checked;
    let event = checked.event;
    if (!destination || !self) return toDeadLetters(job, event, 'no_destination', undefined, false);

    const run = randomUUID();
    // Only while a backoff is under way (one more round trip then, none otherwise): see passGate.
    const gate = context.backoff ? await passGate(eventId, run, self) : { probe: false, waited: false };
    try {
      if (gate.waited) {
        // It waited for another send's probe, up to minutes: what it read before may be stale. That
        // probe's 410 disabled the destination (sending now would reach a receiver that said Gone),
        // or another run delivered or dead-lettered the event meanwhile.
        const again = await checkBeforeSend(
          job,
          eventId,
          replay === true,
          await loadDeliveryContext(deps, eventId, destination.url),
        );
        if ('skipped' in again) return again;
        event = again.event;
      }
      // Logged once it is sure to go out: a waiter that took the lease may have settled above instead.
      if (gate.probe) logger.info({ eventId }, 'webhook hold over: this delivery probes the receiver alone');
      return await send(job, event, destination, self, run, replay === true);
    } finally {
      // A 2xx or a new hold has already ended the lease; any other verdict hands it to the next sender.
      if (gate.probe) {
        await releaseProbe(ctx.redis, backoffKeys.probeKey, run).catch((err: unknown) =>
          logger.warn({ eventId, err }, 'could not release the webhook probe lease; it lapses by itself'),
        );
      }
    }
  }

  /**
   * What a job settles without sending, from what it read (loadDeliveryContext): an event no longer
   * stored (thrown), one already delivered or dead-lettered (skipped), a disabled destination
   * (dead-lettered, thrown). Otherwise the event to send.
   */
  async function checkBeforeSend(
    job: Job,
    eventId: string,
    replay: boolean,
    context: DeliveryContext,
  ): Promise<{ skipped: string } | { event: StoredEvent }> {
    const { event, alreadyDelivered, deadLettered, deadLetteredBy, destination: state } = context;
    if (!event) {
      webhookOutcomes.inc({ outcome: 'missing' });
      throw new WebhookSettledError(`webhook event ${eventId} is not stored (expired or never published)`);
    }
    // A job can run again after it delivered (its worker died before acknowledging); the log says so.
    if (!replay && alreadyDelivered) {
      webhookOutcomes.inc({ outcome: 'skipped' });
      return { skipped: 'already_delivered' };
    }
    // Likewise after it dead-lettered the event: sent again, the receiver would get a dead letter's
    // bytes with no replay asked for, and a second dead letter would record the one failure twice.
    // A replay's job too, once it dead-lettered the event itself (run again, it is the same job).
    if (deadLettered && (!replay || deadLetteredBy === jobInstance(job))) {
      webhookOutcomes.inc({ outcome: 'skipped' });
      return { skipped: 'already_dead_lettered' };
    }
    if (state && !state.enabled) return toDeadLetters(job, event, 'destination_disabled', undefined, false);
    return { event };
  }

  /**
   * Spends one of the event's free holds for this send's overload answer (spendFreeHold). If Redis
   * cannot say, the event falls back to its own retry, as when the hold itself cannot be stored.
   */
  async function spendHold(job: Job, eventId: string, run: string): Promise<FreeHold> {
    try {
      return await spendFreeHold(deps, eventId, { run, job: jobInstance(job), free: freeHolds });
    } catch (err) {
      logger.warn(
        { eventId, err: shownError(err) },
        "could not count the webhook event's free hold; retrying this event on its schedule instead",
      );
      return { kind: 'none_left' };
    }
  }

  /** One signed send of a stored event, and its verdict recorded. */
  async function send(
    job: Job,
    event: StoredEvent,
    destination: NonNullable<AppContext['config']['webhook']>,
    self: DestinationRef,
    run: string,
    replay: boolean,
  ): Promise<{ status: number }> {
    const eventId = event.id;
    const attemptNo = job.attemptsMade + 1;
    if ((await countSend(deps, eventId, ctx.clock.now(), run)) === null) {
      // Its TTL ran out since it was read: nothing is left to record the answer on, so nothing is sent.
      webhookOutcomes.inc({ outcome: 'missing' });
      throw new WebhookSettledError(`webhook event ${eventId} expired before it was sent`);
    }
    const attempt = await deliverOnce({
      url: destination.url,
      secret: destination.previousSecret
        ? [destination.secret, destination.previousSecret]
        : destination.secret,
      eventId,
      body: event.body,
      nowMs: ctx.clock.now(),
      timeoutMs,
    });
    const verdict = classifyDelivery(attempt, ctx.clock.now());
    let own = true;
    if (verdict.kind !== 'delivered') {
      own = await recordAttempt(deps, eventId, {
        ...(attempt.status !== undefined ? { status: attempt.status } : {}),
        ...(attempt.error ? { error: attempt.error } : {}),
        nowMs: ctx.clock.now(),
        replay,
        run,
      });
    }
    const logFields = {
      eventId,
      type: event.type,
      attempt: attemptNo,
      status: attempt.status,
      ms: attempt.durationMs,
    };

    switch (verdict.kind) {
      case 'delivered': {
        const {
          first,
          own: delivered,
          backoffEnded,
          holdCut,
        } = await markDelivered(deps, eventId, {
          status: attempt.status!,
          nowMs: ctx.clock.now(),
          run,
          destinationId: self.id,
        });
        if (backoffEnded) logger.info(logFields, 'webhook receiver accepts deliveries again');
        if (holdCut) {
          logger.info(
            logFields,
            'webhook receiver took a delivery during its hold: hold cut short, the next send probes it alone',
          );
        }
        // Recorded as delivered either way (the receiver has it), but counted only if still this run's.
        if (!delivered) throw settledWhileSending(eventId);
        webhookOutcomes.inc({ outcome: first ? 'delivered' : 'redelivered' });
        logger.info(logFields, first ? 'webhook delivered' : 'webhook redelivered (replay)');
        return { status: attempt.status! };
      }
      case 'disable': {
        const disabledAt = new Date(ctx.clock.now()).toISOString();
        // Owed in the disabling write, appended after it (owed-audit.ts): only by the call that flipped it.
        const owed: AuditInput = {
          campaignId: auditCampaignId(event),
          action: 'webhook_destination_disabled',
          actor: `worker:${QUEUES.webhook}`,
          details: {
            eventId,
            eventType: event.type,
            status: attempt.status,
            bodyExcerpt: attempt.bodyExcerpt ?? '',
          },
          dedupeKey: `webhook_destination_disabled:${eventId}:${disabledAt}`,
          occurredAt: disabledAt,
        };
        const flipped = await disableDestination(
          deps,
          destination.url,
          { status: attempt.status!, eventId, nowMs: Date.parse(disabledAt) },
          owed,
        );
        if (flipped) {
          logger.error(
            logFields,
            'webhook receiver answered 410 Gone: destination disabled until re-enabled',
          );
          await settleOwedAudits(auditDeps, owed);
        }
        return toDeadLetters(
          job,
          event,
          'destination_gone',
          attempt,
          false,
          flipped ? 'destination_disabled' : 'dead_lettered',
          run,
        );
      }
      case 'dead':
        return toDeadLetters(job, event, verdict.cause, attempt, auditsFailure(event), undefined, run);
      case 'retry': {
        // The answer was about the receiver, not this event: the whole queue waits, and this event is
        // put back at the head of it without spending an attempt (RateLimitError), while it has free
        // holds left; after those it also waits out its own schedule, spending attempts as before.
        if (
          holdsDestination(attempt.status) &&
          (await holdDestination(eventId, attempt.status!, verdict.retryAfterMs, self))
        ) {
          if (!own) throw settledWhileSending(eventId);
          const hold = await spendHold(job, eventId, run);
          if (hold.kind === 'superseded') throw settledWhileSending(eventId);
          // An event no longer stored is put back too, uncounted: its next run settles it (missing).
          if (hold.kind === 'free' || hold.kind === 'missing') {
            webhookOutcomes.inc({ outcome: verdict.cause });
            logger.info(
              {
                ...logFields,
                cause: verdict.cause,
                ...(hold.kind === 'free' ? { freeHold: hold.spent, freeHolds } : {}),
              },
              'webhook attempt found the receiver overloaded; the event waits for the hold, its attempt not spent',
            );
            throw new RateLimitError();
          }
        }
        if (attemptNo >= (job.opts.attempts ?? 1))
          return toDeadLetters(job, event, 'exhausted', attempt, auditsFailure(event), undefined, run);
        if (!own) throw settledWhileSending(eventId);
        webhookOutcomes.inc({ outcome: verdict.cause });
        logger.warn(
          { ...logFields, cause: verdict.cause, error: attempt.error },
          'webhook attempt failed; will retry',
        );
        throw new WebhookRetryError(
          `webhook ${eventId} attempt ${attemptNo} failed: ${attempt.status ? `HTTP ${attempt.status}` : attempt.error}`,
          eventId,
          attemptNo,
          attempt.status,
          verdict.retryAfterMs,
        );
      }
    }
  }

  /**
   * Dead-letters a job's event as `exhausted` with `error`, unless it already has an outcome, and
   * audits it like any other exhausted delivery. True when this call wrote the dead letter.
   */
  async function settleUndecided(
    eventId: string | undefined,
    error: string,
    attempts: number,
    job?: Job,
  ): Promise<boolean> {
    if (!eventId) return false;
    const letter = {
      eventId,
      reason: 'exhausted' as const,
      attempts,
      at: new Date(ctx.clock.now()).toISOString(),
      error: labelUrlsIn(error),
    };
    const event = await deadLetterUndecided(
      deps,
      letter,
      (e) => (auditsFailure(e) ? failureRecord(e, letter) : undefined),
      job && jobInstance(job),
    );
    if (!event) return false;
    await recordDeadLetter(event, letter, event.owed);
    return true;
  }

  /** Errors whose run the fallback below must not count again: the processor already counted it. */
  const counted = new WeakSet<Error>();

  /**
   * An error `handle` did not decide on (a Redis error, a bug): counted as `error`, retried on the
   * schedule like a failed send, and on the last attempt dead-lettered instead of leaving the event
   * `pending` with no job forever.
   */
  async function unexpected(job: Job, err: unknown): Promise<unknown> {
    webhookOutcomes.inc({ outcome: 'error' });
    const attemptNo = job.attemptsMade + 1;
    const final = attemptNo >= (job.opts.attempts ?? 1);
    const message = shownError(err);
    logger.error(
      { jobId: job.id, attempt: attemptNo, error: message },
      final
        ? 'webhook delivery failed unexpectedly on its last attempt'
        : 'webhook delivery failed unexpectedly; will retry',
    );
    if (err instanceof Error) counted.add(err);
    if (!final) return err;
    try {
      if (await settleUndecided(eventIdOf(job), message, attemptNo, job)) {
        return new WebhookSettledError(
          `webhook job ${job.id} dead-lettered after an unexpected error: ${message}`,
        );
      }
    } catch (settleErr) {
      // Redis is failing too: the `failed` fallback and the sweep try again.
      logger.error({ jobId: job.id, err: settleErr }, 'could not dead-letter a failed webhook job');
    }
    return err;
  }

  /**
   * The fallback for a job that failed for good without the processor settling its event: BullMQ's
   * stall limit ("job stalled more than allowable limit", failed without running the processor), or
   * a dead letter the processor could not write. Whatever is still undecided is dead-lettered.
   *
   * The stall limit's failure is counted as `error` only when it decides the event (or Redis cannot
   * say): an event already delivered or dead-lettered was settled, and counted, by the run that lost
   * its lock before BullMQ could finish the job.
   */
  async function onFailed(job: Job | undefined, err: Error): Promise<void> {
    if (!job || err instanceof WebhookSettledError || err instanceof WebhookRetryError) return;
    const state = await job.getState();
    if (state !== 'failed' && state !== 'unknown') return;
    let decided = true;
    try {
      decided = await settleUndecided(eventIdOf(job), err.message, job.attemptsMade, job);
    } finally {
      if (decided && !counted.has(err)) webhookOutcomes.inc({ outcome: 'error' });
    }
  }

  /**
   * One sweep, by whichever webhook worker process takes the turn: pending events older than the
   * grace with no job get their job again; those whose job failed for good are dead-lettered. The
   * audit records webhook outcomes still owe are appended first, with a destination or without one: a
   * fleet whose WEBHOOK_URL was removed after its receiver's failures still owes their records.
   */
  async function sweep(intervalMs: number): Promise<SweepResult | undefined> {
    if (!(await takeSweepTurn(ctx.redis, ctx.keys, intervalMs))) return undefined;
    // Records owed by outcomes whose process died (or whose append failed) before appending them.
    const owedAppended = await settleOwedAudits(auditDeps);
    if (owedAppended) logger.info({ count: owedAppended }, 'owed webhook audit records settled by the sweep');
    if (!ctx.config.webhook) return undefined;
    const queue = ctx.queues[QUEUES.webhook];
    const backfilled = await backfillPendingIndex(ctx.redis, ctx.keys);
    if (backfilled) logger.info({ count: backfilled }, 'pending webhook events added to the sweep index');
    const result = await sweepOrphanedEvents({
      redis: ctx.redis,
      keys: ctx.keys,
      queue,
      nowMs: ctx.clock.now(),
      schedule: opts.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_MS,
      graceMs: opts.sweepGraceMs ?? DEFAULT_SWEEP_GRACE_MS,
    });
    for (const failed of result.failed) {
      const job = await queue.getJob(failed.eventId);
      if (!job || (await job.getState()) !== 'failed') continue;
      // Not counted here: the run that failed was counted when it failed (`unexpected`, or `onFailed`
      // for the stall limit); this only writes the dead letter that could not be written then.
      await settleUndecided(failed.eventId, failed.reason, failed.attempts);
    }
    if (result.requeued.length > 0) {
      logger.warn(
        { eventIds: result.requeued.slice(0, 20), count: result.requeued.length },
        'pending webhook events had no delivery job (publisher interrupted): queued again',
      );
    }
    return result;
  }

  const worker = new Worker(
    QUEUES.webhook,
    timedProcessor(QUEUES.webhook, async (job) => {
      try {
        return await handle(job);
      } catch (err) {
        throw err instanceof WebhookSettledError ||
          err instanceof WebhookRetryError ||
          err instanceof RateLimitError
          ? err
          : await unexpected(job, err);
      }
    }),
    workerOptions(ctx, QUEUES.webhook, {
      concurrency: opts.concurrency ?? Math.max(ctx.config.workerConcurrency, 10),
      settings: { backoffStrategy: webhookBackoffStrategy(opts) },
      maximumRateLimitDelay: HOLD_RECHECK_MS,
      // Started below, once a hold left by another destination is dropped (startup).
      autorun: false,
    }),
  );
  // close() waits for the fallback (handler-work.ts): it must not write after the worker has closed.
  const handlerWork = trackHandlerWork(worker);
  worker.on('failed', (job, err) => {
    const started = handlerWork.run(() =>
      onFailed(job, err).catch((fallbackErr: unknown) =>
        logger.error({ jobId: job?.id, err: fallbackErr }, 'could not settle a failed webhook job'),
      ),
    );
    if (!started) {
      logger.warn(
        { jobId: job?.id, err: err.message },
        'webhook job failed as the worker closed; the sweep dead-letters its event if nothing settled it',
      );
    }
  });

  const unregisterHoldReader = registerWebhookHoldReader(() => destinationHoldLeftMs(ctx.redis, limiterKey));

  // A hold left by the previous WEBHOOK_URL (the operator moved the fleet to a new receiver) is
  // dropped before the worker's first fetch: a fetch that finds a hold sleeps through it (up to
  // HOLD_RECHECK_MS at a time), whatever is deleted meanwhile, so dropping it after would still
  // cost a sleep of the old receiver's hold. If Redis cannot answer, the worker
  // starts anyway (the gate before each send drops it too, once a job gets through).
  //
  // "Cannot answer" includes no answer at all: the context's connection retries a command without
  // limit (maxRetriesPerRequest: null), so an unanswered check would otherwise keep the worker from
  // ever starting, and a graceful close() waiting on it from ever resolving. The wait is bounded;
  // the check may still land later, which only deletes keys (a foreign hold), never writes any.
  const startupCheckMs = Math.max(0, opts.startupCheckMs ?? DEFAULT_STARTUP_CHECK_MS);
  let closing = false;
  const startupCheck = (async () => {
    if (!self) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), startupCheckMs);
    });
    try {
      const dropped = await Promise.race([dropForeignHold(ctx.redis, backoffKeys, self), bound]);
      if (dropped === 'timeout') {
        logger.warn(
          { timeoutMs: startupCheckMs },
          'the check for a webhook delivery hold of another destination did not answer in time; starting anyway',
        );
      } else if (dropped) {
        logForeignHoldDropped(dropped, self);
      }
    } catch (err) {
      logger.warn(
        { err: shownError(err) },
        'could not check the webhook delivery hold for another destination; starting anyway',
      );
    } finally {
      clearTimeout(timer);
    }
  })();
  const startup = startupCheck.then(() => {
    // Not when a resume() already started it (worker.resume below waits for this, but a worker is
    // only ever run once: BullMQ rejects a second run()). A worker paused meanwhile (the fleet's
    // prefix contested) returns from run() at once, and its resume() runs it.
    if (!closing && !worker.isRunning()) {
      worker.run().catch((err: unknown) => worker.emit('error', err as Error));
    }
  });

  // BullMQ's resume() runs a worker that is not running yet: one called before the check is done (a
  // contest of the fleet's prefix that began and settled while the worker was starting) would start
  // fetching before the foreign hold is dropped, and make the run() above fail. It waits for it.
  const resumeWorker = worker.resume.bind(worker);
  worker.resume = async () => {
    await startup;
    if (!closing) await resumeWorker();
  };

  const closeWorker = worker.close.bind(worker);
  worker.close = async (force?: boolean) => {
    closing = true;
    unregisterHoldReader();
    // The startup check writes to Redis, so a graceful close lets it finish first (within its
    // bound); a forced one (Redis not answering, say) does not wait on it.
    if (!force) await startup;
    return closeWorker(force);
  };

  const sweepIntervalMs = opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  if (sweepIntervalMs > 0) {
    // The sweep under way, if any: a tick while one still runs (slow Redis, a long backfill) is
    // skipped rather than starting a second one alongside it, which close() would not wait for.
    let running: Promise<unknown> | undefined;
    const timer = setInterval(() => {
      if (running) return;
      running = sweep(sweepIntervalMs)
        .catch((err: unknown) => logger.error({ err }, 'webhook sweep failed; the next one tries again'))
        .finally(() => {
          running = undefined;
        });
    }, sweepIntervalMs);
    timer.unref();
    // Stop sweeping before the worker closes, and let a sweep under way finish first, so nothing
    // writes to Redis after close() resolves.
    const close = worker.close.bind(worker);
    worker.close = async (force?: boolean) => {
      clearInterval(timer);
      await running;
      return close(force);
    };
  }
  return worker;
}
