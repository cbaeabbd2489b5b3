import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FLEET_CLAIM_TTL_MS } from '../shared/fleet-claim.js';
import { ApiError, toErrorResponse, type ErrorResponse } from './errors.js';
import { RETRY_AFTER } from './headers.js';

/*
 * While another fleet is on this process's KEY_PREFIX (the fleet claim is contested:
 * src/shared/fleet-claim.ts), the API takes no work. The workers of both fleets stand paused, and the
 * operator ends the contest by stopping one fleet; were it the one whose API accepted a launch, the
 * other fleet (another CXone tenant) would take the waiting job and create and dial the campaign on
 * its tenant. So every request that would enqueue a job or write state is refused before anything is
 * written: no launch record, no idempotency claim, no audit record, no event, no job.
 */

/** How long a refused client should wait: the claim's renewal period, when the contest is next looked at. */
export const FLEET_RETRY_AFTER_S = Math.ceil(FLEET_CLAIM_TTL_MS / 3 / 1000);

/** Retry-After (whole seconds, at least 1) for a claim renewed every `renewEveryMs`. */
export function fleetRetryAfterSeconds(renewEveryMs: number): number {
  return Math.max(1, Math.ceil(renewEveryMs / 1000));
}

/** Methods that only read. */
export const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Routes that take a body or a POST but write nothing: they keep answering while contested. */
const READ_ONLY_WRITES = new Set(['POST /v1/campaigns/validate']);

/**
 * Pure: whether a request to the route `url` (the router's pattern, e.g. `/v1/campaigns/:campaignId`)
 * by `method` is refused while the fleet claim is contested. Every method that may write, on the API
 * (/v1), the webhook admin (/admin/webhooks) and Bull Board (/admin/queues: retry, promote, clean, …),
 * except the writes listed as read-only. A route added later is refused by default, the safe side.
 */
export function isFleetGuarded(method: string, url: string | undefined): boolean {
  if (url === undefined) return false;
  const m = method.toUpperCase();
  if (READ_METHODS.has(m)) return false;
  if (!(url.startsWith('/v1/') || url.startsWith('/admin/'))) return false;
  return !READ_ONLY_WRITES.has(`${m} ${url.replace(/\/+$/, '')}`);
}

/**
 * Pure: the 503 for a refused request. `contested` is the claim's message (names KEY_PREFIX, this
 * fleet's and the other fleet's CXone, and what to stop).
 */
export function fleetContestedResponse(
  contested: string,
  retryAfterS: number = FLEET_RETRY_AFTER_S,
): ErrorResponse {
  return toErrorResponse(
    new ApiError(
      503,
      'fleet_contested',
      `refused, and nothing was recorded or enqueued: ${contested} While both fleets are on the prefix ` +
        `this API accepts no launch, command or replay (a job it queued could be taken by the other ` +
        `fleet once this one is stopped). Retry once GET /readyz answers 200 (checked every ${retryAfterS} s).`,
      { retryAfterSeconds: retryAfterS },
      { [RETRY_AFTER]: String(retryAfterS) },
    ),
  );
}

/**
 * Refuses every guarded request (isFleetGuarded) with 503 `fleet_contested` while `contested()` names
 * another fleet. A root preHandler: it runs after authentication and body parsing, before any
 * handler (Bull Board's included), so nothing of a refused request is written.
 *
 * The claim is looked at when it renews (every `retryAfterS` seconds: FLEET_RETRY_AFTER_S by default), so a request accepted in
 * the moments before the renewal that finds the contest is enqueued as usual; its job waits, since
 * that renewal pauses this process's workers, and the other fleet's workers pause at their own next
 * renewal.
 */
export function registerFleetGuard(
  app: FastifyInstance,
  contested: () => string | undefined,
  retryAfterS: number = FLEET_RETRY_AFTER_S,
): void {
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isFleetGuarded(request.method, request.routeOptions.url)) return;
    const message = contested();
    if (message === undefined) return;
    request.log.warn(
      { method: request.method, path: request.routeOptions.url },
      'refused: another fleet is on KEY_PREFIX (fleet claim contested)',
    );
    const response = fleetContestedResponse(message, retryAfterS);
    // Sent rather than thrown: Bull Board's scope has an error handler of its own.
    return reply
      .code(response.status)
      .headers(response.headers ?? {})
      .type('application/json; charset=utf-8')
      .send(response.body);
  });
}
