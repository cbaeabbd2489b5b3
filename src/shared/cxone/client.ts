import type { z } from 'zod';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import {
  type CxoneError,
  type CxoneErrorContext,
  CxoneMalformedResponseError,
  CxoneRateLimitError,
  CxoneUnavailableError,
  FleetBudgetBusyError,
  isCxoneError,
  TokenWaitExceededError,
} from '../errors.js';
import { type FleetLimiter, LimiterWaitExceededError, type ScheduleOptions } from '../limiter/types.js';
import type { Logger } from '../logger.js';
import type { CallOptions, CallPriority, CxoneApi, HistoryPageRead } from './api.js';
import type { CxoneReachability } from './reachability.js';
import type { SharedCredentialsRefusal } from './credentials-refusal.js';
import { createCxoneHttp, type CxoneHttp } from './http.js';
import { CxoneCreateOutcomeUnknownError, mayHaveReachedCxone } from './outcome-unknown.js';
import { errorFromResponse, parseBody, type RawResponse } from './response.js';
import { createTokenProvider, DEFAULT_PENALTY_MS, type TokenProvider } from './token-provider.js';
import {
  campaignResourceSchema,
  campaignStatsSchema,
  createCampaignResponseSchema,
  CXONE_ENDPOINTS,
  type CxoneEndpoint,
  type CxoneScope,
  historyPageSchema,
} from './wire.js';

export interface CxoneClientOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
  limiter: FleetLimiter;
  logger: Logger;
  clock?: Clock;
  /** Scopes asked for in the token request; default every scope the orchestrator uses. */
  scopes?: readonly CxoneScope[];
  /** The fleet's shared record of a credentials refusal (token-provider.ts); unset = this process's own. */
  sharedRefusal?: SharedCredentialsRefusal;
  /** The wait after CXone refuses the credentials (token-provider.ts); tests shorten it. */
  refusedWait?: { baseMs: number; maxMs: number };
}

export type CxoneClient = CxoneApi & {
  tokens: TokenProvider;
  reachability: CxoneReachability;
  close(): Promise<void>;
};

interface CallSpec<S extends z.ZodType> {
  endpoint: CxoneEndpoint;
  method: 'GET' | 'POST' | 'PATCH';
  path: string;
  schema: S;
  headers?: Record<string, string>;
  params?: Record<string, string | number | undefined>;
  data?: unknown;
  campaignId?: string;
}

/**
 * A token request's failure, as the error of one call that needed the token: the same error (class,
 * endpoint, status, message) with that call's campaign and attempt. One token request serves many
 * concurrent calls, so its error is copied for each, never changed in place.
 */
function forCaller(err: unknown, ctx: CxoneErrorContext): unknown {
  if (!isCxoneError(err) || err.endpoint === ctx.endpoint) return err;
  if (ctx.campaignId === undefined && ctx.attempt === undefined) return err;
  const copy = Object.create(
    Object.getPrototypeOf(err) as object,
    Object.getOwnPropertyDescriptors(err),
  ) as CxoneError;
  Object.defineProperty(copy, 'campaignId', { value: ctx.campaignId, enumerable: true });
  copy.attempt = ctx.attempt;
  return copy;
}

/** Statistics and history reads are polls unless the caller says otherwise; everything else is control. */
function defaultPriority(endpoint: CxoneEndpoint): CallPriority {
  return endpoint === CXONE_ENDPOINTS.getStats || endpoint === CXONE_ENDPOINTS.getHistory
    ? 'poll'
    : 'control';
}

const campaignPath = (id: string) => `/api/v2/campaigns/${encodeURIComponent(id)}`;
const outboundPath = (id: string, leaf: 'stats' | 'history') =>
  `/api/v2/outbound/campaigns/${encodeURIComponent(id)}/${leaf}`;

/**
 * The typed CXone v2 client: one method per endpoint, every HTTP request (token requests included)
 * through the fleet limiter, every answer parsed with the wire schemas, every failure a typed error
 * (src/shared/errors.ts). A 401 invalidates the token and retries the call exactly once; a 429
 * penalizes the endpoint fleet-wide for its Retry-After and surfaces as CxoneRateLimitError, which
 * workers turn into a re-queue without spending an attempt (src/workers/job-errors.ts).
 */
