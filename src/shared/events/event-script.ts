import { TYPE_CHECK_LUA } from '../redis-script.js';
import type { PreparedEvent } from './types.js';

/**
 * How an event is stored, in Lua: the one definition both `publish` and the scripts that write an
 * event together with the change it announces (launch-store.ts) run, so the stored shape cannot drift
 * between them.
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
 * announcement, never the change, and an event never announces a change that was not written. Its
 * slots are what eventScriptSlots gives: ARGV[ai] is '1' when an event follows (then KEYS[ki..ki+2]
 * and ARGV[ai+1..ai+EVENT_ARGC] are its own), '0' when none does; `event_slots_end(ai)` is the ARGV
 * index after them, `event_keys_end(ki, ai)` the KEYS index.
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
local function event_check_at(ki, ai)
  return ARGV[ai] == '1' and not wrong_type(event_types(ki, ai))
end
local function write_event_at(ki, ai)
  if ARGV[ai] ~= '1' then
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
end
local function event_slots_end(ai)
  if ARGV[ai] == '1' then
    return ai + 1 + ${EVENT_ARGC}
  end
  return ai + 1
end
local function event_keys_end(ki, ai)
  if ARGV[ai] == '1' then
    return ki + ${EVENT_KEYC}
  end
  return ki
end
`;

/** The KEYS and ARGV a host script of EVENT_WRITE_LUA is given for an optional event. */
export function eventScriptSlots(event: PreparedEvent | undefined): { keys: string[]; args: string[] } {
  return event ? { keys: [...event.keys], args: ['1', ...event.args] } : { keys: [], args: ['0'] };
}

/**
 * `publish`'s script for an event announcing one change by an id derived from it (PublishOptions.once):
 * the event alone, unless the marker (the last KEY) says that id was written already — a retry of the
 * work that announced it, after a crash between the announcement and the note that it was made. The
 * marker is set after the event's writes, which fail (if they do) before any of them; it lives as long
 * as the stored event (the ARGV after the event's, seconds) and holds the last ARGV ('1', or '0' when
 * the run announcing the change could not record it: PublishOptions.recorded). Answers 1 when
 * written, 0 when already there — also when the stored event (KEYS[2]) is, without its marker: the
 * sweep and the dead letter give a stored event a fresh TTL, and it may outlive the marker; written
 * again it would go out anew under its id with other bytes.
 */
export const PUBLISH_ONCE_EVENT_SCRIPT = `${EVENT_WRITE_LUA}
local marker = KEYS[event_keys_end(1, 1)]
if redis.call('EXISTS', marker) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
write_event_at(1, 1)
redis.call('SET', marker, ARGV[event_slots_end(1) + 1], 'EX', tonumber(ARGV[event_slots_end(1)]))
return 1
`;

/** `publish`'s own script: the event alone. KEYS and ARGV from eventScriptSlots. */
export const PUBLISH_EVENT_SCRIPT = `${EVENT_WRITE_LUA}
write_event_at(1, 1)
return 1
`;
