import { createHash } from 'node:crypto';

/**
 * The Idempotency-Key sent with the CXone create call of a launch. It is derived from the launch id
 * alone (a versioned, namespaced SHA-256), so every retry or redelivery of the same launch — after a
 * timeout, a 5xx, or a worker killed between CXone's answer and the job's completion — sends the
 * same key and CXone returns the campaign it already created instead of creating a second one.
 * Different launches never share a key; the key reveals nothing but a hash of the launch id.
 */
export function launchIdempotencyKey(launchId: string): string {
  if (launchId.trim() === '') throw new RangeError('launchId must not be empty');
  const digest = createHash('sha256').update(`cxo:launch:v1:${launchId}`).digest('hex');
  return `cxo-launch-${digest.slice(0, 48)}`;
}

/**
 * How long CXone remembers a create's Idempotency-Key: 24 h, as the sandbox does (docs/sandbox.md);
 * past it, the same key makes a new campaign instead of answering the one it made.
 */
export const CREATE_KEY_LIFETIME_MS = 24 * 3600_000;

/**
 * Taken off the key's lifetime before a create is re-sent to get its campaign back: a re-send waits for
 * the fleet's budget after the check, and CXone's clock need not agree with ours to the minute.
 */
export const CREATE_KEY_MARGIN_MS = 3600_000;

/**
 * Whether a launch's create can still be re-sent under its key to get back the campaign an earlier,
 * unanswered create made: only while CXone is sure to remember the key. Counted from `requestedAt`, the
 * earliest moment its first create could have been sent (a worker begins a launch only after it was
 * requested), so the key is remembered at least until then plus its lifetime. An unreadable
 * `requestedAt` counts as too old: a re-send that could not be vouched for is not sent. Pure.
 */
export function createKeyStillRemembered(requestedAt: string, nowMs: number): boolean {
  const sentFrom = Date.parse(requestedAt);
  return Number.isFinite(sentFrom) && nowMs - sentFrom < CREATE_KEY_LIFETIME_MS - CREATE_KEY_MARGIN_MS;
}
