import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ANONYMOUS_API_ACTOR, tokenActor } from '../shared/api-actor.js';
import { routedPath } from '../shared/http/url-path.js';

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

export const ACTOR_HEADER_PATTERN = /^[A-Za-z0-9._@:+-]{1,64}$/;

/**
 * The identity the audit trail records for an API caller. An `X-Actor` header (letters, digits and
 * `._@:+-`, at most 64 characters) names the person or system behind a shared token; it is a label the
 * authenticated caller chooses, not a proof. Without it the caller is identified by a short SHA-256
 * fingerprint of the token, which is stable and reveals nothing usable about the token.
 */
export function actorFor(token: string, actorHeader: string | string[] | undefined): string {
  const label = Array.isArray(actorHeader) ? actorHeader[0] : actorHeader;
  if (label && ACTOR_HEADER_PATTERN.test(label)) return `api:${label}`;
  return tokenActor(sha256(token).toString('hex').slice(0, 10));
}

/** The caller identity for audit records in route handlers; `api:anonymous` on unprotected paths. */
export function callerActor(request: FastifyRequest): string {
  return request.actor || ANONYMOUS_API_ACTOR;
}
