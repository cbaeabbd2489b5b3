import { tokenMatches } from './auth.js';
import { createAuthThrottle, refuseAuthentication, type AuthThrottle } from './auth-throttle.js';
import { toErrorResponse, type ErrorBody } from './errors.js';
import { WWW_AUTHENTICATE } from './headers.js';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../shared/context.js';
import { collectRoutes, setAllow } from '../shared/http/allowed-methods.js';
import { decodedPath, pathOf, routedPath } from '../shared/http/url-path.js';

export const BULL_BOARD_PATH = '/admin/queues';

type BoardErrorReply = ReturnType<Parameters<FastifyAdapter['setErrorHandler']>[0]>;

/** Methods a read-only board still serves. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Of the methods routed on `path`, those it serves right now: under /admin/queues on a read-only board,
 * its reads only (a change is refused there with 405, whatever route it would take). The path is read
 * as the router reads it, segment by segment decoded: `/%61dmin/queues/…` is routed to the board, and
 * read raw it offered the change. Pure.
 */
export function boardServedMethods(path: string, routed: readonly string[], readOnly: boolean): string[] {
  if (!readOnly || !isBullBoardPath(decodedPath(path))) return [...routed];
  return routed.filter((m) => READ_METHODS.has(m));
}

/** Whether a request URL belongs to Bull Board, which checks its own credentials (Bearer or Basic). */
export function isBullBoardPath(url: string): boolean {
  const path = pathOf(url);
  return path === BULL_BOARD_PATH || path.startsWith(`${BULL_BOARD_PATH}/`);
}

/**
 * Statuses a queue's jobs can be cleaned from: the states BullMQ 6 keeps jobs in (`waiting` is its
 * `wait` list). Bull Board hands any other status of `PUT …/clean/:queueStatus` to BullMQ, which
 * cleans a list that does not exist and answers 200 — an operator or a script with a typo is told
 * the jobs are gone when nothing was touched.
 */
export const CLEANABLE_STATUSES = [
  'completed',
  'failed',
  'delayed',
  'waiting',
  'prioritized',
  'active',
] as const;

/**
 * Why a `clean` of this status cannot be done, or undefined when it can. BullMQ 6 keeps a paused
 * queue's jobs under `waiting`, not in a list of their own. Pure.
 */
export function cleanStatusProblem(status: string): string | undefined {
  // `wait` is BullMQ's own name of `waiting`; scripts written against BullMQ use it.
  if (status === 'wait' || (CLEANABLE_STATUSES as readonly string[]).includes(status)) return undefined;
  const paused = status === 'paused' ? " (a paused queue's jobs are under waiting)" : '';
  return `cannot clean jobs in status "${status}"${paused}: one of ${CLEANABLE_STATUSES.join(', ')}`;
}

const CLEAN_ROUTE = `${BULL_BOARD_PATH}/api/queues/:queueName/clean/:queueStatus`;

/** The realm browsers show in their login prompt. */
export const BASIC_REALM = 'cxone-orchestrator';

/**
 * Credentials accepted under /admin: `Bearer <API_TOKEN>` for scripts, or HTTP Basic with any user
 * name and the API token as password, so a browser can log in to Bull Board through its own prompt.
 */
export function adminCredentialsOk(authorization: string | undefined, apiToken: string): boolean {
  if (!authorization) return false;
  const space = authorization.indexOf(' ');
  if (space < 0) return false;
  const scheme = authorization.slice(0, space).toLowerCase();
  const value = authorization.slice(space + 1).trim();
  if (scheme === 'bearer') return tokenMatches(value, apiToken);
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 && tokenMatches(decoded.slice(colon + 1), apiToken);
  }
  return false;
}

/**
 * Whether a browser sent this request from another site's page. A browser that logged in with Basic
 * may attach the cached credentials to such a request by itself, so a page anywhere could make the
 * board change jobs (POST …/add takes no body: no preflight). Browsers say where a request comes from
 * in `Sec-Fetch-Site`, or at least in `Origin` on every POST, PUT, PATCH and DELETE; a client that
 * sends neither (curl, a script) is not a browser page. Pure.
 */
