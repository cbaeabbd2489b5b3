import type { PreparedAudit } from '../audit/audit-script.js';
import type { AppContext } from '../context.js';
import type { PreparedEvent } from '../events/types.js';
import type { Keys } from '../keys.js';
import {
  RECORDS_WITH_CHANGE_LUA,
  recordsScriptSlots,
  settleRecords,
  type RecordsReply,
} from '../records-with-change.js';
import { evalScript } from '../redis-script.js';
import type { BlindWatch } from './blind.js';
import { isGuardState, type GuardState } from './guard.js';
import { countsAgainstAdherence } from './lateness.js';

/**
 * Compliance's own state per campaign, in its own Redis keys rather than the campaign record's
 * `compliance` field: the window enforcer and the abandonment guard (called from poll workers) write
 * concurrently, and separate hash fields mean neither overwrites the other's part.
 *   {prefix}:compliance:<id>      hash: window → WindowState JSON, guard → GuardState JSON,
 *                                 late → the actions the report's `adherent` turns on (JSON array),
 *                                 blind → BlindWatch JSON (the failing polls, blind.ts),
 *                                 lifted → the guard pause whose lift is recorded (guardPauseKey)
 *   {prefix}:compliance-log:<id>  list: the campaign's compliance actions, newest first, capped
 */
export interface WindowState {
  /** Set while the campaign is paused because its calling window closed (ISO). */
  pausedAt?: string;
  pauseCommandId?: string;
  resumeCommandId?: string;
  /** Resumes issued since the window opened (bounded by MAX_RESUME_ATTEMPTS). */
  resumeAttempts?: number;
  /** The last instant the enforcer acted on or planned for (epoch ms), for the report. */
  lastTransitionMs?: number;
  /**
   * The close (epoch ms) the window paused the campaign ahead of: until then the campaign is inside
   * its hours, and the window treats it as closed (see closeLeadMs in enforcement.ts).
   */
  closingAt?: number;
  /** When the window's pending pause must have landed by (epoch ms): its close, or when it was issued. */
  pauseDueAt?: number;
  /** Since when the window's resume has been held for the statistics scope (epoch ms): recorded once. */
  scopeHeldAt?: number;
}

export const COMPLIANCE_ACTION_KINDS = [
  'window_pause',
  'window_resume',
  'window_resume_withheld',
  'activation_withheld',
  'window_pause_released',
  'window_pause_landed',
  'guard_throttle',
  'guard_pause',
  'guard_release',
  'guard_pause_lifted',
  'guard_blind_pause',
  'guard_blind_resume',
  'guard_blind_pause_kept',
  'guard_blind_pause_lifted',
  'period_closed',
  'refused_resume',
  'outside_change_noncompliant',
  'override',
  'report',
] as const;
export type ComplianceActionKind = (typeof COMPLIANCE_ACTION_KINDS)[number];

export interface ComplianceActionEntry {
  at: string;
  kind: ComplianceActionKind;
  details: Record<string, unknown>;
  /**
   * The audit record's dedupe key, when it has one. The log is written before the trail (an action is
   * never missing from the report because its audit write failed), so a replay appends it again; the
   * report keeps one entry per key, as the trail keeps one record.
   */
  dedupeKey?: string;
}

/** Actions kept per campaign for the report; the audit trail keeps all of them. */
export const ACTION_LOG_MAX = 2_000;

type StoreContext = Pick<AppContext, 'redis' | 'keys'>;

/** The campaign's compliance keys (the audit retention removes them with a finished campaign's record). */
export function complianceKeys(keys: Keys, campaignId: string): { state: string; log: string } {
  return { state: keys.custom('compliance', campaignId), log: keys.custom('compliance-log', campaignId) };
}

const hashKey = (ctx: StoreContext, id: string) => complianceKeys(ctx.keys, id).state;
const logKey = (ctx: StoreContext, id: string) => complianceKeys(ctx.keys, id).log;

export async function getWindowState(ctx: StoreContext, campaignId: string): Promise<WindowState> {
  const raw = await ctx.redis.hget(hashKey(ctx, campaignId), 'window');
  return raw ? (JSON.parse(raw) as WindowState) : {};
}

/** The window state with the raw value it was read from, for a compare-and-set (`replaceWindowState`). */
export async function readWindowState(
  ctx: StoreContext,
  campaignId: string,
): Promise<{ state: WindowState; raw: string | null }> {
  const raw = await ctx.redis.hget(hashKey(ctx, campaignId), 'window');
  return { state: raw ? (JSON.parse(raw) as WindowState) : {}, raw };
}

