/** Printable ASCII without spaces, as the IETF Idempotency-Key draft and payment APIs expect. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/**
 * What is wrong with a launch's Idempotency-Key, or undefined when the API takes it. Pure and free of
 * the API's dependencies, so the CLI checks a key by the same rule before sending anything.
 */
export function idempotencyKeyProblem(value: string | undefined): string | undefined {
  return value !== undefined && IDEMPOTENCY_KEY_PATTERN.test(value)
    ? undefined
    : 'Idempotency-Key must be 1 to 200 printable ASCII characters without spaces';
}
