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
