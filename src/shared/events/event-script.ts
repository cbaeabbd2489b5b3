import { TYPE_CHECK_LUA } from '../redis-script.js';
import type { PreparedEvent } from './types.js';

/**
 * How an event is stored, in Lua: the one definition both `publish` and the scripts that write an
 * event together with the change it announces (records-with-change.ts) run, so the stored shape cannot
 * drift between them.
 *
 * A host script prepends EVENT_WRITE_LUA, asks `event_check_at(ki, ai)` among its reads, and — when
 * that answered true and the host writes at all — calls `write_event_at(ki, ai)` BEFORE its own
 * writes. Redis does not roll a script back, so a script must fail, if it does, before its first write
 * to leave nothing behind. Past the reads, the error a write can meet is a key of the wrong type
 * (Redis refuses a script over maxmemory at its first write only), so the host first passes each key
 * it writes, with the type it writes there, to `require_types` (a key only SET or deleted needs none;
 * redis-script.ts TYPE_CHECK_LUA): a change is never half written. The event's own keys are checked by
 * event_check_at instead, which answers false for one of the wrong type (or for no event): the host
 * then writes its change without the event, and its caller stores the event alone
 * (PreparedEvent.writeAlone), which fails on that key and is logged — a broken events key costs the
 * announcement, never the change, and an event never announces a change that was not written.
 *
 * An event announcing one change by an id derived from it (PublishOptions.once) carries a marker, set
 * after its writes and kept as long as the stored event, whose value says whether the run announcing
 * the change could record it ('1', or '0': PublishOptions.recorded). `event_seen_at(ki, ai)` answers
 * true when that id was written already — its marker, or the stored event without its marker (the
 * sweep and the dead letter give a stored event a fresh TTL, and it may outlive the marker; written
 * again it would go out anew under its id with other bytes) — and event_check_at then answers false:
 * a retry of the work that announced it, after a crash between the announcement and the note that it
 * was made, announces nothing twice.
 *
 * Slots, as eventScriptSlots gives them: ARGV[ai] is '0' when no event follows, '1' for an event (then
 * KEYS[ki..ki+2] and ARGV[ai+1..ai+EVENT_ARGC] are its own), '2' for an event announced once (then also
 * its marker at KEYS[ki+3], and the marker's TTL in seconds and value after its ARGV);
 * `event_slots_end(ai)` is the ARGV index after them, `event_keys_end(ki, ai)` the KEYS index.
 *
 * Its KEYS: the recent-events stream, the stored event's hash, the pending index (webhook/pending.ts).
 * Its ARGV: '1' when webhooks are enabled (then the event is also stored, pending, and indexed), the
 * stream's approximate MAXLEN, the event id, campaign id, body (the exact bytes every delivery sends),
 * type, occurredAt, the stored copy's TTL in seconds, and its pending-index score (ms).
 */
export const EVENT_ARGC = 9;
export const EVENT_KEYC = 3;

export const EVENT_WRITE_LUA = `${TYPE_CHECK_LUA}
local function event_types(ki, ai)
  if ARGV[ai + 1] == '1' then
    return KEYS[ki], 'stream', KEYS[ki + 1], 'hash', KEYS[ki + 2], 'zset'
  end
  return KEYS[ki], 'stream'
end
local function event_seen_at(ki, ai)
  if ARGV[ai] ~= '2' then
    return false
  end
  return redis.call('EXISTS', KEYS[ki + ${EVENT_KEYC}]) == 1 or redis.call('EXISTS', KEYS[ki + 1]) == 1
end
local function event_check_at(ki, ai)
  return ARGV[ai] ~= '0' and not wrong_type(event_types(ki, ai)) and not event_seen_at(ki, ai)
end
local function write_event_at(ki, ai)
  if ARGV[ai] == '0' then
    return
  end
  local a = ai + 1
  require_types(event_types(ki, ai))
  redis.call('XADD', KEYS[ki], 'MAXLEN', '~', ARGV[a + 1], '*', 'id', ARGV[a + 2], 'c', ARGV[a + 3], 'b', ARGV[a + 4])
  if ARGV[a] == '1' then
    redis.call('HSET', KEYS[ki + 1], 'body', ARGV[a + 4], 'type', ARGV[a + 5], 'campaignId', ARGV[a + 3],
      'occurredAt', ARGV[a + 6], 'state', 'pending')
    redis.call('EXPIRE', KEYS[ki + 1], tonumber(ARGV[a + 7]))
    redis.call('ZADD', KEYS[ki + 2], tonumber(ARGV[a + 8]), ARGV[a + 2])
  end
  if ARGV[ai] == '2' then
    redis.call('SET', KEYS[ki + ${EVENT_KEYC}], ARGV[a + ${EVENT_ARGC} + 1], 'EX', tonumber(ARGV[a + ${EVENT_ARGC}]))
  end
end
local function event_reply_at(ki, ai, written)
  if written then
    return 1
  elseif event_seen_at(ki, ai) then
    return 2
  end
  return 0
end
local function event_slots_end(ai)
  if ARGV[ai] == '1' then
    return ai + 1 + ${EVENT_ARGC}
  elseif ARGV[ai] == '2' then
    return ai + 1 + ${EVENT_ARGC} + 2
  end
  return ai + 1
end
local function event_keys_end(ki, ai)
  if ARGV[ai] == '1' then
    return ki + ${EVENT_KEYC}
  elseif ARGV[ai] == '2' then
    return ki + ${EVENT_KEYC} + 1
  end
  return ki
end
`;

/** The KEYS and ARGV a host script of EVENT_WRITE_LUA is given for an optional event. */
export function eventScriptSlots(event: PreparedEvent | undefined): { keys: string[]; args: string[] } {
  return event
    ? { keys: [...event.keys], args: [event.once ? '2' : '1', ...event.args] }
    : { keys: [], args: ['0'] };
}

/**
 * What a host script answers for its event (`event_reply_at(ki, ai, written)`): 1 written, 2 announced
 * once already (nothing to do), 0 not written — stored alone then (PreparedEvent.writeAlone).
 */
export type EventScriptOutcome = number;

/** After the host script: the event's webhook job, or the event stored alone, or nothing (seen). */
export async function settleEvent(
  event: PreparedEvent | undefined,
  outcome: EventScriptOutcome,
): Promise<void> {
  if (!event) return;
  if (outcome === 1) await event.afterWrite();
  else if (outcome !== 2) await event.writeAlone();
}

/** `publish`'s script for an event announced once (PublishOptions.once): 1 written, 0 seen already. */
export const PUBLISH_ONCE_EVENT_SCRIPT = `${EVENT_WRITE_LUA}
if event_seen_at(1, 1) then
  return 0
end
write_event_at(1, 1)
return 1
`;

/** `publish`'s own script: the event alone. KEYS and ARGV from eventScriptSlots. */
export const PUBLISH_EVENT_SCRIPT = `${EVENT_WRITE_LUA}
write_event_at(1, 1)
return 1
`;
