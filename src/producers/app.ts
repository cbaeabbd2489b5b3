import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { AppContext } from '../shared/context.js';
import { CxoneRateLimitError } from '../shared/errors.js';
import {
  actorFor,
  actorHeaderProblem,
  bearerRefusal,
  bearerToken,
  isProtectedPath,
  tokenMatches,
} from './auth.js';
import { toErrorResponse, type ErrorBody } from './errors.js';
import { jsonHttpEdgeOptions, refuseMissingHost } from './http-edges.js';
import { WWW_AUTHENTICATE, X_ACTOR } from './headers.js';
import { answerUnmatched } from '../shared/http/allowed-methods.js';
import { registerRequestGuard } from './request-guard.js';
import { registerFleetGuard } from './fleet-guard.js';
import { registerJsonBodyParser } from './json-body.js';
import { decodedPath, pathOf } from '../shared/http/url-path.js';
import { API_BODY_LIMIT_BYTES } from '../shared/http/body-limit.js';
import { campaignsServedMethods, registerCampaignRoutes } from './routes/campaigns.js';
import { registerLaunchRoutes } from './routes/launches.js';
import { registerCampaignCommandRoutes } from './routes/campaign-commands.js';
import { registerOpsRoutes } from './routes/ops.js'; // (H8)
import {
  adminCredentialsOk,
  boardServedMethods,
  isBullBoardPath,
  registerBullBoard,
  sendAdminChallenge,
} from './bull-board.js'; // (H8)
import { createAuthThrottle, refuseAuthentication, type AuthThrottleOptions } from './auth-throttle.js';
import { registerComplianceRoutes } from './routes/compliance.js'; // (H7)
import { registerAuditRoutes } from './routes/audit.js'; // (H4)
import { registerWebhookRoutes } from './routes/webhooks.js'; // (H4)
// ── Route modules (one import per routes file; keep in step with the list in buildApiApp) ──

/** A campaign config is a few KiB; anything near this limit is a mistake or an attack. */
export const DEFAULT_BODY_LIMIT = API_BODY_LIMIT_BYTES;

export interface ApiAppOptions {
  bodyLimit?: number;
  /** How long a request may wait on Redis and CXone before its 503 (default: apiDeadlineMs). */
  requestDeadlineMs?: number;
  /**
   * The fleet claim's message while another fleet is on KEY_PREFIX: /readyz fails, and every request
   * that would enqueue or write is refused with 503 `fleet_contested` (fleet-guard.ts).
   */
  fleetContested?: () => string | undefined;
  /** The refusal's Retry-After: how often the claim renews (default FLEET_RETRY_AFTER_S, the default renewal). */
  fleetRetryAfterS?: number;
  /** The failed-authentication throttle's limit and window (default 20 per 60 s; auth-throttle.ts). */
  authThrottle?: AuthThrottleOptions;
}

/** Paths probed every few seconds by orchestrators and scrapers; logged at debug to keep logs readable. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The producer HTTP API. Every response is JSON (Bull Board's UI under /admin/queues excepted), every
 * error `{error, message, ...}` with the right status; bearer auth guards /v1 and /admin.
 * Fastify's own request logging is off: it would log per request twice, and we log one line per
 * response without headers, so the Authorization header cannot end up in a log.
 */