export function isCrossSiteRequest(headers: {
  'sec-fetch-site'?: string | string[] | undefined;
  origin?: string | string[] | undefined;
  host?: string | undefined;
  'x-forwarded-host'?: string | string[] | undefined;
}): boolean {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const site = first(headers['sec-fetch-site']);
  // `none`: typed in the address bar or opened from a bookmark, by the user.
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = first(headers.origin);
  if (origin === undefined) return false;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    // `null` (a sandboxed frame, a data: page) or garbage: not this board's page.
    return true;
  }
  // A reverse proxy may pass the browser's host on in X-Forwarded-Host and its own in Host.
  const forwarded = first(headers['x-forwarded-host'])?.split(',')[0]?.trim();
  return ![headers.host, forwarded].some((h) => h !== undefined && h.toLowerCase() === originHost);
}

/**
 * The board's page may load from this server only. Bull Board's page asks Google Fonts for its
 * typefaces: from an operator's browser that is a request to a third party on every visit (which
 * learns who looks at the queues, and when), and on the closed networks fleets often run in it hangs
 * until the browser gives up. The link is taken out of the page (withoutExternalFonts) and the policy
 * refuses any other origin, the page's system-font fallback stands in. Inline styles stay allowed:
 * the page and its React components set them. `frame-ancestors 'none'`: never inside another page.
 */
export const BOARD_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Headers of every answer under /admin/queues: no framing by any page, nothing loaded from another
 * origin, no content sniffing.
 */
export const FRAME_DENYING_HEADERS = {
  'x-frame-options': 'DENY',
  'content-security-policy': BOARD_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
} as const;

/** Bull Board's `<link>` to Google Fonts' stylesheet (see BOARD_CONTENT_SECURITY_POLICY). */
const EXTERNAL_FONTS_LINK =
  /<link\b[^>]*\bhref="https:\/\/fonts\.(?:googleapis|gstatic)\.com\/[^"]*"[^>]*>\s*/g;

/** The board's page without its link to Google Fonts. Pure. */
export function withoutExternalFonts(html: string): string {
  return html.replace(EXTERNAL_FONTS_LINK, '');
}

/** A 401 that makes a browser show its login prompt; JSON body like every other API error. */
export function sendAdminChallenge(reply: FastifyReply): FastifyReply {
  return reply
    .code(401)
    .header(WWW_AUTHENTICATE, `Basic realm="${BASIC_REALM}", charset="UTF-8"`)
    .send({
      error: 'unauthorized',
      message: 'send Authorization: Bearer <API_TOKEN>, or HTTP Basic with the API token as password',
    } satisfies ErrorBody);
}

export interface BullBoardOptions {
  /** Overrides config.bullBoardReadOnly (tests). */
  readOnly?: boolean;
  /** The app's failed-authentication throttle, so a wrong password counts with a wrong token. */
  authThrottle?: AuthThrottle;
}

/**
 * Bull Board at /admin/queues listing every queue of the context. It guards itself (Bearer or Basic)
 * inside its own encapsulated plugin, so it stays protected whatever the app-wide auth does; the
 * read-only switch (BULL_BOARD_READ_ONLY) removes retry/clean/promote/delete for wide audiences.
 */
