import {
  AUDIT_APPEND_LUA,
  auditScriptSlots,
  type AuditScriptOutcome,
  type PreparedAudit,
} from './audit/audit-script.js';
import {
  EVENT_WRITE_LUA,
  eventScriptSlots,
  settleEvent,
  type EventScriptOutcome,
} from './events/event-script.js';
import type { PreparedEvent } from './events/types.js';

/**
 * A change's event and audit record, written by the script that writes the change they announce and
 * record (EVENT_WRITE_LUA, AUDIT_APPEND_LUA): `check_records_at(ki, ai)` among the host's reads (the
 * event's slots at KEYS[ki] and ARGV[ai], the record's after them), `write_records` before the host's
 * own writes, `records.args_end` the ARGV index after both, and `records_reply` what Node reads of
 * them (RecordsReply): the event's outcome (EventScriptOutcome), then the record's
 * (AuditScriptOutcome). A process that dies between a change and its paperwork can then no longer
 * leave the change unannounced or unrecorded (the launch records, the compliance log).
 */
export const RECORDS_WITH_CHANGE_LUA = `${EVENT_WRITE_LUA}${AUDIT_APPEND_LUA}
local function check_records_at(ki, ai)
  local audit_ki = event_keys_end(ki, ai)
  local audit_ai = event_slots_end(ai)
  return { ki = ki, ai = ai, audit_ki = audit_ki, audit_ai = audit_ai,
    args_end = audit_slots_end(audit_ai),
    event_ok = event_check_at(ki, ai), audit = audit_check_at(audit_ki, audit_ai) }
end
local function write_records(r)
  if r.event_ok then
    write_event_at(r.ki, r.ai)
  end
  if r.audit[1] == 'write' then
    r.audit = {'ok', audit_write_at(r.audit_ki, r.audit_ai)}
  end
end
local function records_reply(r)
  return {event_reply_at(r.ki, r.ai, r.event_ok), r.audit[1], r.audit[2], r.audit[3]}
end
`;

/** What `records_reply` answers: the event's outcome, then the audit record's. */
export type RecordsReply = [event: EventScriptOutcome, ...AuditScriptOutcome];

/** The KEYS and ARGV of a host script's records: the event's slots, then the audit record's. */
export function recordsScriptSlots(
  event: PreparedEvent | undefined,
  audit: PreparedAudit | undefined,
): { keys: string[]; args: string[] } {
  const e = eventScriptSlots(event);
  const a = auditScriptSlots(audit);
  return { keys: [...e.keys, ...a.keys], args: [...e.args, ...a.args] };
}

/**
 * After the host script wrote its change: the event's and the record's after-write steps (or their
 * writes alone, when the script could not take them). Resolves false only when the record's dedupe key
 * was already recorded (PreparedAudit.settle); true without a record.
 */
export async function settleRecords(
  reply: RecordsReply,
  event: PreparedEvent | undefined,
  audit: PreparedAudit | undefined,
): Promise<boolean> {
  const [eventOutcome, ...auditOutcome] = reply;
  await settleEvent(event, eventOutcome);
  return audit ? audit.settle(auditOutcome) : true;
}