export async function buildApiApp(ctx: AppContext, opts: ApiAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.logger.child({ component: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    routerOptions: {
      ignoreTrailingSlash: true,
      // The router refuses a longer path parameter itself (414, in Fastify's own error shape) before
      // any hook runs: a long id then revealed without a token which routes exist. Set past what fits
      // in a request line (Node's 16 KiB header limit), so every id reaches auth, then its schema.
      maxParamLength: 16 * 1024,
    },
    // Request ids are only for correlating log lines; generated, never taken from the client.
    requestIdHeader: false,
    // Errors the router raises before any hook (a malformed percent-escape, say): the API's own
    // shape, and the token checked first as for any other request to a protected path.
    frameworkErrors: (error, request, rawReply) => {
      // Typed by Fastify for the route-less context this runs in; it is the ordinary reply.
      const reply = rawReply as unknown as FastifyReply;
      void refusedAtAuth(request, reply).then((refused) => {
        if (refused) return;
        void reply.code(400).send({
          error: 'invalid_url',
          message: `the request path is not a valid URL path (${error.message})`,
        } satisfies ErrorBody);
      });
    },
    // Bytes Node's parser refuses, and a request without Host: answered in the API's shape.
    ...jsonHttpEdgeOptions,
  });
  refuseMissingHost(app);

  const authThrottle = createAuthThrottle(ctx, {
    ...opts.authThrottle,
    ...(opts.fleetContested ? { fleetContested: opts.fleetContested } : {}),
  });

  /**
   * Answers and returns true when the request needs the API token and lacks it (401, or 429 from an
   * address past its failed-authentication limit), or has it with an `X-Actor` the audit trail cannot
   * record it by (400 `invalid_actor`: the label is refused, not swapped for another actor). Sets the
   * caller's actor otherwise. The token is checked first and an accepted request returns without
   * awaiting anything: only a refusal is counted, and the throttle never refuses the right token.
   */
  const refusedAtAuth = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    const routeUrl = request.routeOptions?.url;
    const decoded = decodedPath(request.url);
    const paths = routeUrl === undefined ? [request.url, decoded] : [routeUrl, request.url, decoded];
    if (!paths.some(isProtectedPath)) return false;
    // Bull Board checks its own credentials so a browser can log in with HTTP Basic (bull-board.ts).
    if (routeUrl !== undefined && isBullBoardPath(routeUrl)) return false;
    const token = bearerToken(request.headers.authorization);
    if (token !== undefined && tokenMatches(token, ctx.config.apiToken)) {
      const problem = actorHeaderProblem(request.headers[X_ACTOR]);
      if (problem !== undefined) {
        // The log line of the refusal names the caller by what it proved: the token.
        request.actor = actorFor(token, undefined);
        void reply.code(400).send({ error: 'invalid_actor', message: problem } satisfies ErrorBody);
        return true;
      }
      request.actor = actorFor(token, request.headers[X_ACTOR]);
      return false;
    }
    // A URL or method under /admin/queues that the board does not serve: the board's Basic login
    // holds there too, so a logged-in browser gets the 404 or 405 and a logged-out one the prompt,
    // not a Bearer challenge a browser cannot answer.
    if (paths.filter(isProtectedPath).every(isBullBoardPath)) {
      if (adminCredentialsOk(request.headers.authorization, ctx.config.apiToken)) return false;
      await refuseAuthentication(authThrottle, request, reply, () => sendAdminChallenge(reply));
      return true;
    }
    await refuseAuthentication(authThrottle, request, reply, () =>
      reply
        .code(401)
        .header(WWW_AUTHENTICATE, 'Bearer')
        .send({
          error: 'unauthorized',
          message: bearerRefusal(request.headers.authorization),
        } satisfies ErrorBody),
    );
    return true;
  };

  app.decorateRequest('actor', '');
  // JSON only: without this, a text/plain body would reach handlers as a string and be reported as
  // a validation error instead of the 415 it is.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);

  // Decide on what the router matched, not on the raw URL: the router decodes percent-escapes, so
  // `/%761/campaigns` reaches the /v1/campaigns handler while its raw text does not start with /v1.
  // Unmatched requests fall back to the decoded path; either way a request is protected if any
  // reading of its path is.
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (await refusedAtAuth(request, reply)) return reply;
  });

  app.addHook('onResponse', async (request, reply) => {
    const path = pathOf(request.url);
    const line = {
      method: request.method,
      path,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      actor: request.actor || undefined,
    };
    if (QUIET_PATHS.has(path)) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  });

  app.setErrorHandler((err, request, reply) => {
    // Already answered by the request guard's deadline; the handler's late failure is not news.
    if (reply.sent) return;
    const response = toErrorResponse(err, { bodyLimitBytes: app.initialConfig.bodyLimit });
    if (err instanceof CxoneRateLimitError) {
      // Load, not a bug: the fleet's own CXone budget was busy, or CXone's 429 penalty is running.
      // A warning without a stack, saying what it means (the error's message) and what was answered.
      request.log.warn(
        {
          method: request.method,
          path: request.routeOptions.url,
          status: response.status,
          err: err.toJSON(),
        },
        `request answered ${response.status}: ${err.message}`,
      );
    } else if (response.status >= 500) {
      request.log.error({ err, method: request.method, path: request.routeOptions.url }, 'request failed');
    }
    void reply
      .code(response.status)
      .headers(response.headers ?? {})
      .type('application/json; charset=utf-8')
      .send(response.body);
  });

  // Before the request guard: a refused request then starts no deadline either.
  const fleetContested = opts.fleetContested ?? (() => undefined);
  if (opts.fleetContested) registerFleetGuard(app, opts.fleetContested, opts.fleetRetryAfterS);
  registerRequestGuard(app, ctx, opts.requestDeadlineMs);

  // Every route registered from here on (Bull Board's included) counts for the 405s; a read-only
  // board's change routes do not count as served (their 405 says so too, bull-board.ts).
  const readOnlyBoard = ctx.config.bullBoardReadOnly;
  answerUnmatched(app, {
    servedNow: (path, routed) =>
      boardServedMethods(path, campaignsServedMethods(path, routed), readOnlyBoard),
  });

  // ── Route registrations: one line per routes file (owner in parentheses). Add yours here. ──
  // Ops first: its onRoute hook collects every later route for the OpenAPI document.
  // (H8) /healthz, /readyz, /metrics, /docs, /docs/json
  await registerOpsRoutes(app, ctx, opts.fleetContested ? { fleetContested: opts.fleetContested } : {});
  await registerBullBoard(app, ctx, { authThrottle }); // (H8) /admin/queues (Bearer or Basic)
  await registerCampaignRoutes(app, ctx, { fleetContested }); // (H3) POST /v1/campaigns, /validate, GET /v1/campaigns/:campaignId
  await registerLaunchRoutes(app, ctx); // (H3) GET /v1/launches/:launchId
  await registerCampaignCommandRoutes(app, ctx); // (H5) PATCH /v1/campaigns/:campaignId, POST .../actions, GET .../commands, GET /v1/commands/:id
  await registerComplianceRoutes(app, ctx); // (H7) GET /v1/campaigns/:campaignId/compliance
  await registerAuditRoutes(app, ctx, { fleetContested }); // (H4) GET /v1/campaigns/:campaignId/audit, .../audit/verify, POST .../audit/import-history
  await registerWebhookRoutes(app, ctx); // (H4) /v1/webhooks/*, /admin/webhooks/destination
  // ── end of route registrations ──

  return app;
}
