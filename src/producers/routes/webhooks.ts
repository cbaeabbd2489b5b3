import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../shared/context.js';
import type { EventEnvelope } from '../../shared/events/types.js';
import type {
  DeadLetterListBody,
  DeadLetterReplayBody,
  DestinationEnabledBody,
  EventReplayQueuedBody,
  WebhookDestinationBody,
  WebhookEventStatusBody,
} from '../../shared/responses/webhooks.js';
import {
  type DeadLetter,
  enableDestination,
  getDestinationState,
  listDeadLetters,
  replayDeadLetters,
  replayEvent,
} from '../../shared/webhooks/store.js';
import { shownDestination } from '../../shared/webhooks/shown-destination.js';
import { callerActor } from '../auth.js';
import { ApiError, parseOrThrow } from '../errors.js';
import { pageLimitSchema } from '../query.js';
import { NO_BODY } from '../no-body.js';
import { answeredAtDeadline, unlessAbandoned } from '../request-guard.js';

export const eventParamsSchema = z.object({
  eventId: z.string().regex(/^evt_[A-Za-z0-9]{1,64}$/, 'must be an evt_… id'),
});
/**
 * The longest one `POST /v1/webhooks/dead-letters/replay` goes on replaying: each replay is several
 * Redis round trips (a few thousand fit in 10 s), so a backlog of dead letters is replayed over several
 * calls, each answered well within the request deadline, rather than outlasting it and being answered
 * 503 while the replay went on regardless.
 */
export const REPLAY_ALL_BUDGET_MS = 5_000;

/**
 * How long a replay of every dead letter goes on, for a request whose deadline is `deadlineMs`
 * (request-guard.ts): a third of it, at most REPLAY_ALL_BUDGET_MS (a third of the default 15 s). The
 * rest is the margin for the replay under way when the budget ends, and for the answer: a fixed 5 s
 * left 0.1 s of the 5.1 s deadline of the shortest CXONE_TIMEOUT_MS (100 ms), and a backlog was
 * answered 503 instead of 202. A request without a deadline (none is set up) gets the cap.
 */
export function replayAllBudgetMs(deadlineMs: number | undefined): number {
  if (deadlineMs === undefined) return REPLAY_ALL_BUDGET_MS;
  return Math.min(REPLAY_ALL_BUDGET_MS, Math.floor(deadlineMs / 3));
}

export interface WebhookRoutesOptions {
  /** Tests shrink it: the replay-all budget, whatever the request's deadline. */
  replayAllBudgetMs?: number;
  /** The clock the replay-all budget is measured on (Date.now; tests step it). */
  now?: () => number;
}

/** `?limit=` (empty) counts as not given, as on the audit routes; another parameter is refused. */
const listQuerySchema = z.object({ limit: pageLimitSchema(1000, 100) }).strict();

/**
 * Webhook operations: replaying one event or every dead letter (same id, same bytes), reading an
 * event's delivery state and the dead letters, and re-enabling a destination that answered 410.
 */
