import { canonicalJson } from '../shared/canonical-json.js';
import { createHash } from 'node:crypto';
import { monotonicOf, type Clock } from '../shared/clock.js';

export interface StoredResponse {
  statusCode: number;
  body: unknown;
  campaignId: string;
}

export type IdempotencyLookup =
  { kind: 'new' } | { kind: 'replay'; response: StoredResponse } | { kind: 'mismatch' };

export function fingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/**
 * Deeper than any create body nests (`complianceSettings.allowedCallTimes[i].days[j]` is 5 levels),
 * with room to spare; only successful creates are remembered, so a remembered body is never deeper.
 */
const MAX_BODY_DEPTH = 32;

/** Whether `value` nests objects or arrays more than `limit` levels deep; stops looking at the limit. */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (limit === 0) return true;
  for (const inner of Object.values(value)) if (nestsDeeperThan(inner, limit - 1)) return true;
  return false;
}

/**
 * Idempotency-Key memory for POST /api/v2/campaigns, per tenant. Only successful creates are
 * remembered: a rejected request may be corrected and re-sent under the same key.
 */
export class IdempotencyStore {
  /**
   * The request body is kept as it came and fingerprinted only when the key is used again: most keys
   * never are, and canonicalising and hashing every create body cost the sandbox more CPU than the
   * rest of the create's bookkeeping.
   */
  private readonly entries = new Map<
    string,
    { body: unknown; fingerprint?: string; response: StoredResponse; at: number }
  >();
  /**
   * Ages are measured on the monotonic clock: on the wall clock a key outlived its TTL by as much as
   * the clock stepped back (NTP, a VM resuming), and a step forward forgot it early.
   */
  private readonly monoNow: () => number;

  constructor(
    clock: Clock,
    private readonly ttlMs: number,
  ) {
    this.monoNow = monotonicOf(clock);
  }

  lookup(tenant: string, key: string, body: unknown): IdempotencyLookup {
    const entry = this.entries.get(this.id(tenant, key));
    if (!entry || this.monoNow() - entry.at > this.ttlMs) return { kind: 'new' };
    // The body is the client's, unvalidated: one nested past any create body cannot be the one
    // remembered, and canonicalising it would overflow the stack (a 500 where CXone answers 422).
    if (nestsDeeperThan(body, MAX_BODY_DEPTH)) return { kind: 'mismatch' };
    entry.fingerprint ??= fingerprint(entry.body);
    return entry.fingerprint === fingerprint(body)
      ? { kind: 'replay', response: entry.response }
      : { kind: 'mismatch' };
  }

  remember(tenant: string, key: string, body: unknown, response: StoredResponse): void {
    const now = this.monoNow();
    for (const [id, entry] of this.entries) {
      // Map iteration is insertion order, so the oldest entries come first.
      if (now - entry.at <= this.ttlMs) break;
      this.entries.delete(id);
    }
    this.entries.set(this.id(tenant, key), { body, response, at: now });
  }

  clear(): void {
    this.entries.clear();
  }

  private id(tenant: string, key: string): string {
    return `${tenant}\u0000${key}`;
  }
}
