/**
 * The headers this API reads or sends beyond content negotiation and `Authorization`, by the name the
 * code reads or sets them (lower case, as Node hands request headers over). The routes use these names
 * and the OpenAPI document (openapi.ts) describes the same ones, so a header a route starts to send is
 * one the document can be checked for (test/producers/openapi-conformance.test.ts).
 */

/** Where to follow what a 202 accepted: the launch or the command. */
export const LOCATION = 'location';
/** `true` on a launch or command answered from an earlier request with the same Idempotency-Key. */
export const IDEMPOTENT_REPLAYED = 'idempotent-replayed';
/** Whole seconds to wait, on every 503 of the API (not /readyz's) and on its 429. */
export const RETRY_AFTER = 'retry-after';
/** The scheme to authenticate with, on every 401. */
export const WWW_AUTHENTICATE = 'www-authenticate';
/** The methods a path serves, on a 405 (src/shared/http/allowed-methods.ts sets it). */
export const ALLOW = 'allow';
/** Request: makes a launch or a command safe to retry. */
export const IDEMPOTENCY_KEY = 'idempotency-key';
/** Request: who is behind a shared token, for the audit trail (auth.ts actorFor). */
export const X_ACTOR = 'x-actor';