export function createCxoneClient(opts: CxoneClientOptions): CxoneClient {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger.child({ component: 'cxone-client' });
  const http: CxoneHttp = createCxoneHttp({ baseUrl: opts.baseUrl, timeoutMs: opts.timeoutMs });
  const tokens = createTokenProvider({
    http,
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    limiter: opts.limiter,
    logger,
    clock,
    ...(opts.scopes ? { scopes: opts.scopes } : {}),
    ...(opts.sharedRefusal ? { shared: opts.sharedRefusal } : {}),
    ...(opts.refusedWait ? { refusedWait: opts.refusedWait } : {}),
  });

  /**
   * A bounded wait the limiter refused, as a rate limit naming whose limit it was: a 429's penalty
   * still running is CXone's; a full budget is the fleet's own (FleetBudgetBusyError: CXone sent
   * nothing, and an operator reading "rate limited by CXone" would look in the wrong place).
   */
  async function scheduleWithin<T>(
    endpoint: CxoneEndpoint,
    priority: CallPriority,
    ctx: CxoneErrorContext,
    bounds: ScheduleOptions,
    /** The caller's whole wait (the token's share included), which the error names. */
    callerWaitMs: number | undefined,
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      return await opts.limiter.schedule(endpoint, priority, fn, bounds);
    } catch (err) {
      if (err instanceof LimiterWaitExceededError) {
        throw err.reason === 'penalty'
          ? CxoneRateLimitError.penaltyRunning(ctx, err.retryAfterMs)
          : new FleetBudgetBusyError(ctx, err.retryAfterMs, callerWaitMs ?? err.maxWaitMs);
      }
      throw err;
    }
  }

  /**
   * The token is shared by every caller, so its fetch is not bounded by one caller's wait; a bounded
   * caller stops waiting for it instead (the fetch carries on for the others). A failed fetch is
   * each caller's own error, naming its campaign and attempt.
   */
  async function tokenWithin(
    waitMs: number | undefined,
    ctx: CxoneErrorContext,
    /** The caller's whole wait, which the error names (what is left of it may be 0 by now). */
    callerWaitMs: number | undefined,
  ): Promise<string> {
    const pending = tokens.getToken();
    if (waitMs === undefined) return pending.catch((err: unknown) => Promise.reject(forCaller(err, ctx)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      // Not CXone's 429: the shared token fetch has not finished within this caller's wait.
      timer = setTimeout(() => reject(new TokenWaitExceededError(ctx, callerWaitMs ?? waitMs)), waitMs);
      timer.unref();
    });
    try {
      return await Promise.race([pending, timedOut]);
    } catch (err) {
      throw forCaller(err, ctx);
    } finally {
      clearTimeout(timer);
    }
  }

  async function call<S extends z.ZodType>(
    spec: CallSpec<S>,
    callOpts: CallOptions = {},
  ): Promise<z.output<S>> {
    const priority = callOpts.priority ?? defaultPriority(spec.endpoint);
    const ctx = {
      endpoint: spec.endpoint,
      campaignId: spec.campaignId ?? callOpts.campaignId,
      attempt: callOpts.attempt,
    };
    const deadline = callOpts.maxWaitMs === undefined ? undefined : clock.now() + callOpts.maxWaitMs;
    const waitLeft = () => (deadline === undefined ? undefined : Math.max(0, deadline - clock.now()));
    let refreshedAfter401 = false;
    for (;;) {
      // Had before the limiter's wait, so a slot is never held while a token is fetched...
      let token = await tokenWithin(waitLeft(), ctx, callOpts.maxWaitMs);
      const res: RawResponse = await scheduleWithin(
        spec.endpoint,
        priority,
        ctx,
        {
          maxWaitMs: waitLeft(),
          signal: callOpts.signal,
        },
        callOpts.maxWaitMs,
        async () => {
          // ...and looked at again once the slot is granted: the wait may have outlasted it (a backlog,
          // a long 429 penalty), and a dead token would spend the slot on a 401 — twice, and the
          // call would fail as if the credentials were wrong. The cached one is sent while it lives
          // (no fetch while holding the slot); only a dead one is replaced, within the caller's wait.
          token = tokens.sendable() ?? (await tokenWithin(waitLeft(), ctx, callOpts.maxWaitMs));
          callOpts.beforeSend?.();
          return http.send({
            endpoint: spec.endpoint,
            method: spec.method,
            path: spec.path,
            headers: { ...spec.headers, Authorization: `Bearer ${token}` },
            params: spec.params,
            data: spec.data,
            campaignId: ctx.campaignId,
            attempt: ctx.attempt,
            signal: callOpts.signal,
          });
        },
      );
      if (res.status >= 200 && res.status <= 299) return parseBody(spec.schema, res.body, ctx);
      if (res.status === 401 && !refreshedAfter401) {
        // The token expired early or was revoked: one fresh token, one more try.
        refreshedAfter401 = true;
        tokens.invalidate(token);
        logger.debug(
          { endpoint: spec.endpoint },
          'CXone answered 401; refreshing the token and retrying once',
        );
        continue;
      }
      const err = errorFromResponse(res, ctx, clock.now());
      if (err instanceof CxoneRateLimitError) {
        // Slow the whole fleet on this endpoint, not only this caller.
        await opts.limiter
          .penalize(spec.endpoint, err.retryAfterMs ?? DEFAULT_PENALTY_MS)
          .catch((e: unknown) =>
            logger.warn(
              { endpoint: spec.endpoint, err: (e as Error).message },
              'could not store the 429 penalty',
            ),
          );
      }
      throw err;
    }
  }

  return {
    tokens,
    reachability: http.reachability,

    async createCampaign(body, callOpts = {}) {
      const created = call(
        {
          endpoint: CXONE_ENDPOINTS.createCampaign,
          method: 'POST',
          path: '/api/v2/campaigns',
          schema: createCampaignResponseSchema,
          headers: {
            'Content-Type': 'application/json',
            ...(callOpts.idempotencyKey ? { 'Idempotency-Key': callOpts.idempotencyKey } : {}),
          },
          data: body,
        },
        callOpts,
      );
      if (callOpts.idempotencyKey) return created;
      // Only the key makes a replay return the campaign already created; without it the caller
      // (and its job's retries) must not resend a create that CXone may have carried out.
      return created.catch((err: unknown) => {
        throw err instanceof CxoneUnavailableError && mayHaveReachedCxone(err)
          ? new CxoneCreateOutcomeUnknownError(err)
          : err;
      });
    },

    getCampaign(id, callOpts) {
      return call(
        {
          endpoint: CXONE_ENDPOINTS.getCampaign,
          method: 'GET',
          path: campaignPath(id),
          schema: campaignResourceSchema,
          campaignId: id,
        },
        callOpts,
      );
    },

    updateCampaign(id, expectedVersion, body, callOpts) {
      return call(
        {
          endpoint: CXONE_ENDPOINTS.updateCampaign,
          method: 'PATCH',
          path: campaignPath(id),
          schema: campaignResourceSchema,
          headers: { 'Content-Type': 'application/json', 'If-Match': `version=${expectedVersion}` },
          data: body,
          campaignId: id,
        },
        callOpts,
      );
    },

    getStats(id, callOpts) {
      return call(
        {
          endpoint: CXONE_ENDPOINTS.getStats,
          method: 'GET',
          path: outboundPath(id, 'stats'),
          schema: campaignStatsSchema,
          campaignId: id,
        },
        callOpts,
      );
    },

    async *history(id, callOpts = {}): AsyncGenerator<HistoryPageRead, void, undefined> {
      let cursor: string | undefined = callOpts.from;
      // Cursors mark positions in an append-only history, so one that comes round again is a broken
      // answer (a cache, a proxy): followed, it would walk the same pages forever on the fleet's budget.
      const read = new Set<string>();
      do {
        if (cursor !== undefined) read.add(cursor);
        const page = await call(
          {
            endpoint: CXONE_ENDPOINTS.getHistory,
            method: 'GET',
            path: outboundPath(id, 'history'),
            schema: historyPageSchema,
            params: { pageSize: callOpts.pageSize, cursor },
            campaignId: id,
          },
          callOpts,
        );
        // Each page's array is handed over as parsed; callers that want one list concatenate once.
        yield { records: page.records, cursor: cursor ?? null };
        const next = page.nextCursor ?? undefined;
        if (next !== undefined && read.has(next)) {
          throw new CxoneMalformedResponseError(
            [`nextCursor: ${JSON.stringify(next.slice(0, 100))} names a page this walk has already read`],
            { endpoint: CXONE_ENDPOINTS.getHistory, status: 200, campaignId: id, attempt: callOpts.attempt },
          );
        }
        cursor = next;
      } while (cursor !== undefined);
    },

    async close() {
      http.close();
    },
  };
}

export type { TokenProvider } from './token-provider.js';
export { CxoneCreateOutcomeUnknownError } from './outcome-unknown.js';
