import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../shared/context.js';
import { API_LIMITER_MAX_WAIT_MS } from '../shared/cxone/api.js';
import { RequestAbandonedError } from '../shared/errors.js';
import { ApiError, RETRY_AFTER_S, toErrorResponse, type ErrorResponse } from './errors.js';
import { READ_METHODS } from './fleet-guard.js';
import { RETRY_AFTER } from './headers.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Fires when the request's deadline passes; work that would enqueue stops there (throwIfAbandoned). */
    deadline: AbortSignal | undefined;
    /** How long the request's deadline is (ms), when it has one: work that paces itself sizes off it. */
    deadlineMs: number | undefined;
    /** Ids the deadline's 503 names (the launch or command the request was making), once they exist. */
    deadlineDetails: Record<string, string> | undefined;
  }
}

/**
 * Connection states in which a command is sent at once (`connect`: the socket is up, the ready check
 * takes a round trip). In the others (`connecting`, `reconnecting`, `close`, `end`) ioredis would
 * hold it in its offline queue until Redis is back, however long that takes.
 */
const CONNECTED = new Set(['ready', 'connect']);

/** Whether a command sent on `redis` now goes to Redis at once rather than into the offline queue. */
export function sendsAtOnce(redis: { status: string }): boolean {
  return CONNECTED.has(redis.status);
}

/**
 * Pure: the message of the 503 `redis_unavailable` answered before a request's work begins. A write is
 * told what it needs to retry safely (nothing of it was kept); a read, which keeps nothing anyway,
 * only that Redis, where everything it would read is, cannot be reached.
 */
export function redisUnavailableMessage(method: string, redisStatus: string): string {
  return READ_METHODS.has(method.toUpperCase())
    ? `Redis is not connected (${redisStatus}), so nothing can be read now. Retry in a few seconds`
    : `Redis is not connected (${redisStatus}); nothing was recorded or enqueued. Retry in a few seconds`;
}

/** The one guarded route without a deadline: its work is many CXone reads, each bounded on its own. */
const UNBOUNDED_ROUTE = '/v1/campaigns/:campaignId/audit/import-history';

/**
 * How long an API request may take: the longest a healthy one can (a CXone read: the limiter's bounded
 * wait plus the HTTP timeout) and a margin. Past it, Redis or CXone is not answering.
 */
export function apiDeadlineMs(cxoneTimeoutMs: number): number {
  return API_LIMITER_MAX_WAIT_MS + cxoneTimeoutMs + 2_000;
}

/**
 * Routes that need Redis to answer: the API proper, the webhook admin and Bull Board's own API, not
 * the probes, metrics or docs (bounded on their own) nor Bull Board's static UI.
 */
const guarded = (url: string | undefined) =>
  url !== undefined &&
  (url.startsWith('/v1/') || url.startsWith('/admin/webhooks') || url.startsWith('/admin/queues/api/'));

/**
 * No API request waits on Redis without bound. The shared connection queues commands while it is
 * disconnected and waits forever on one that stalls, so without this a request hangs with no answer,
 * and its launch is enqueued whenever Redis returns, for a client that gave up long ago and may have
 * sent it again. Instead:
 * - Redis not connected: 503 `redis_unavailable` at once, before anything is written;
 * - no answer within the deadline: 503 `request_timeout` then, and the handler's work stops before it
 *   enqueues anything (launches and commands check `request.deadline`).
 */
export function registerRequestGuard(
  app: FastifyInstance,
  ctx: AppContext,
  deadlineMs = apiDeadlineMs(ctx.config.cxone.timeoutMs),
): void {
  const timers = new WeakMap<FastifyRequest, NodeJS.Timeout>();
  app.decorateRequest('deadline', undefined);
  app.decorateRequest('deadlineMs', undefined);
  app.decorateRequest('deadlineDetails', undefined);

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!guarded(request.routeOptions.url)) return;
    if (!sendsAtOnce(ctx.redis)) {
      // Sent here rather than thrown: Bull Board's scope has an error handler of its own.
      const response = unavailable(
        'redis_unavailable',
        redisUnavailableMessage(request.method, ctx.redis.status),
      );
      return reply
        .code(response.status)
        .headers(response.headers ?? {})
        .type('application/json; charset=utf-8')
        .send(response.body);
    }
    // A history import pages through CXone for as long as the history is; it gets no deadline.
    if (request.routeOptions.url === UNBOUNDED_ROUTE) return;
    const controller = new AbortController();
    request.deadline = controller.signal;
    request.deadlineMs = deadlineMs;
    const timer = setTimeout(() => {
      controller.abort();
      if (reply.sent) return;
      request.log.warn(
        { method: request.method, path: request.routeOptions.url, deadlineMs },
        'request passed its deadline: Redis or CXone is not answering',
      );
      const response = unavailable(
        'request_timeout',
        `no answer from Redis or CXone within ${deadlineMs / 1000} s; the request's work stops before it ` +
          'enqueues anything (unless the enqueue itself had already reached Redis: the id below, when ' +
          'there is one, tells). Retry later; a launch retried with the same Idempotency-Key is launched once',
        request.deadlineDetails,
      );
      // Hijacked, so the handler's late result is dropped quietly instead of meeting a sent reply.
      reply.hijack();
      reply.raw.writeHead(response.status, {
        'content-type': 'application/json; charset=utf-8',
        ...(response.headers ?? {}),
      });
      reply.raw.end(JSON.stringify(response.body));
    }, deadlineMs);
    timer.unref();
    timers.set(request, timer);
  });

  app.addHook('onResponse', async (request) => {
    clearTimeout(timers.get(request));
  });
}

/** The guard's 503: `Retry-After`, and the ids the request had made so far. */
function unavailable(
  code: 'redis_unavailable' | 'request_timeout',
  message: string,
  details: Record<string, string> = {},
): ErrorResponse {
  return toErrorResponse(new ApiError(503, code, message, details, { [RETRY_AFTER]: String(RETRY_AFTER_S) }));
}

/**
 * A route's work, or null when the request's deadline stopped it (RequestAbandonedError): the guard
 * has answered 503 already, and stopping there was the point.
 */
export async function unlessAbandoned<T>(work: Promise<T>): Promise<T | null> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof RequestAbandonedError) return null;
    throw err;
  }
}

/**
 * True when the guard's deadline already answered this request (the handler finished late); logs
 * what was done after all, so an operator can match it with the 503 the client got.
 */
export function answeredAtDeadline(reply: FastifyReply, done: Record<string, unknown>): boolean {
  if (!reply.sent) return false;
  reply.log.warn(done, 'finished after its request was answered 503 at the deadline');
  return true;
}
