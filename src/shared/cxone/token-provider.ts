import { z } from 'zod';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { CxoneAuthError, CxoneRateLimitError, CxoneScopesNotGrantedError, isCxoneError } from '../errors.js';
import type { FleetLimiter } from '../limiter/types.js';
import type { Logger } from '../logger.js';
import { cxoneCredentialsRefused, cxoneScopeMissing, tokenRefreshes } from '../metrics.js';
import { CLAIM_MS, type SharedCredentialsRefusal } from './credentials-refusal.js';
import type { CxoneHttp } from './http.js';
import { errorFromResponse, parseBody } from './response.js';
import { scopeShortfall, shortfallMessage } from './scopes.js';
import { CXONE_ENDPOINTS, CXONE_SCOPES, type CxoneScope, tokenResponseSchema } from './wire.js';

export interface TokenProvider {
  /** A valid access token: the cached one, or a fresh one (concurrent callers share one request). */
  getToken(): Promise<string>;
  /** CXone refused `token` (401): forget it so the next getToken fetches a new one. No-op for an older token. */
  invalidate(token: string): void;
  /** When the cached token expires (epoch ms), for diagnostics; undefined when none is cached. */
  expiresAt(): number | undefined;
  /**
   * The cached token while it can still be sent (until shortly before it expires, past the early
   * refresh), without fetching; undefined otherwise. For a call that already holds its limiter slot.
   */
  sendable(): string | undefined;
  /**
   * The scopes asked for that the last token issued lacks (the token endpoint granted fewer, RFC
   * 6749 §3.3), as the error readiness reports; undefined when it has them all or none was issued.
   */
  scopeShortfall(): CxoneScopesNotGrantedError | undefined;
}

export interface TokenProviderOptions {
  http: CxoneHttp;
  clientId: string;
  clientSecret: string;
  scopes?: readonly CxoneScope[];
  limiter: FleetLimiter;
  logger: Logger;
  clock?: Clock;
  /**
   * The fleet's shared record of a refusal or a 429 (credentials-refusal.ts): consulted before each
   * token request (never for a cached token), written after each refusal and each 429, cleared by a
   * token. Without it the back-off is this process's own.
   */
  shared?: SharedCredentialsRefusal;
  /** The wait after a refusal (default CREDENTIALS_REFUSED_WAIT_MS doubling to _MAX_WAIT_MS); tests shorten it. */
  refusedWait?: { baseMs: number; maxMs: number };
}

/**
 * While the token lacks scopes it asked for, how soon a new one is asked for (in the background,
 * as an early refresh): an operator who grants the scope in CXone admin sees the fleet ready within
 * this, not when an hour-long token runs out. A few token requests an hour, only while it lasts.
 */
export const SCOPE_RECHECK_MS = 5 * 60_000;

/**
 * While the same scopes stay missing, how often the warning is said again: a fresh token every
 * SCOPE_RECHECK_MS (or every 2 s with short-lived tokens) is no news; the gauge says it all along.
 */
export const SCOPE_WARN_AGAIN_MS = 60 * 60_000;

/** Fleet-wide pause after a 429 that came without a usable Retry-After. */
export const DEFAULT_PENALTY_MS = 1_000;

/** The standard early-refresh margin. */
export const REFRESH_MARGIN_MS = 60_000;

/**
 * After a failed early refresh, how long the cached token is served before the refresh is tried
 * again: the token endpoint being down for a moment must neither fail calls whose token still lives
 * nor cost one token request per call.
 */
export const REFRESH_RETRY_MS = 5_000;

/**
 * After CXone refuses the client credentials (400/401 at the token endpoint), how long until the
 * token endpoint is asked again: this, doubled for each refusal in a row, up to
 * CREDENTIALS_REFUSED_MAX_WAIT_MS. Every caller meanwhile gets the refusal at once. A wrong secret
 * is not fixed by asking again: asked on every job and every probe, the IdP would see a client
 * failing in a loop — which CXone answers by locking the client — and the log one line per call.
 */
export const CREDENTIALS_REFUSED_WAIT_MS = 10_000;
export const CREDENTIALS_REFUSED_MAX_WAIT_MS = 300_000;

/**
 * While a refusal holds a process, how often it re-reads the fleet's record (only when a caller
 * asks for a token it cannot have): often enough that a fixed secret elsewhere, or an operator's
 * clearing, ends the hold within a second; never per call.
 */
export const FLEET_LOOK_AGAIN_MS = 1_000;

