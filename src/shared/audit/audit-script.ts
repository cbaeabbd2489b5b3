import { TYPE_CHECK_LUA } from '../redis-script.js';

/**
 * How an audit record is stored, in Lua: the one definition the trail's own append (trail.ts
 * APPEND_SCRIPT) and the scripts that append a record together with the change it records
 * (launch-store.ts) run, so the stored shape cannot drift between them.
 *
 * `audit_record_write` does the writes: the record on the main stream, its id on the campaign's index
 * stream, the chain head, the dedupe entry, the campaign in the set of audited campaigns.
 *
 * A host script prepends AUDIT_APPEND_LUA and calls `audit_check_at(ki, ai)` among its reads, then,
 * when that answered 'write' and the host writes at all, `audit_write_at(ki, ai)` with its own writes.
 * The check only takes the common case: nobody queued on the chain (trail.ts's fairness queue) and the
 * head still the one the record was built on. Anything else — writers queued, another head, a key of
 * the wrong type — answers 'skip' and the host writes without the record, which its caller then
 * appends through the trail's own append (PreparedAudit.settle): a broken or busy chain costs a
 * round trip, never the host's change. A record already recorded under its dedupe key answers 'dup';
 * one this same record already wrote (a script ioredis sent again after a reconnect) answers 'ok'.
 *
 * Slots: ARGV[ai] is '1' when a record follows (then KEYS[ki..ki+5] and ARGV[ai+1..ai+AUDIT_ARGC] are
 * its own), '0' when none does; `audit_slots_end(ai)` is the ARGV index after them.
 * Its KEYS: chain head, main stream, campaign index stream, dedupe hash, audited-campaigns set, the
 * chain's writer queue. Its ARGV: the head it was built on, its hash, its JSON, campaign id, dedupe
 * key ('' = none), audit id.
 */
export const AUDIT_ARGC = 6;

/** How many of a chain's latest records a check that finds another head looks through for its own. */
export const RESEND_LOOKBACK = 16;

export const AUDIT_APPEND_LUA = `${TYPE_CHECK_LUA}
local function audit_record_write(k_head, k_stream, k_index, k_dedupe, k_campaigns, hash, json, campaign, dedupe, audit_id)
  local id = redis.call('XADD', k_stream, '*', 'c', campaign, 'r', json)
  redis.call('XADD', k_index, id, 'a', audit_id)
  redis.call('SET', k_head, hash)
  if dedupe ~= '' then redis.call('HSET', k_dedupe, dedupe, id) end
  redis.call('SADD', k_campaigns, campaign)
  return id
end
local function audit_check_at(ki, ai)
  if ARGV[ai] ~= '1' then return {'none'} end
  local a = ai + 1
  if wrong_type(KEYS[ki], 'string', KEYS[ki + 1], 'stream', KEYS[ki + 2], 'stream',
      KEYS[ki + 3], 'hash', KEYS[ki + 4], 'set') then
    return {'skip'}
  end
  local head = redis.call('GET', KEYS[ki]) or ''
  if head ~= ARGV[a] and head ~= '' then
    for _, entry in ipairs(redis.call('XREVRANGE', KEYS[ki + 2], '+', '-', 'COUNT', ${RESEND_LOOKBACK})) do
      if entry[2][2] == ARGV[a + 5] then return {'ok', entry[1], head} end
    end
  end
  if ARGV[a + 4] ~= '' then
    local existing = redis.call('HGET', KEYS[ki + 3], ARGV[a + 4])
    if existing then return {'dup', existing} end
  end
  if head ~= ARGV[a] or redis.call('EXISTS', KEYS[ki + 5]) == 1 then return {'skip'} end
  return {'write'}
end
local function audit_write_at(ki, ai)
  local a = ai + 1
  return audit_record_write(KEYS[ki], KEYS[ki + 1], KEYS[ki + 2], KEYS[ki + 3], KEYS[ki + 4],
    ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5])
end
local function audit_slots_end(ai)
  if ARGV[ai] == '1' then
    return ai + 1 + ${AUDIT_ARGC}
  end
  return ai + 1
end
`;

/**
 * What a host script answers for its record: 'ok' with its stream id (and the chain's head when records
 * were appended behind it: a script sent again), 'dup' with the earlier record's, 'skip', or 'none'.
 */
export type AuditScriptOutcome = readonly [outcome: string, streamId?: string, head?: string];

/**
 * A record built for a host script to append with the change it records: its KEYS and ARGV for
 * AUDIT_APPEND_LUA, and what to do with the script's answer.
 */
export interface PreparedAudit {
  readonly keys: readonly string[];
  /** AUDIT_ARGC values. */
  readonly args: readonly string[];
  /**
   * To run once the host script has written its change (never when it wrote nothing), with its answer
   * for the record: for 'ok', what the trail's append does after one (the head remembered, the metric,
   * the after-append hook); for any answer but 'ok' and 'dup', the record is appended through the
   * trail's own append instead.
   * Never rejects (a failed append is logged, as `auditOrLog` does); resolves false only when the
   * dedupe key was already recorded.
   */
  settle(outcome: AuditScriptOutcome): Promise<boolean>;
}

/** The KEYS and ARGV a host script of AUDIT_APPEND_LUA is given for an optional record. */
export function auditScriptSlots(audit: PreparedAudit | undefined): { keys: string[]; args: string[] } {
  // A record without slots (side-records.ts auditWithChange over a trail that hands none out) is
  // appended by its settle instead.
  return audit && audit.args.length > 0
    ? { keys: [...audit.keys], args: ['1', ...audit.args] }
    : { keys: [], args: ['0'] };
}