/** KEYS[1] compliance hash; ARGV[1] the raw window state expected ('' for none), ARGV[2] the new one. */
const REPLACE_WINDOW_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'window')
if (current or '') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'window', ARGV[2])
return 1
`;

/**
 * Writes the window state only if it still holds `expected` (what the writer read): the window job
 * and the lifecycle hooks that end its claim (enforcement.ts) write it concurrently, and neither may
 * put back what the other has just changed. False when it changed meanwhile.
 */
export async function replaceWindowState(
  ctx: StoreContext,
  campaignId: string,
  expected: string | null,
  state: WindowState,
): Promise<boolean> {
  const written = await evalScript(
    ctx.redis,
    REPLACE_WINDOW_SCRIPT,
    1,
    hashKey(ctx, campaignId),
    expected ?? '',
    JSON.stringify(state),
  );
  return written === 1;
}

export async function setWindowState(
  ctx: StoreContext,
  campaignId: string,
  state: WindowState,
): Promise<void> {
  await ctx.redis.hset(hashKey(ctx, campaignId), 'window', JSON.stringify(state));
}

/**
 * Clears the window state of a campaign that is no longer enforced. A field removed, never a value
 * written: a campaign the audit retention removed meanwhile gets no compliance key back.
 */
export async function clearWindowState(ctx: StoreContext, campaignId: string): Promise<void> {
  await ctx.redis.hdel(hashKey(ctx, campaignId), 'window');
}

export async function getGuardState(ctx: StoreContext, campaignId: string): Promise<GuardState | undefined> {
  const raw = await ctx.redis.hget(hashKey(ctx, campaignId), 'guard');
  if (!raw) return undefined;
  const parsed: unknown = JSON.parse(raw);
  return isGuardState(parsed) ? parsed : undefined;
}

/** The guard state with the raw value it was read from, for a compare-and-set (`replaceGuardState`). */
export async function readGuardState(
  ctx: StoreContext,
  campaignId: string,
): Promise<{ state: GuardState | undefined; raw: string | null }> {
  const raw = await ctx.redis.hget(hashKey(ctx, campaignId), 'guard');
  if (!raw) return { state: undefined, raw };
  const parsed: unknown = JSON.parse(raw);
  return { state: isGuardState(parsed) ? parsed : undefined, raw };
}

/** KEYS[1] compliance hash; ARGV[1] the raw guard state expected ('' for none), ARGV[2] the new one. */
const REPLACE_GUARD_SCRIPT = REPLACE_WINDOW_SCRIPT.replaceAll("'window'", "'guard'");

/**
 * Writes the guard state only if it still holds `expected`: the poll's guard and the campaign's end
 * (endAbandonmentMeasurement, from the lifecycle) write it concurrently, and a poll that read the
 * state before the end must not write back a measurement that has not ended. False when it changed.
 */
export async function replaceGuardState(
  ctx: StoreContext,
  campaignId: string,
  expected: string | null,
  state: GuardState,
): Promise<boolean> {
  const written = await evalScript(
    ctx.redis,
    REPLACE_GUARD_SCRIPT,
    1,
    hashKey(ctx, campaignId),
    expected ?? '',
    JSON.stringify(state),
  );
  return written === 1;
}

export async function setGuardState(ctx: StoreContext, campaignId: string, state: GuardState): Promise<void> {
  await ctx.redis.hset(hashKey(ctx, campaignId), 'guard', JSON.stringify(state));
}

/**
 * The guard's pause whose lift is recorded (guard.ts guardPauseKey), in the compliance hash's `lifted`
 * field: the lifecycle records an operator's resume of it, a poll one made outside the orchestrator,
 * and each looks here first so a lift is recorded once.
 */
export async function getGuardLiftRecorded(ctx: StoreContext, campaignId: string): Promise<string | null> {
  return ctx.redis.hget(hashKey(ctx, campaignId), 'lifted');
}

export async function setGuardLiftRecorded(
  ctx: StoreContext,
  campaignId: string,
  pauseKey: string,
): Promise<void> {
  await ctx.redis.hset(hashKey(ctx, campaignId), 'lifted', pauseKey);
}

/** The failing polls of the campaign's statistics and the guard's blind pause (blind.ts). */
export async function getBlindWatch(ctx: StoreContext, campaignId: string): Promise<BlindWatch | undefined> {
  const raw = await ctx.redis.hget(hashKey(ctx, campaignId), 'blind');
  return raw ? (JSON.parse(raw) as BlindWatch) : undefined;
}

export async function setBlindWatch(ctx: StoreContext, campaignId: string, watch: BlindWatch): Promise<void> {
  await ctx.redis.hset(hashKey(ctx, campaignId), 'blind', JSON.stringify(watch));
}

/**
 * Late window actions kept per campaign beside the log. A campaign with this many late pauses is not
 * adherent whichever of them are kept; the bound only keeps one hash field from growing for ever.
 */
export const LATE_ACTIONS_MAX = 200;

/**
 * Appends one action to the campaign's compliance log, with the event announcing it and its audit
 * record when given, in one script (records-with-change.ts): a process that dies, or a Redis that
 * fails, between the entry and its paperwork can no longer leave an action in the report that its
 * receivers were never told of. The keys written are type-checked, and the late actions kept read,
 * before the first write, so a script that fails leaves nothing. KEYS[1] the log, KEYS[2] the state hash, then the records' KEYS; ARGV[1]
 * the entry, ARGV[2] '1' when it counts against adherence, ARGV[3] ACTION_LOG_MAX, ARGV[4]
 * LATE_ACTIONS_MAX, ARGV[5…] the records' slots. The entry and its kept copy go together, so an entry
 * is never in the log without it (a report would then lose it with the log's oldest entries).
 */
const APPEND_ACTION_SCRIPT = `${RECORDS_WITH_CHANGE_LUA}
local records = check_records_at(3, 5)
require_types(KEYS[1], 'list', KEYS[2], 'hash')
local kept
if ARGV[2] == '1' then
  kept = {}
  local raw = redis.call('HGET', KEYS[2], 'late')
  if raw then
    local ok, decoded = pcall(cjson.decode, raw)
    if not ok or type(decoded) ~= 'table' then
      error({ err = 'ERR the late actions kept in ' .. KEYS[2] .. ' are not a JSON array; nothing was written' })
    end
    kept = decoded
  end
