import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CXONE_ENDPOINTS, tokenRequestSchema, tokenResponseSchema } from '../../shared/cxone/wire.js';
import { SandboxHttpError } from '../errors.js';
import { admit, injectFault, refuseUnacceptable } from '../gateway.js';
import { retryAfterSeconds } from '../rate-window.js';
import { infoOf, setInfo, type RequestInfo } from '../request-context.js';
import type { SandboxState } from '../state.js';

/**
 * The 415 message of the token endpoint for a body of `mediaType` (the Content-Type's type, lower
 * case; '' when the request had none). Fastify refuses such bodies before the handler runs too
 * (app.ts), so both say it the same way.
 */
export function notAFormMessage(mediaType: string): string {
  const sent = mediaType === '' ? 'a body with no Content-Type' : mediaType;
  return (
    `the token endpoint takes application/x-www-form-urlencoded (RFC 6749 §4.4.2), not ${sent}: ` +
    'send grant_type, client_id and client_secret (or HTTP Basic) as form fields'
  );
}

/** OAuth errors carry RFC 6749's error_description as well as our usual message. */
function oauthError(
  status: number,
  code: string,
  description: string,
  headers: Record<string, string> = {},
): SandboxHttpError {
  return new SandboxHttpError(status, code, description, { error_description: description }, headers);
}

const looseTokenBody = z.looseObject({
  grant_type: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  scope: z.string().optional(),
});

/** HTTP Basic client credentials (RFC 6749 2.3.1: both parts form-urlencoded before base64). */
function basicCredentials(request: FastifyRequest): { clientId: string; clientSecret: string } | null {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw oauthError(400, 'invalid_request', 'malformed HTTP Basic credentials');
  try {
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    };
  } catch {
    throw oauthError(400, 'invalid_request', 'malformed HTTP Basic credentials');
  }
}

/**
 * Whom a failed login at the token endpoint is counted against: the client it names when the sandbox
 * has one (whoever sends it: a wrong secret from anywhere locks that client, as CXone's IdP does), else
 * the address it came from, so that a caller cycling through made-up client ids is held back too.
 */
function failureKey(state: SandboxState, request: FastifyRequest, clientId: string | undefined) {
  return clientId !== undefined && state.clients.has(clientId)
    ? { key: `client\u0000${clientId}`, who: 'this client' }
    : { key: `address\u0000${request.ip}`, who: 'this address (for client ids it does not know)' };
}

/**
 * 429 while the client (or the address) is locked for failed logins. Checked before the secret: a
 * locked client is refused even with the right one, as IdPs that lock a client do; a sandbox that let
 * it through would hide that a fleet whose secret was just fixed must still wait the lockout out.
 */
function refuseLocked(
  state: SandboxState,
  failure: { key: string; who: string },
  info: Pick<RequestInfo, 'outcome'>,
): void {
  const lockedForMs = state.authFailures.lockedForMs(failure.key);
  if (lockedForMs === undefined) return;
  const seconds = retryAfterSeconds(lockedForMs);
  const { perWindow, windowMs } = state.authFailures.limits;
  info.outcome = 'rate_limited';
  throw new SandboxHttpError(
    429,
    'too_many_failed_auth',
    `too many failed client authentications from ${failure.who}: ${perWindow} within ` +
      `${windowMs / 1000} s; token requests are refused, whatever the secret, for ${seconds} s more`,
    { retryAfterSeconds: seconds },
    { 'retry-after': String(seconds) },
  );
}

