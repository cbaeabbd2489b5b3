import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyRequest } from 'fastify';
import { ENDPOINT_SCOPES, CXONE_ENDPOINTS, type CxoneEndpoint } from '../shared/cxone/wire.js';
import { SandboxHttpError } from './errors.js';
import { GatewayPageError } from './gateway-page.js';
import type { RetryAfterForm } from './faults.js';
import { retryAfterSeconds, type RateWindow } from './rate-window.js';
import { endpointOf, setInfo, type RequestInfo } from './request-context.js';
import type { SandboxState } from './state.js';
import type { TokenGrant } from './token-store.js';

const BEARER_REALM = 'Bearer realm="cxone-sandbox"';

/** Spends one request of `key`'s budget, or refuses with 429 and a Retry-After in whole seconds. */
export function admit(window: RateWindow, key: string, endpoint: CxoneEndpoint, info: RequestInfo): void {
  const decision = window.take(`${key}\u0000${endpoint}`);
  if (decision.ok) return;
  info.outcome = 'rate_limited';
  throw rateLimited(endpoint, retryAfterSeconds(decision.retryAfterMs));
}

function rateLimited(
  endpoint: CxoneEndpoint,
  seconds: number,
  form: RetryAfterForm = 'seconds',
  nowMs = Date.now(),
): SandboxHttpError {
  if (form === 'omitted') {
    return new SandboxHttpError(429, 'rate_limited', `too many requests to ${endpoint}; slow down`);
  }
  // An HTTP date has whole-second resolution: rounded up, so it never asks for less than `seconds`.
  const header =
    form === 'http-date'
      ? new Date(Math.ceil((nowMs + seconds * 1000) / 1000) * 1000).toUTCString()
      : String(seconds);
  return new SandboxHttpError(
    429,
    'rate_limited',
    `too many requests to ${endpoint}; retry after ${seconds} s`,
    { retryAfterSeconds: seconds },
    { 'retry-after': header },
  );
}

/** Injected latency and failures; scripted failures are consumed before the random rate is drawn. */
export function injectFault(state: SandboxState, endpoint: CxoneEndpoint, info: RequestInfo): void {
  const decision = state.faults.decide(endpoint);
  if (!decision.fail) return;
  info.outcome = 'fault';
  if (decision.status === 429) {
    throw rateLimited(endpoint, decision.retryAfterSeconds ?? 1, decision.retryAfterForm, state.clock.now());
  }
  const failure =
    decision.body === undefined
      ? new SandboxHttpError(
          decision.status,
          'unavailable',
          'the service is temporarily unavailable; try again later',
        )
      : new GatewayPageError(decision.status, decision.body);
  // Carried out first, answered with the failure by the app's onSend hook.
  if (decision.applied) info.deferredFault = failure;
  else throw failure;
}

/**
 * The 401 for an Authorization header that holds no bearer token, saying which way: none at all,
 * another scheme or a bare token (RFC 6750 §3.1 gives those no error code), or `Bearer`
 * without exactly one token after it (`Bearer`, `Bearer a b`), which is an invalid token.
 */
function unreadableAuthorization(header: string | undefined): SandboxHttpError {
  const scheme = header?.trim().split(/\s+/)[0] ?? '';
  if (header === undefined || scheme === '') {
    return new SandboxHttpError(
      401,
      'unauthorized',
      'missing bearer token',
      {},
      { 'www-authenticate': BEARER_REALM },
    );
  }
  if (scheme.toLowerCase() !== 'bearer') {
    // A header of one word is a bare credential (an access token sent without "Bearer"), not a
    // scheme: never echoed, as no part of a secret belongs in an answer a client may log.
    const bare = header.trim() === scheme;
    const shown = scheme.length > 20 ? `${scheme.slice(0, 20)}…` : scheme;
    const what = bare
      ? 'the Authorization header holds a bare credential with no scheme before it'
      : `the Authorization header is ${JSON.stringify(shown)} credentials`;
    return new SandboxHttpError(
      401,
      'unauthorized',
      `missing bearer token: ${what}; this API takes "Bearer <access token>"`,
      {},
      { 'www-authenticate': BEARER_REALM },
    );
  }
  // No `"` or `\` in it: it is quoted in WWW-Authenticate, where RFC 6750 §3 allows neither.
  const description = 'the Authorization header must be Bearer followed by exactly one access token';
  return new SandboxHttpError(
    401,
    'invalid_token',
    description,
    {},
    { 'www-authenticate': `${BEARER_REALM}, error="invalid_token", error_description="${description}"` },
  );
}

