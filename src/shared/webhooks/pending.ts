import type { Keys } from '../keys.js';

/**
 * The index of pending webhook events: a sorted set of event ids scored by the time each was
 * published (or replayed). The script that stores an event adds it (events/event-script.ts); it
 * leaves the index when it is delivered or dead-lettered (markDelivered, deadLetter,
 * deadLetterUndecided), and a replay puts it back. The sweep (sweep.ts) reads only this index, so its cost follows the number
 * of pending events, not the number published.
 */
export function webhookPendingKey(keys: Keys): string {
  return keys.custom('webhook', 'pending');
}
