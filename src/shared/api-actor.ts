/**
 * The actors the API records for its callers (producers/auth.ts builds them), in one place with the
 * test of whether one names a requester (the lifecycle builds a requester's commands on its own).
 */

/** A caller on a path that takes no token. */
export const ANONYMOUS_API_ACTOR = 'api:anonymous';

/** A caller known only by the shared token: `fingerprint` is a short hex digest of the token. */
export function tokenActor(fingerprint: string): string {
  return `api:token-${fingerprint}`;
}

const TOKEN_ACTOR = /^api:token-[0-9a-f]+$/;

/**
 * Whether an actor names one requester: not the token's fingerprint (every caller without `X-Actor`
 * that shares the token) nor the anonymous caller.
 */
export function namesRequester(actor: string): boolean {
  return actor !== ANONYMOUS_API_ACTOR && !TOKEN_ACTOR.test(actor);
}
