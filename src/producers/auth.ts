import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ANONYMOUS_API_ACTOR, RESERVED_ACTOR_LABEL, tokenActor } from '../shared/api-actor.js';
import { routedPath } from '../shared/http/url-path.js';
import { ApiError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller as the audit trail records it: `api:<id>`. Set on /v1 and /admin. */
    actor: string;
  }
}

/** Path prefixes that require the bearer token. Health, readiness, metrics and docs stay open. */
export const PROTECTED_PREFIXES = ['/v1/', '/admin/'] as const;

/**
 * An absolute-form request target (`GET http://host/v1/… HTTP/1.1`) is read by the path that follows,
 * as the router routes it: a URL it matches no route for must still be read by that path, or an
 * unknown /v1 path would answer 404 without a token instead of 401.
 */
export function isProtectedPath(url: string): boolean {
  const path = routedPath(url);
  return PROTECTED_PREFIXES.some((p) => path === p.slice(0, -1) || path.startsWith(p));
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * Compares the presented token with the expected one in constant time. Both sides are hashed first so
 * the comparison takes the same time whatever the lengths (timingSafeEqual needs equal lengths, and an
 * early length check would leak the token's length).
 */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

/** Extracts the token from `Authorization: Bearer <token>`; undefined for any other shape. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** HTTP authentication schemes in IANA's registry (and two common vendor ones), by their usual case. */
const KNOWN_AUTH_SCHEMES = [
  'Basic',
  'Digest',
  'Negotiate',
  'NTLM',
  'HOBA',
  'Mutual',
  'SCRAM-SHA-256',
  'Token',
  'ApiKey',
];

/**
 * Pure: why a request's Authorization header did not authenticate it, in words that point at the fix.
 * Never quotes the credentials: only the scheme's name and how many parts followed it.
 */
export function bearerRefusal(header: string | undefined): string {
  const token = bearerToken(header);
  if (token !== undefined) return 'the bearer token is not valid for this API';
  const parts = (header ?? '').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return 'send Authorization: Bearer <API_TOKEN>';
  const scheme = parts[0] as string;
  if (scheme.toLowerCase() !== 'bearer') {
    // Only a registered scheme's name is repeated: a header holding the bare token would otherwise
    // be echoed back, and answers are what proxies log.
    const known = KNOWN_AUTH_SCHEMES.find((name) => name.toLowerCase() === scheme.toLowerCase());
    const named = known === undefined ? '' : ` (got ${known})`;
    return `the Authorization header must use the Bearer scheme${named}: send Authorization: Bearer <API_TOKEN>`;
  }
  if (parts.length === 1)
    return 'the Authorization header has no token after Bearer: send Authorization: Bearer <API_TOKEN>';
  return `the Authorization header must carry one token after Bearer, with no spaces in it; this one has ${parts.length - 1} parts`;
}

export const ACTOR_HEADER_PATTERN = /^[A-Za-z0-9._@:+-]{1,64}$/;

const ACTOR_CHARACTER = /^[A-Za-z0-9._@:+-]$/;

/** Pure: which part of ACTOR_HEADER_PATTERN a label breaks, for the refusal to name it. */
function actorLabelFault(label: string): string {
  if (label === '') return 'this one is empty';
  const chars = [...label];
  const at = chars.findIndex((c) => !ACTOR_CHARACTER.test(c));
  if (at === -1) return `this one has ${chars.length}`;
  const c = chars[at] as string;
  const point = c.codePointAt(0) ?? 0;
  // Node reads header bytes as Latin-1, so a UTF-8 letter (ë is C3 AB) arrives as two characters,
  // the first of which is no letter the sender typed: name the byte, not a Latin-1 look-alike.
  if (point >= 0x80 && point <= 0xff) {
    const byte = `0x${point.toString(16).toUpperCase()}`;
    return `byte ${at + 1} is ${byte}, which is not ASCII (a letter such as é or ë is sent as two or more bytes)`;
  }
  const code = `U+${point.toString(16).toUpperCase().padStart(4, '0')}`;
  // A printable ASCII character is shown as itself; anything else by its code point only, so the
  // answer cannot carry a control character or a look-alike into a log or a terminal.
  const shown = c === ' ' ? `${code} (a space)` : /^[\x21-\x7e]$/.test(c) ? JSON.stringify(c) : code;
  return `character ${at + 1} is ${shown}`;
}

/**
 * What is wrong with an `X-Actor` header, or undefined when there is none or the audit trail records
 * it. Refused rather than ignored: a caller who named itself and was recorded by the token's
 * fingerprint instead would not learn that the trail does not say what it meant.
 */
export function actorHeaderProblem(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const label = Array.isArray(header) ? header.join(', ') : header;
  // Node joins a header sent twice into one value, "a, b": "no spaces allowed" would send the
  // client looking for a space it never put in a label.
  const parts = label.split(', ');
  if (parts.length > 1 && parts.every((part) => ACTOR_HEADER_PATTERN.test(part))) {
    return `X-Actor must be given once; this request gives ${parts.length} labels`;
  }
  if (!ACTOR_HEADER_PATTERN.test(label)) {
    return `X-Actor must be 1 to 64 characters, each an ASCII letter, a digit or one of . _ @ : + -; ${actorLabelFault(label)}`;
  }
  if (RESERVED_ACTOR_LABEL.test(label)) {
    return (
      `X-Actor ${JSON.stringify(label)} is reserved: "anonymous" and labels starting with "token-" (in any ` +
      'case) would read as api:anonymous, the caller without a token, or api:token-…, the callers known ' +
      'only by the shared token; choose another label'
    );
  }
  return undefined;
}

/**
 * The identity the audit trail records for an API caller. An `X-Actor` header (letters, digits and
 * `._@:+-`, at most 64 characters, not a reserved label) names the person or system behind a shared
 * token; it is a label the authenticated caller chooses, not a proof. Without it the caller is
 * identified by a short SHA-256 fingerprint of the token, which is stable and reveals nothing usable
 * about the token. A header actorHeaderProblem refuses is a 400 `invalid_actor`, never another actor.
 */
export function actorFor(token: string, actorHeader: string | string[] | undefined): string {
  const problem = actorHeaderProblem(actorHeader);
  if (problem !== undefined) throw new ApiError(400, 'invalid_actor', problem);
  const label = Array.isArray(actorHeader) ? actorHeader[0] : actorHeader;
  if (label !== undefined) return `api:${label}`;
  return tokenActor(sha256(token).toString('hex').slice(0, 10));
}

/** The caller identity for audit records in route handlers; `api:anonymous` on unprotected paths. */
export function callerActor(request: FastifyRequest): string {
  return request.actor || ANONYMOUS_API_ACTOR;
}