/** The request's bearer token, or the 401 CXone answers for a missing, unknown or expired one. */
export function authenticateBearer(
  state: SandboxState,
  request: Pick<FastifyRequest, 'headers'>,
  info: Pick<RequestInfo, 'outcome'>,
): TokenGrant {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    info.outcome = 'unauthorized';
    throw unreadableAuthorization(header);
  }
  const check = state.tokens.check(match[1] as string);
  if (!check.ok) {
    info.outcome = 'unauthorized';
    const description =
      check.reason === 'expired' ? 'the access token expired' : 'the access token is not valid';
    throw new SandboxHttpError(
      401,
      'invalid_token',
      description,
      {},
      { 'www-authenticate': `${BEARER_REALM}, error="invalid_token", error_description="${description}"` },
    );
  }
  return check.grant;
}

/**
 * Whether an Accept header lets the answer be JSON, the only representation CXone serves. Absent,
 * `*\/*`, `application/*` and `application/json` (with any parameters) do, unless given q=0; as RFC
 * 9110 §12.5.1 has it, the most specific range that matches decides, so `application/json;q=0, *\/*`
 * refuses JSON. Pure.
 */
export function acceptsJson(header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return true;
  const SPECIFICITY: Record<string, number> = { 'application/json': 3, 'application/*': 2, '*/*': 1 };
  let best: { specificity: number; refused: boolean } | null = null;
  for (const range of header.split(',')) {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase());
    const specificity = SPECIFICITY[type];
    if (specificity === undefined) continue;
    const refused = params.some((p) => /^q=0(\.0{0,3})?$/.test(p));
    // The most specific range decides; among equals, any that accepts.
    if (best === null || specificity > best.specificity) best = { specificity, refused };
    else if (specificity === best.specificity) best = { specificity, refused: best.refused && refused };
  }
  return best !== null && !best.refused;
}

/**
 * 406 for an Accept that excludes JSON, before the budget like the 401: a request that cannot be
 * answered spends nothing. `extra`: fields the caller's error shape adds (OAuth's error_description).
 */
export function refuseUnacceptable(
  request: Pick<FastifyRequest, 'headers'>,
  info: Pick<RequestInfo, 'outcome'>,
  extra: (message: string) => Record<string, unknown> = () => ({}),
): void {
  if (acceptsJson(request.headers.accept)) return;
  info.outcome = 'refused';
  const message = `this API answers application/json only; the request's Accept was ${JSON.stringify(request.headers.accept)}`;
  throw new SandboxHttpError(406, 'not_acceptable', message, extra(message));
}

/**
 * The API gateway in front of every contract endpoint except the token endpoint (which must read its
 * body to know the client, so it runs the same steps in its handler). Order: latency, bearer token
 * (401, not counted against the budget), Accept (406, not counted either), rate limit (429; every admitted request counts whatever
 * happens next), scope (403), injected fault (5xx or scripted 429).
 */
export async function gatewayHook(state: SandboxState, request: FastifyRequest): Promise<void> {
  const endpoint = endpointOf(request);
  if (endpoint === null) return;
  const info = setInfo(request, { endpoint });
  const latency = state.faults.latency;
  if (latency > 0) await sleep(latency);
  if (endpoint === CXONE_ENDPOINTS.token) return;
  const grant = authenticateBearer(state, request, info);
  info.grant = grant;
  refuseUnacceptable(request, info);
  admit(state.rate, grant.tenant, endpoint, info);
  const scope = ENDPOINT_SCOPES[endpoint];
  if (!grant.scopes.includes(scope)) {
    info.outcome = 'admitted';
    throw new SandboxHttpError(
      403,
      'insufficient_scope',
      `${endpoint} requires scope ${scope}; this token has ${grant.scopes.join(' ') || 'no scopes'}`,
      { requiredScope: scope },
      { 'www-authenticate': `${BEARER_REALM}, error="insufficient_scope", scope="${scope}"` },
    );
  }
  injectFault(state, endpoint, info);
  info.outcome ??= 'admitted';
}
