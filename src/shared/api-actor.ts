/**
 * The actors the API records for its callers (producers/auth.ts builds them), in one place with the
 * test of whether one names a requester (the lifecycle builds a requester's commands on its own).
 */

/** The label after `api:` of a caller on a path that takes no token. */
const ANONYMOUS_LABEL = 'anonymous';
/** What starts the label after `api:` of a caller known only by the shared token. */
const TOKEN_LABEL_PREFIX = 'token-';

/** A caller on a path that takes no token. */
export const ANONYMOUS_API_ACTOR = `api:${ANONYMOUS_LABEL}`;

/** A caller known only by the shared token: `fingerprint` is a short hex digest of the token. */
export function tokenActor(fingerprint: string): string {
  return `api:${TOKEN_LABEL_PREFIX}${fingerprint}`;
}

/** `[Aa][Nn]…`: JSON Schema patterns take no flags, and the OpenAPI document shows this one. */
const anyCase = (word: string) =>
  [...word].map((c) => (/[a-z]/.test(c) ? `[${c.toUpperCase()}${c}]` : c)).join('');

/**
 * The `X-Actor` labels the API refuses because `api:<label>` would read as one of the actors above:
 * a caller could otherwise pass for the anonymous caller or for everyone sharing the token, and be
 * treated as naming no requester. Any case: `api:Token-…` reads the same to a person going
 * through the trail.
 */
export const RESERVED_ACTOR_LABEL = new RegExp(
  `^(?:${anyCase(ANONYMOUS_LABEL)}$|${anyCase(TOKEN_LABEL_PREFIX)})`,
);

const TOKEN_ACTOR = /^api:token-[0-9a-f]+$/;

/**
 * Whether an actor names one requester: not the token's fingerprint (every caller without `X-Actor`
 * that shares the token) nor the anonymous caller. No `X-Actor` yields either: their labels are
 * refused (RESERVED_ACTOR_LABEL).
 */
export function namesRequester(actor: string): boolean {
  return actor !== ANONYMOUS_API_ACTOR && !TOKEN_ACTOR.test(actor);
}