export async function registerOauthRoutes(app: FastifyInstance, state: SandboxState): Promise<void> {
  app.post('/oauth2/token', async (request, reply) => {
    const info = infoOf(request) ?? setInfo(request, { endpoint: CXONE_ENDPOINTS.token });
    // RFC 6749 §4.4.2: the token request is a form. JSON is parsed app-wide for the API's routes, so
    // it is refused here by name; a client that sent it would fail on a real OAuth server.
    const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (mediaType !== '' && mediaType !== 'application/x-www-form-urlencoded') {
      throw oauthError(415, 'unsupported_media_type', notAFormMessage(mediaType));
    }
    const loose = looseTokenBody.safeParse(request.body ?? {});
    if (!loose.success) {
      throw oauthError(400, 'invalid_request', 'each field of the token request must be given once');
    }
    const basic = basicCredentials(request);
    const body = loose.data;
    if (body.grant_type === undefined) throw oauthError(400, 'invalid_request', 'grant_type is required');
    if (body.grant_type !== 'client_credentials') {
      throw oauthError(
        400,
        'unsupported_grant_type',
        `grant_type ${body.grant_type} is not supported; use client_credentials`,
      );
    }
    // RFC 6749 §2.3: a client MUST NOT use more than one authentication method in a request. Taking
    // one and ignoring the other would hide a client that sends stale credentials in the body.
    if (basic && (body.client_id !== undefined || body.client_secret !== undefined)) {
      throw oauthError(
        400,
        'invalid_request',
        'send the client credentials once: in the Authorization header (HTTP Basic) or in the body, not both',
      );
    }
    const failure = failureKey(state, request, basic?.clientId ?? body.client_id);
    refuseLocked(state, failure, info);
    const parsed = tokenRequestSchema.safeParse({
      grant_type: body.grant_type,
      client_id: basic?.clientId ?? body.client_id,
      client_secret: basic?.clientSecret ?? body.client_secret,
      ...(body.scope !== undefined ? { scope: body.scope } : {}),
    });
    if (!parsed.success) {
      info.outcome = 'unauthorized';
      state.authFailures.fail(failure.key);
      throw oauthError(
        401,
        'invalid_client',
        'client authentication failed: client_id and client_secret are required',
        {
          'www-authenticate': 'Basic realm="cxone-sandbox"',
        },
      );
    }
    const client = state.clients.authenticate(parsed.data.client_id, parsed.data.client_secret);
    if (!client) {
      info.outcome = 'unauthorized';
      state.authFailures.fail(failure.key);
      throw oauthError(
        401,
        'invalid_client',
        'client authentication failed: unknown client or wrong secret',
        {
          'www-authenticate': 'Basic realm="cxone-sandbox"',
        },
      );
    }
    // As at every other endpoint, once the caller is known and before its budget: the answer is
    // JSON (RFC 6749 §5.1), so a client asking for something else (a form, as some OAuth servers
    // answer by default) is told here instead of getting JSON it did not ask for.
    refuseUnacceptable(request, info, (message) => ({ error_description: message }));
    const tenant = state.clients.tenantOf(client);
    admit(state.tokenRate, tenant, CXONE_ENDPOINTS.token, info);
    injectFault(state, CXONE_ENDPOINTS.token, info);
    info.outcome ??= 'admitted';
    const scopes = state.clients.resolveScopes(client, parsed.data.scope);
    if (!scopes.ok) {
      const parts = [
        scopes.unknown.length > 0 ? `unknown scopes: ${scopes.unknown.join(' ')}` : '',
        scopes.notGranted.length > 0 ? `not granted to this client: ${scopes.notGranted.join(' ')}` : '',
      ].filter(Boolean);
      throw oauthError(400, 'invalid_scope', parts.join('; '));
    }
    // A scope withheld (POST /__sandbox/faults withholdScopes) is left out quietly, as an OAuth
    // server may (RFC 6749 §3.3): only the answer's `scope` says so, and the token's calls to the
    // endpoints needing it answer 403 insufficient_scope.
    const granted = state.faults.grant(scopes.scopes);
    // Nothing left to grant is a refusal (a `scope` of no scope token is no grant, RFC 6749 §3.3).
    if (granted.length === 0 && scopes.scopes.length > 0) {
      throw oauthError(
        400,
        'invalid_scope',
        `none of the scopes asked for is granted: ${scopes.scopes.join(' ')}`,
      );
    }
    const { token } = state.tokens.issue(client.clientId, tenant, granted);
    void reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return tokenResponseSchema.parse({
      access_token: token,
      token_type: 'Bearer',
      expires_in: state.tokens.ttl,
      scope: granted.join(' '),
    });
  });
}