export async function registerBullBoard(
  app: FastifyInstance,
  ctx: AppContext,
  opts: BullBoardOptions = {},
): Promise<void> {
  const readOnlyMode = opts.readOnly ?? ctx.config.bullBoardReadOnly;
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: Object.values(ctx.queues).map((queue) => new BullMQAdapter(queue, { readOnlyMode })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'cxone-orchestrator' } },
  });
  const bodyLimitBytes = app.initialConfig.bodyLimit;
  // The handler's type lists only the statuses Bull Board's own handlers answer (no 413, 415, 503);
  // its Fastify adapter sends whatever status it is given.
  serverAdapter.setErrorHandler((err) => bullBoardErrorResponse(err, bodyLimitBytes) as BoardErrorReply);

  const apiToken = ctx.config.apiToken;
  const authThrottle = opts.authThrottle ?? createAuthThrottle(ctx);
  await app.register(async (scope) => {
    // The board's own routes, for the Allow of its read-only refusal.
    const routes = collectRoutes(scope);
    scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (!adminCredentialsOk(req.headers.authorization, apiToken)) {
        return refuseAuthentication(authThrottle, req, reply, () => sendAdminChallenge(reply));
      }
      // Bull Board's own read-only mode refuses each queue's changes, but its "pause all" and
      // "resume all" answer 200 having done nothing: a read-only board refuses every change itself.
      // Any method that is not a read, on any path of this scope: its UI changes nothing with one,
      // and a path test would have to see the path as the router decodes it (`/%61pi/…` is `/api/…`).
      if (readOnlyMode && !READ_METHODS.has(req.method)) {
        // A 405 says what the path does serve (RFC 9110), as every other 405 of the API: read-only,
        // only its reads. Empty on a path that takes changes only (`…/pause`): it serves nothing now.
        const reads = routes.allowedMethods(routedPath(req.url)).filter((m) => READ_METHODS.has(m));
        return setAllow(reply.code(405), reads).send({ error: { key: 'ERRORS.QUEUE_READ_ONLY' } });
      }
      if (!READ_METHODS.has(req.method) && isCrossSiteRequest(req.headers)) {
        req.log.warn(
          { method: req.method, path: pathOf(req.url), origin: req.headers.origin },
          'Bull Board refused a change sent from another site',
        );
        // Bull Board's error shape, as its read-only refusal: the board's API answers in it.
        return reply.code(403).send({
          error: { key: 'ERRORS.CROSS_SITE_REQUEST' },
          message:
            "Bull Board takes changes from its own page only: this request came from another site's page",
        });
      }
      if (req.routeOptions.url === CLEAN_ROUTE) {
        const { queueStatus } = req.params as { queueStatus: string };
        const problem = cleanStatusProblem(queueStatus);
        // Bull Board's shape, as its own refusal to retry a status it cannot retry.
        if (problem !== undefined) {
          return reply.code(400).send({ error: { key: 'ERRORS.STATUS_NOT_CLEANABLE' }, message: problem });
        }
      }
    });
    // The board's error handler logs nothing: a 500 would leave no trace. This hook runs before it;
    // a client's mistake (a body that is not JSON) is answered, not logged as a failure.
    scope.addHook('onError', async (req, _reply, err) => {
      if (toErrorResponse(err).status < 500) return;
      req.log.error({ err, url: req.url }, 'Bull Board request failed');
    });
    scope.addHook('onSend', async (_req, reply, payload) => {
      // Never inside another site's frame: a page could lay the board, logged in with the browser's
      // cached Basic login, under its own buttons and have the operator click "clean" or "retry" —
      // changes the board's own page sends, which the cross-site check above lets through.
      void reply.headers(FRAME_DENYING_HEADERS);
      if (typeof payload !== 'string') return payload;
      const type = String(reply.getHeader('content-type') ?? '');
      if (type.includes('text/html')) return withoutExternalFonts(payload);
      if (reply.statusCode < 400 || !type.includes('application/json')) return payload;
      return withBullBoardMessage(payload);
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}

/**
 * What the board answers for an error thrown in its scope. Bull Board's own handler answers 500 for
 * anything without a `statusCode`, so a body the app's parser refused (400 `invalid_json`, a
 * `__proto__` key) came back as a 500; the app's mapping decides the status and the message here, as
 * for every other route, and the body keeps the board's shape, a key its UI reads
 * (`ERRORS.INVALID_JSON`). An unknown error is the app's opaque 500, its message logged, never sent.
 * Pure.
 */
export function bullBoardErrorResponse(
  err: unknown,
  bodyLimitBytes?: number,
): { status: number; body: { error: { key: string }; message: string } } {
  const { status, body } = toErrorResponse(err, bodyLimitBytes === undefined ? {} : { bodyLimitBytes });
  return { status, body: { error: { key: `ERRORS.${body.error.toUpperCase()}` }, message: body.message } };
}

/**
 * Bull Board's own API answers errors as `{error: {key: "ERRORS.…"}}`, a translation key its UI
 * reads; the UI needs that shape kept. A `message` is added beside it, so an operator with curl
 * reads what went wrong, as with every other error of this API.
 */
export function withBullBoardMessage(payload: string): string {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return payload;
  }
  if (typeof body !== 'object' || body === null || 'message' in body) return payload;
  const key = (body as { error?: { key?: unknown } }).error?.key;
  if (typeof key !== 'string') return payload;
  const message =
    key === 'ERRORS.QUEUE_READ_ONLY'
      ? 'Bull Board is read-only here (BULL_BOARD_READ_ONLY=true): jobs can be inspected, not changed'
      : `Bull Board: ${key
          .replace(/^ERRORS\./, '')
          .toLowerCase()
          .replace(/_/g, ' ')}`;
  return JSON.stringify({ ...body, message });
}