end
write_records(records)
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
if kept then
  table.insert(kept, ARGV[1])
  while #kept > tonumber(ARGV[4]) do table.remove(kept, 1) end
  redis.call('HSET', KEYS[2], 'late', cjson.encode(kept))
end
return records_reply(records)
`;

/**
 * Appends the entry, and with it `event` and `audit` (their after-write steps run then). Rejects when
 * nothing was written. Resolves false only when the audit record's dedupe key was already recorded (a
 * replay of the same action), true otherwise.
 */
export async function appendAction(
  ctx: StoreContext,
  campaignId: string,
  entry: ComplianceActionEntry,
  records: { event?: PreparedEvent | undefined; audit?: PreparedAudit | undefined } = {},
): Promise<boolean> {
  const slots = recordsScriptSlots(records.event, records.audit);
  const reply = (await evalScript(
    ctx.redis,
    APPEND_ACTION_SCRIPT,
    2 + slots.keys.length,
    logKey(ctx, campaignId),
    hashKey(ctx, campaignId),
    ...slots.keys,
    JSON.stringify(entry),
    countsAgainstAdherence(entry) ? '1' : '0',
    ACTION_LOG_MAX,
    LATE_ACTIONS_MAX,
    ...slots.args,
  )) as RecordsReply;
  return settleRecords(reply, records.event, records.audit);
}

/**
 * The campaign's compliance actions, oldest first: the log's (its last ACTION_LOG_MAX), with the late
 * window actions it has dropped put back where they were, so that a late pause of a campaign's first
 * weeks still makes it not adherent after thousands of later actions.
 */
export async function listActions(ctx: StoreContext, campaignId: string): Promise<ComplianceActionEntry[]> {
  const [logged, lateRaw] = await Promise.all([
    ctx.redis.lrange(logKey(ctx, campaignId), 0, ACTION_LOG_MAX - 1),
    ctx.redis.hget(hashKey(ctx, campaignId), 'late'),
  ]);
  const inLog = new Set(logged);
  // Each kept copy is the log entry's own text, so "still in the log" is a string comparison.
  const dropped = lateRaw ? (JSON.parse(lateRaw) as string[]).filter((raw) => !inLog.has(raw)) : [];
  const parse = (raw: string) => JSON.parse(raw) as ComplianceActionEntry;
  // The dropped ones are older than anything left in the log (it drops its oldest first).
  return [...dropped.map(parse), ...logged.map(parse).reverse()];
}
