import type { AuditInput, AuditTrail } from '../audit/types.js';
import type { Keys } from '../keys.js';
import type { Logger } from '../logger.js';
import { auditOutcomeOrLog } from '../side-records.js';
import type { WebhookStoreDeps } from './store.js';

/**
 * Audit records a webhook outcome owes (a dead letter, a destination disabled). The script that writes
 * the outcome writes the record it owes in the same step, here, under the record's dedupe key; the
 * record is appended afterwards and its entry removed. A process that dies between the two (or an
 * append that fails: a chain too busy, Redis dropping the connection) leaves the entry, and the next
 * webhook sweep appends it. The dedupe key keeps a record appended by both, or appended and then
 * owed again by a script ioredis sent twice, to one.
 *
 * The record is not appended by the script itself (audit-script.ts): a chain's record is sealed on the
 * head the writer knows, and a webhook worker rarely knows the head of a campaign others write to, so
 * the script would leave it to an append after it nearly every time — the very gap this closes.
 */

/** A hash: the owed record's dedupe key → the record (AuditInput JSON). */
export function owedAuditKey(keys: Keys): string {
  return keys.custom('webhook', 'audit-owed');
}

/** The script arguments for a record owed, or none ('' twice: the script owes nothing). */
export function owedAuditArgs(owed: AuditInput | undefined): [field: string, json: string] {
  if (!owed?.dedupeKey) return ['', ''];
  return [owed.dedupeKey, JSON.stringify(owed)];
}

/** Lua: writes the owed record given as ARGV[fi], ARGV[fi + 1] into the hash KEYS[ki], if any. */
export const OWE_AUDIT_LUA = `
local function owe_audit(ki, fi)
  if ARGV[fi] ~= '' then redis.call('HSET', KEYS[ki], ARGV[fi], ARGV[fi + 1]) end
end
`;

export interface OwedAuditDeps extends WebhookStoreDeps {
  audit: AuditTrail;
  logger: Logger;
}

/**
 * How many owed records one sweep asks HSCAN for; the next sweep goes on. A hint only: a reply may
 * hold more (Redis 7.2+ finishes the bucket it stopped in; a listpack-encoded hash comes back whole),
 * and every record in it is tried, as the cursor moves past the whole reply.
 */
const SETTLE_BATCH = 200;

/**
 * Where the next sweep's read of the owed records goes on (an HSCAN cursor; absent or 0: from the
 * start). Read from the start every time, records whose append keeps failing (a chain whose keys are
 * damaged) would fill every batch and keep those behind them owed for good. Kept a day: a cursor
 * lost only starts the walk over.
 */
export function owedAuditCursorKey(keys: Keys): string {
  return keys.custom('webhook', 'audit-owed-cursor');
}

const CURSOR_TTL_SECONDS = 86_400;

/**
 * Appends owed records and removes their entries: `owed` (the record a script just wrote), or else
 * every entry left (the sweep's turn). A record whose append fails stays owed, for the next sweep.
 * Never rejects. Returns how many records were appended or found already recorded.
 */
export async function settleOwedAudits(deps: OwedAuditDeps, owed?: AuditInput): Promise<number> {
  let inputs: AuditInput[];
  try {
    inputs = owed ? [owed] : await readOwed(deps);
  } catch (err) {
    deps.logger.error(
      { err },
      'could not read the audit records webhook outcomes owe; the next sweep tries again',
    );
    return 0;
  }
  let settled = 0;
  for (const input of inputs) {
    const outcome = await auditOutcomeOrLog(deps, input, { dedupeKey: input.dedupeKey });
    if (outcome === 'failed') continue;
    try {
      await deps.redis.hdel(owedAuditKey(deps.keys), input.dedupeKey!);
      settled += 1;
    } catch (err) {
      // Appended; the entry stays and the next sweep finds it recorded (its dedupe key).
      deps.logger.warn({ err, dedupeKey: input.dedupeKey }, 'could not clear an owed audit record');
    }
  }
  return settled;
}

async function readOwed(deps: OwedAuditDeps): Promise<AuditInput[]> {
  const cursorKey = owedAuditCursorKey(deps.keys);
  const cursor = (await deps.redis.get(cursorKey)) ?? '0';
  const [next, flat] = await deps.redis.hscan(owedAuditKey(deps.keys), cursor, 'COUNT', SETTLE_BATCH);
  await deps.redis.set(cursorKey, next, 'EX', CURSOR_TTL_SECONDS);
  const inputs: AuditInput[] = [];
  // Not cut at SETTLE_BATCH: the records cut off would not be read again before the walk wraps, and
  // behind records whose append keeps failing (a reply the same every time) not then either.
  for (let i = 0; i + 1 < flat.length; i += 2) {
    try {
      inputs.push({ ...(JSON.parse(flat[i + 1]!) as AuditInput), dedupeKey: flat[i]! });
    } catch {
      // Not written by a script here (a hand edit): dropped rather than failing every sweep.
      deps.logger.warn({ dedupeKey: flat[i] }, 'an owed audit record is not JSON; dropped');
      await deps.redis.hdel(owedAuditKey(deps.keys), flat[i]!);
    }
  }
  return inputs;
}