export async function registerWebhookRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  opts: WebhookRoutesOptions = {},
): Promise<void> {
  const now = opts.now ?? Date.now;
  const deps = { redis: ctx.redis, keys: ctx.keys, queue: ctx.queues.webhook };
  const log = ctx.logger.child({ component: 'webhooks-api' });

  function destinationUrl(): string {
    if (!ctx.config.webhook) {
      throw new ApiError(
        409,
        'webhooks_disabled',
        'no WEBHOOK_URL is configured; events are recorded but not sent',
      );
    }
    return ctx.config.webhook.url;
  }

  app.post('/v1/webhooks/:eventId/replay', NO_BODY, async (request, reply) => {
    const { eventId } = parseOrThrow(eventParamsSchema, request.params);
    destinationUrl();
    // Queues nothing once the request's deadline has answered 503 (a Redis that stalled under a read).
    const outcome = await unlessAbandoned(
      replayEvent(deps, eventId, request.deadline ? { signal: request.deadline } : {}),
    );
    if (outcome === null) return reply;
    if (outcome === 'not_found') {
      throw new ApiError(
        404,
        'not_found',
        `event ${eventId} is not stored (unknown, or expired after 30 days)`,
      );
    }
    if (outcome === 'already_queued') {
      throw new ApiError(409, 'already_queued', `event ${eventId} is already waiting for delivery`);
    }
    log.info({ eventId, actor: callerActor(request) }, 'webhook event replay requested');
    return reply.code(202).send({ eventId, status: 'queued' } satisfies EventReplayQueuedBody);
  });

  app.post('/v1/webhooks/dead-letters/replay', NO_BODY, async (request, reply) => {
    destinationUrl();
    // Stops at its budget, or at once should the request's deadline answer 503 first (a stalled
    // Redis): the 503 says the work stopped, so nothing is queued after it, not even by the replay
    // whose reads were under way.
    const budgetMs = opts.replayAllBudgetMs ?? replayAllBudgetMs(request.deadlineMs);
    const result = await replayDeadLetters(deps, {
      until: now() + budgetMs,
      now,
      ...(request.deadline ? { signal: request.deadline } : {}),
    });
    const summary = {
      actor: callerActor(request),
      queued: result.queued.length,
      notFound: result.not_found.length,
      remaining: result.remaining,
    };
    if (answeredAtDeadline(reply, summary)) return reply;
    log.info(summary, 'dead-letter replay requested');
    return reply.code(202).send({
      queued: result.queued,
      alreadyQueued: result.already_queued,
      notFound: result.not_found,
      remaining: result.remaining,
    } satisfies DeadLetterReplayBody);
  });

  app.get('/v1/webhooks/dead-letters', async (request): Promise<DeadLetterListBody> => {
    const { limit } = parseOrThrow(listQuerySchema, request.query);
    return {
      total: await ctx.redis.zcard(ctx.keys.webhookDeadLetters()),
      deadLetters: await listDeadLetters(deps, limit),
    };
  });

  app.get('/v1/webhooks/events/:eventId', async (request): Promise<WebhookEventStatusBody> => {
    const { eventId } = parseOrThrow(eventParamsSchema, request.params);
    const h = await ctx.redis.hgetall(ctx.keys.webhookEvent(eventId));
    if (!h.body) throw new ApiError(404, 'not_found', `event ${eventId} is not stored (unknown, or expired)`);
    return {
      // Stored by the publisher exactly as it is delivered.
      event: JSON.parse(h.body) as EventEnvelope,
      delivery: {
        state: h.state ?? 'pending',
        attempts: Number(h.attempts ?? 0),
        ...(h.lastStatus ? { lastStatus: Number(h.lastStatus) } : {}),
        ...(h.lastError ? { lastError: h.lastError } : {}),
        ...(h.lastAttemptAt ? { lastAttemptAt: h.lastAttemptAt } : {}),
        ...(h.deliveredAt ? { deliveredAt: h.deliveredAt } : {}),
        ...(h.redeliveredAt ? { redeliveredAt: h.redeliveredAt } : {}),
        ...(h.deadLetter ? { deadLetter: JSON.parse(h.deadLetter) as DeadLetter } : {}),
      },
    };
  });

  // The URL itself is never answered (its path or query often holds the receiver's token, and a
  // credential configuration refused may still have got through): only its label, as logs show it.
  app.get('/admin/webhooks/destination', async (): Promise<WebhookDestinationBody> => {
    if (!ctx.config.webhook) return { configured: false };
    const { url } = ctx.config.webhook;
    const state = await getDestinationState(deps, url);
    return { configured: true, ...shownDestination(url), ...state };
  });

  app.post(
    '/admin/webhooks/destination/enable',
    NO_BODY,
    async (request): Promise<DestinationEnabledBody> => {
      const url = destinationUrl();
      const before = await enableDestination(deps, url);
      log.warn(
        { actor: callerActor(request), wasDisabledAt: before.disabledAt ?? null },
        'webhook destination re-enabled by an operator',
      );
      return { configured: true, ...shownDestination(url), enabled: true, wasEnabled: before.enabled };
    },
  );
}