/** The wait after the `inARow`-th refusal in a row (1-based). Pure. */
export function credentialsRefusedWaitMs(
  inARow: number,
  baseMs = CREDENTIALS_REFUSED_WAIT_MS,
  maxMs = CREDENTIALS_REFUSED_MAX_WAIT_MS,
): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, inARow - 1));
}

/**
 * A short, printable excerpt of a text the token endpoint sent (its OAuth `error` code or
 * `error_description`), for a message an operator reads; undefined when there is none.
 */
function oauthText(value: string | undefined, max = 200): string | undefined {
  if (value === undefined) return undefined;
  // eslint-disable-next-line no-control-regex
  const text = value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (text === '') return undefined;
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * How long before expiry a token is replaced: 60 s, but never more than 10 % of its lifetime, so a
 * short-lived token (a 1-second sandbox token, a 2-minute gateway token) is still used for most of
 * its life instead of being refreshed on every call. Pure.
 */
export function refreshMarginMs(lifetimeMs: number): number {
  return Math.max(0, Math.min(REFRESH_MARGIN_MS, lifetimeMs * 0.1));
}

/** RFC 6749 §5.2 error body. */
const oauthErrorSchema = z.looseObject({ error: z.string(), error_description: z.string().optional() });

interface CachedToken {
  value: string;
  expiresAt: number;
  refreshAt: number;
  /**
   * When the token itself is due for its early refresh: before it, a refresh only re-checks the
   * scopes (SCOPE_RECHECK_MS), and a failed one waits for the next re-check, not REFRESH_RETRY_MS.
   */
  dueAt: number;
  sendableUntil: number;
}

/**
 * OAuth 2 client-credentials tokens for CXone: form-encoded grant at {baseUrl}/oauth2/token asking
 * for every scope the orchestrator uses, cached until shortly before expiry, fetched through the
 * fleet limiter like any other call. The token and the secret never reach a log line.
 */
export function createTokenProvider(opts: TokenProviderOptions): TokenProvider {
  const clock = opts.clock ?? systemClock;
  const scopes = opts.scopes ?? CXONE_SCOPES;
  const endpoint = CXONE_ENDPOINTS.token;
  let cached: CachedToken | undefined;
  let inflight: Promise<string> | undefined;
  /** CXone's last refusal of the credentials, while no token has been issued since. */
  let refused: { err: CxoneAuthError; inARow: number; retryAt: number } | undefined;
  /**
   * A 429 from the token endpoint (this process's, or another's through the fleet's record), until
   * its Retry-After has passed; `said` is what CXone said, `afterRefusal` that the fleet's record
   * held a refusal of the credentials before it.
   */
  let throttled: { said: string; body: unknown; until: number; afterRefusal: boolean } | undefined;
  /** When the fleet's record was last consulted (clock.now()), so a refusal held here is re-read at most once a second. */
  let fleetLookedAt = -Infinity;
  /** The scopes the last token issued lacks. */
  let lacking: CxoneScopesNotGrantedError | undefined;
  /** When the missing scopes were last warned of (clock.now()). */
  let warnedAt = -Infinity;

  /**
   * Compares what the token endpoint granted with what was asked for, on every fresh token: a
   * scope quietly withheld is said at once (warn, the gauge, readiness), not found out from 403s
   * — or, for statistics, from a campaign dialing unmeasured until the guard's blind pause.
   */
  function noteGrantedScopes(field: string | undefined): boolean {
    const shortfall = scopeShortfall(scopes, field);
    const missing = new Set<string>(shortfall?.missing ?? []);
    for (const scope of scopes) cxoneScopeMissing.set({ scope }, missing.has(scope) ? 1 : 0);
    const before = lacking;
    if (!shortfall) {
      lacking = undefined;
      if (before) {
        opts.logger.info(
          { grantedScopes: [...scopes], wereMissing: before.missingScopes },
          'CXone now grants every OAuth scope asked for',
        );
      }
      return false;
    }
    lacking = new CxoneScopesNotGrantedError(
      shortfallMessage(shortfall),
      shortfall.missing,
      shortfall.granted,
      { endpoint, status: 200 },
    );
    // Said when it starts or changes, and again once SCOPE_WARN_AGAIN_MS has passed: not per fresh
    // token, which comes every SCOPE_RECHECK_MS while it lasts (every 2 s with short-lived tokens).
    const now = clock.now();
    const same = before !== undefined && before.missingScopes.join(' ') === shortfall.missing.join(' ');
    if (same && now - warnedAt < SCOPE_WARN_AGAIN_MS) return true;
    warnedAt = now;
    opts.logger.warn(
      {
        missingScopes: shortfall.missing,
        grantedScopes: shortfall.granted,
        blocks: Object.fromEntries(shortfall.blocks.map((b) => [b.scope, b.endpoints])),
      },
      lacking.message,
    );
    return true;
  }

  async function refuse(err: CxoneAuthError): Promise<CxoneAuthError> {
    const inARow = (refused?.inARow ?? 0) + 1;
    const { baseMs, maxMs } = opts.refusedWait ?? {
      baseMs: CREDENTIALS_REFUSED_WAIT_MS,
      maxMs: CREDENTIALS_REFUSED_MAX_WAIT_MS,
    };
    refused = { err, inARow, retryAt: clock.now() + credentialsRefusedWaitMs(inARow, baseMs, maxMs) };
    cxoneCredentialsRefused.set(1);
    // The fleet's count and wait, when it has one: another process may have been refused already.
    const fleet = await opts.shared?.refused({
      status: err.status ?? 401,
      message: err.message,
      baseWaitMs: baseMs,
      maxWaitMs: maxMs,
    });
    if (fleet) refused = { err, inARow: fleet.inARow, retryAt: clock.now() + fleet.waitMs };
    return err;
  }

  /**
   * Why no token request may be made now (CXone's Retry-After runs, or the credentials were refused
   * and their wait runs), as the error each caller gets meanwhile; undefined when one may.
   */
  function heldBack(now: number): CxoneAuthError | CxoneRateLimitError | undefined {
    if (throttled && now < throttled.until) {
      const leftMs = throttled.until - now;
      return new CxoneRateLimitError(
        { endpoint, status: 429, body: throttled.body },
        leftMs,
        `${throttled.said}; no token request for ${Math.ceil(leftMs / 1000)} s more` +
          (refused || throttled.afterRefusal
            ? `, and before it CXone refused the OAuth client credentials: check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET`
            : ''),
      );
    }
    if (refused && now < refused.retryAt) {
      const { err, inARow } = refused;
      return new CxoneAuthError(
        `${err.message} (refused ${inARow} time${inARow === 1 ? '' : 's'} in a row; the next token request in ` +
          `${Math.ceil((refused.retryAt - now) / 1000)} s)`,
        { endpoint, status: err.status, body: err.body },
      );
    }
    return undefined;
  }

  /**
   * A token request, unless the fleet's record says CXone refused the credentials and its wait runs,
   * or answered a token request 429 and its Retry-After runs (then that, at once, and this process
   * holds it too). `attempt.made` says whether a request was sent: one held back by the fleet counts
   * in neither outcome of the metric.
   */
  async function requestToken(attempt: { made: boolean; heldNew: boolean }): Promise<string> {
    if (opts.shared) {
      fleetLookedAt = clock.now();
      const answer = await opts.shared.gate();
      if (answer.kind === 'throttled') {
        const now = clock.now();
        attempt.heldNew = !throttled || now >= throttled.until;
        throttled = {
          said: answer.said,
          body: undefined,
          until: now + answer.leftMs,
          afterRefusal: answer.afterRefusal,
        };
        // A lockout after a refusal of the credentials holds this process back for that refusal's
        // sake: the gauge says so, as the message does.
        if (answer.afterRefusal) cxoneCredentialsRefused.set(1);
        throw heldBack(now) ?? new CxoneRateLimitError({ endpoint, status: 429 }, answer.leftMs);
      }
      if (answer.kind === 'held') {
        const now = clock.now();
        attempt.heldNew = !refused || now >= refused.retryAt;
        refused = {
          err: new CxoneAuthError(answer.message, { endpoint, status: answer.status }),
          inARow: answer.inARow,
          retryAt: now + answer.leftMs,
        };
        cxoneCredentialsRefused.set(1);
        throw heldBack(now) ?? refused.err;
      }
      // Redis did not answer: this process's own back-off still holds (fail open, not a request a second).
      const own = answer.kind === 'unknown' ? heldBack(clock.now()) : undefined;
      if (own) throw own;
    }
    attempt.made = true;
    const shared = opts.shared;
    const renewal = shared ? setInterval(() => void shared.renew(), CLAIM_MS / 3).unref() : undefined;
    const claim = { given: false };
    try {
      return await fetchToken(claim);
    } catch (err) {
      // Refusals and 429s are recorded (fetchToken; a 429's record gives the claim up); anything
      // else lets another process ask.
      if (!(err instanceof CxoneAuthError) && !claim.given) await opts.shared?.released();
      throw err;
    } finally {
      clearInterval(renewal);
    }
  }

  /** `claim.given`: a 429 was recorded in the fleet's record, which gave this process's claim up. */
  async function fetchToken(claim: { given: boolean }): Promise<string> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: opts.clientId,
      client_secret: opts.clientSecret,
      scope: scopes.join(' '),
    });
    // Set when the request leaves, after its wait in the limiter (a backlog, a 429 penalty on the
    // token endpoint): counted from before that wait, a token fetched after a long one would be taken
    // for older than it is, and refreshed (or found unsendable) that much too early.
    let requestedAt = clock.now();
    const res = await opts.limiter.schedule(endpoint, 'control', () => {
      requestedAt = clock.now();
      return opts.http.send({
        endpoint,
        method: 'POST',
        path: '/oauth2/token',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        data: form.toString(),
      });
    });
    const ctx = { endpoint };
    if (res.status < 200 || res.status > 299) {
      const oauthError = oauthErrorSchema.safeParse(res.body);
      const code = oauthError.success ? oauthText(oauthError.data.error, 64) : undefined;
      const description = oauthError.success ? oauthText(oauthError.data.error_description) : undefined;
      if (res.status === 400 && code === 'invalid_scope') {
        throw await refuse(
          new CxoneAuthError(
            `CXone refused the scopes ${scopes.join(' ')} for this OAuth client` +
              (description ? ` (${description})` : '') +
              '; grant them to the client in CXone admin',
            { ...ctx, status: res.status },
          ),
        );
      }
      if (res.status === 400 || res.status === 401) {
        throw await refuse(
          new CxoneAuthError(
            `CXone refused the OAuth client credentials (${res.status}${code ? ` ${code}` : ''}); ` +
              'check CXONE_CLIENT_ID and CXONE_CLIENT_SECRET',
            { ...ctx, status: res.status },
          ),
        );
      }
      const err = errorFromResponse(res, ctx, clock.now());
      if (err instanceof CxoneRateLimitError) {
        const waitMs = err.retryAfterMs ?? DEFAULT_PENALTY_MS;
        // Every caller of this process is told at once until Retry-After has passed (none waits in
        // the limiter for it: a readiness probe would only time out), and so is every caller of the
        // fleet's other processes, through the shared record; the limiter's penalty still holds a
        // request made without it (Redis trouble). What CXone said is kept: a 429 after failed
        // logins is a lockout.
        const said =
          `CXone refused token requests with 429` +
          (code ? ` ${code}` : '') +
          (description ? ` (${JSON.stringify(description)})` : '');
        throttled = { said, body: err.body, until: clock.now() + waitMs, afterRefusal: false };
        const [recorded] = await Promise.all([
          opts.shared?.throttled({
            waitMs,
            said,
            keepRefusalMs: opts.refusedWait?.maxMs ?? CREDENTIALS_REFUSED_MAX_WAIT_MS,
          }),
          opts.limiter.penalize(endpoint, waitMs).catch(() => undefined),
        ]);
        claim.given = recorded !== undefined;
        if (recorded && recorded.leftMs > 0) {
          // Held and said as the record holds it, as every other process is told it: a longer 429
          // already there (another process's), and the refusal of the credentials before it.
          throttled = {
            said: recorded.said,
            body: recorded.said === said ? err.body : undefined,
            until: Math.max(throttled.until, clock.now() + recorded.leftMs),
            afterRefusal: recorded.afterRefusal,
          };
          if (recorded.afterRefusal) cxoneCredentialsRefused.set(1);
        }
        throw heldBack(clock.now()) ?? err;
      }
      throw err;
    }
    const body = parseBody(tokenResponseSchema, res.body, ctx);
    // Cleared for the whole fleet: the other processes ask again at their next look (within a second).
    const endedInFleet = (await opts.shared?.accepted()) ?? 0;
    if (refused || endedInFleet > 0) {
      opts.logger.info(
        { refusalsInARow: Math.max(refused?.inARow ?? 0, endedInFleet) },
        'CXone accepts the OAuth client credentials again; access token acquired',
      );
    }
    refused = undefined;
    throttled = undefined;
    cxoneCredentialsRefused.set(0);
    // Lifetime counts from when the request was sent, not when the answer arrived: the server's clock
    // started about then.
    const lifetimeMs = body.expires_in * 1000;
    const expiresAt = requestedAt + lifetimeMs;
    const short = noteGrantedScopes(body.scope);
    const refreshAt = expiresAt - refreshMarginMs(lifetimeMs);
    cached = {
      value: body.access_token,
      expiresAt,
      refreshAt: short ? Math.min(refreshAt, requestedAt + SCOPE_RECHECK_MS) : refreshAt,
      dueAt: refreshAt,
      // Still sent this close to its end: the request must reach CXone before the token dies.
      sendableUntil: expiresAt - Math.min(5_000, lifetimeMs * 0.05),
    };
    opts.logger.debug({ expiresInS: body.expires_in, scopes: body.scope }, 'CXone access token acquired');
    return body.access_token;
  }

  return {
    sendable() {
      return cached && clock.now() < cached.sendableUntil ? cached.value : undefined;
    },
    getToken() {
      const now = clock.now();
      if (cached && now < cached.refreshAt) return Promise.resolve(cached.value);
      const held = inflight ? undefined : heldBack(now);
      if (held) {
        // Not asked now: the cached token while it can be sent, else the reason, at once — but a
        // refusal is looked up in the fleet's record again once a second: a token issued to another
        // process (the secret fixed there) or an operator's clearing ends it here too.
        if (cached && now < cached.sendableUntil) return Promise.resolve(cached.value);
        const lookAgain =
          opts.shared !== undefined &&
          held instanceof CxoneAuthError &&
          now - fleetLookedAt >= FLEET_LOOK_AGAIN_MS;
        if (!lookAgain) return Promise.reject(held);
      }
      if (!inflight) {
        const attempt = { made: false, heldNew: false };
        inflight = requestToken(attempt)
          .then(
            (token) => {
              tokenRefreshes.inc({ outcome: 'success' });
              return token;
            },
            (err: unknown) => {
              if (attempt.made) tokenRefreshes.inc({ outcome: 'failure' });
              // Looked at now, not when the refresh began: a token CXone refused meanwhile (invalidate)
              // or one too close to its end is not a fallback.
              const fallback = cached;
              const now = clock.now();
              const usable = fallback !== undefined && now < fallback.sendableUntil;
              if (!attempt.made) {
                // Held by the fleet's record: said once when this process learns of it, not per look.
                if (attempt.heldNew && err instanceof CxoneRateLimitError && throttled) {
                  opts.logger.warn(
                    { nextTokenRequestInS: Math.ceil((throttled.until - now) / 1000) },
                    `${err.message}; recorded by another process of the fleet, so this one makes no token request meanwhile`,
                  );
                } else if (attempt.heldNew && refused) {
                  opts.logger.error(
                    {
                      refusalsInARow: refused.inARow,
                      nextTokenRequestInS: Math.ceil((refused.retryAt - now) / 1000),
                    },
                    `${(err as Error).message}; recorded by another process of the fleet, so this one makes no token request meanwhile`,
                  );
                }
              } else if (err instanceof CxoneAuthError && refused) {
                // An error, and in plain words: nothing heals it but an operator. One line per token
                // request, which the wait after a refusal keeps to a few a minute.
                const inS = Math.ceil((refused.retryAt - now) / 1000);
                opts.logger.error(
                  { err: err.toJSON(), refusalsInARow: refused.inARow, nextTokenRequestInS: inS },
                  `${err.message}; the next token request in ${inS} s` +
                    (usable ? ' (the cached access token is used until it nears expiry)' : ''),
                );
              } else {
                opts.logger.warn(
                  { err: isCxoneError(err) ? err.toJSON() : (err as Error).message },
                  usable
                    ? 'could not refresh the CXone access token; using the cached one until it nears expiry'
                    : 'could not get a CXone access token',
                );
              }
              if (!usable) throw err;
              const retryAt = Math.max(now + REFRESH_RETRY_MS, refused?.retryAt ?? 0, throttled?.until ?? 0);
              // A scope re-check the token itself did not need waits for the next re-check: retried
              // every REFRESH_RETRY_MS for the rest of an hour-long token, each process of the fleet
              // would spend the token endpoint's budget on it while that endpoint fails.
              const recheck = now < fallback.dueAt ? Math.min(fallback.dueAt, now + SCOPE_RECHECK_MS) : 0;
              fallback.refreshAt = Math.min(fallback.sendableUntil, Math.max(retryAt, recheck));
              return fallback.value;
            },
          )
          .finally(() => {
            inflight = undefined;
          });
        // Nobody may be waiting for it (see below); its failure is logged above.
        inflight.catch(() => undefined);
      }
      // The refresh is early so that no call has to wait for it: while the cached token can still be
      // sent, calls go on with it (a token request may wait long in the limiter: a backlog, a 429
      // penalty on the token endpoint) and get the new one once it is in.
      if (cached && now < cached.sendableUntil) return Promise.resolve(cached.value);
      return inflight;
    },
    invalidate(token) {
      if (cached?.value === token) cached = undefined;
    },
    expiresAt() {
      return cached?.expiresAt;
    },
    scopeShortfall() {
      return lacking;
    },
  };
}
