import { DateTime } from 'luxon';
import type { CampaignConfigInput } from '../shared/campaign-config.js';
import {
  compactValue,
  describeAuditGap,
  flattenForDisplay,
  type AuditGapView,
  type AuditPageView,
  type AuditRecordView,
  type CampaignViewLoose,
} from './format.js';

export { pacingLine } from './format.js';

/**
 * Pure planning and formatting for `npm run demo`. The example campaign calls during the federal
 * calling hours in New York; a newcomer running the demo at night would see it wait until morning,
 * so the demo moves the calling window to a time zone where those hours are open now.
 */

/** US zones first (the example is a TCPA campaign), then zones around the world so some hour always fits. */
export const DEMO_ZONES = [
  'America/New_York',
  'America/Chicago',
  'America/Denver',
  'America/Los_Angeles',
  'America/Anchorage',
  'Pacific/Honolulu',
  'Pacific/Auckland',
  'Australia/Sydney',
  'Asia/Tokyo',
  'Asia/Kolkata',
  'Asia/Dubai',
  'Europe/Berlin',
  'Europe/London',
  'America/Sao_Paulo',
] as const;

/** A zone whose local time lies inside [startHour, endHour - 1h) now, so the window stays open for the demo. */
export function pickOpenZone(
  nowMs: number,
  startHour = 8,
  endHour = 21,
  zones: readonly string[] = DEMO_ZONES,
): string {
  for (const zone of zones) {
    const local = DateTime.fromMillis(nowMs, { zone });
    const minutes = local.hour * 60 + local.minute;
    if (minutes >= startHour * 60 && minutes < (endHour - 1) * 60) return zone;
  }
  // Unreachable with DEMO_ZONES (they cover every hour), kept for custom lists.
  return zones[0] ?? 'America/New_York';
}

export interface DemoCampaign {
  config: CampaignConfigInput;
  /** What the demo changed in the example, to tell the reader. */
  changes: string[];
}

/**
 * The example campaign, made to start now: starting time set to now, calling window moved to a zone
 * where it is open, and a short poll interval so pacing has something to act on within a minute.
 */
export function demoCampaign(
  example: CampaignConfigInput,
  nowMs: number,
  pollIntervalMs = 5_000,
): DemoCampaign {
  const changes: string[] = [];
  const zone = pickOpenZone(nowMs);
  const config: CampaignConfigInput = {
    ...example,
    name: `${example.name} ${DateTime.fromMillis(nowMs, { zone: 'utc' }).toFormat('HH:mm:ss')}`,
    startDateTime: DateTime.fromMillis(nowMs, { zone: 'utc' }).toISO({
      suppressMilliseconds: true,
    }) as string,
    pacing: { ...(example.pacing ?? {}), pollIntervalMs },
  };
  changes.push('starts now', `polls every ${pollIntervalMs / 1000} s`);
  if (zone !== example.complianceTimeZone) {
    config.complianceTimeZone = zone;
    changes.push(`calling window moved from ${example.complianceTimeZone} to ${zone}, where it is open now`);
    if (example.recipientStates?.length) {
      // Recipients' states pin the window to their own zones; the demo has no real recipients.
      delete config.recipientStates;
      changes.push('recipientStates dropped (they would pin the window to their own time zones)');
    }
  }
  return { config, changes };
}

/** One line per poll: the numbers a newcomer should watch move. */
export function statsLine(view: CampaignViewLoose): string {
  const s = view.lastStats;
  if (!s) return `${view.status ?? '?'} v${view.version ?? '?'}  waiting for the first statistics poll`;
  const abandon = s.answeredCalls ? ((s.abandonedCalls ?? 0) / s.answeredCalls) * 100 : undefined;
  // The figures are the last poll's: when the campaign has moved on since (paused, say), say whose
  // they are, or a paused campaign would seem to be dialing.
  const polled =
    s.status !== undefined && (s.status !== view.status || s.version !== view.version)
      ? `  (last poll: ${s.status} v${s.version ?? '?'})`
      : '';
  return (
    `${view.status ?? '?'} v${view.version ?? '?'}${polled}  calls ${s.totalCalls ?? 0}  answered ${s.answeredCalls ?? 0}` +
    `  abandoned ${s.abandonedCalls ?? 0}${abandon === undefined ? '' : ` (${abandon.toFixed(2)}% of answered)`}` +
    `  violations ${s.complianceViolations ?? 0}` +
    `  callRate ${compactValue(view.config?.dialerStrategy?.callRate)}` +
    (view.efficiency ? `  efficiency ${compactValue(view.efficiency.efficiencyScore)}` : '')
  );
}

/** A decision is new when its timestamp (or content) differs from the last one shown. */
export function decisionKey(pacing: unknown): string | undefined {
  const decision = (pacing as { lastDecision?: unknown } | null | undefined)?.lastDecision;
  return decision ? JSON.stringify(decision) : undefined;
}

export function auditLine(record: AuditRecordView): string {
  // Whole configs and long lists drown the story; scalar details say what happened.
  const details = flattenForDisplay(record.details ?? {}, '', 0)
    .filter(([, v]) => !/^[[{]/.test(v))
    .slice(0, 4)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `audit   ${record.action ?? '?'} by ${record.actor ?? '?'}${record.cxoneVersion === undefined ? '' : ` (v${record.cxoneVersion})`}${details ? `  ${details}` : ''}`;
}

/** A gap of the audit view: a record the trail names but could not return (missing or damaged). */
export function auditGapLine(gap: AuditGapView): string {
  return `audit   ✗ GAP: ${describeAuditGap(gap)}; the trail is incomplete (run npm run audit -- verify)`;
}

/** What the demo's audit view has shown so far: records by auditId, gaps by stream id. */
export interface AuditViewState {
  records: Set<string>;
  gaps: Map<string, AuditGapView>;
}

export function auditViewState(): AuditViewState {
  return { records: new Set(), gaps: new Map() };
}

/**
 * One look at the campaign's audit trail, paged from the start (a demo's trail is short): the lines
 * of the records and gaps not shown yet, a page's records first, then its gaps. A gap is said, once:
 * a page that skipped it without a word would pass an incomplete trail off as the whole story.
 */
export async function newAuditLines(
  fetchPage: (cursor: string | null) => Promise<AuditPageView>,
  state: AuditViewState,
): Promise<string[]> {
  const lines: string[] = [];
  let cursor: string | null = null;
  do {
    const page: AuditPageView = await fetchPage(cursor);
    for (const record of page.records) {
      const id = record.auditId ?? JSON.stringify(record);
      if (state.records.has(id)) continue;
      state.records.add(id);
      lines.push(auditLine(record));
    }
    for (const gap of page.gaps ?? []) {
      if (state.gaps.has(gap.streamId)) continue;
      state.gaps.set(gap.streamId, gap);
      lines.push(auditGapLine(gap));
    }
    cursor = page.nextCursor;
  } while (cursor);
  return lines;
}

export interface ReceivedEvent {
  id: string;
  type: string;
  campaignId?: string;
  verified: boolean;
  problem?: string;
}

export function eventLine(e: ReceivedEvent): string {
  return `webhook ${e.verified ? '✓ signature ok' : `✗ REJECTED (${e.problem ?? 'bad signature'})`}  ${e.type}  ${e.id}`;
}

/**
 * How the demo's story ended, as its last lines and its exit code: 0 only when the campaign reached
 * a final state, its audit chain verified, and every webhook received carried a valid signature. A
 * demo is also a smoke test of a fresh install; one that printed "BROKEN" and exited 0 would pass
 * a broken fleet off as working to a script (or a newcomer) checking `$?`.
 */
export function demoOutcome(input: {
  campaignId: string;
  finalStatus: string | undefined;
  /** The audit verify route's answer, undefined when it could not be read. */
  verify: { ok?: boolean; checked?: number } | undefined;
  events: readonly ReceivedEvent[];
  /** Stopped by a signal (Ctrl-C): a campaign left unfinished is then the user's choice. */
  interrupted?: boolean;
  /** Records the audit view met that the API could not return (its pages' `gaps`). */
  auditGaps?: readonly AuditGapView[];
}): { code: 0 | 1; lines: string[] } {
  const { verify, events } = input;
  const gaps = input.auditGaps ?? [];
  const lines: string[] = [];
  const problems: string[] = [];
  if (verify) {
    lines.push(`audit chain ${verify.ok ? 'verified' : 'BROKEN'} (${verify.checked ?? '?'} records)`);
    if (!verify.ok) problems.push('the audit chain did not verify');
  } else {
    lines.push('audit chain not verified: the API did not answer GET …/audit/verify');
    problems.push('the audit chain could not be verified');
  }
  if (gaps.length > 0) {
    // Said apart from the chain: a trail the pages could not show whole is a problem even when the
    // verify answer says nothing of it (it was not read, or the records are gone since).
    lines.push(
      `audit trail incomplete: ${gaps.length} record(s) could not be read (first: ${describeAuditGap(gaps[0]!)})`,
    );
    problems.push('the audit trail has records the API could not return');
  }
  const verified = events.filter((e) => e.verified).length;
  lines.push(`webhooks received: ${events.length} (${verified} with a valid signature)`);
  if (verified < events.length)
    problems.push(`${events.length - verified} webhook(s) failed their signature check`);
  if (input.finalStatus) lines.push(`campaign ${input.campaignId} is ${input.finalStatus}.`);
  else if (!input.interrupted) problems.push('the campaign did not reach a final state');
  const ended = input.interrupted ? 'Demo stopped' : 'Demo finished';
  lines.push(problems.length === 0 ? `${ended}.` : `${ended} with problems: ${problems.join('; ')}.`);
  return { code: problems.length === 0 ? 0 : 1, lines };
}

/** Elapsed-time prefix for every story line. */
export function stamp(startMs: number, nowMs: number): string {
  return `+${((nowMs - startMs) / 1000).toFixed(1).padStart(5)}s`;
}

export const DEMO_DEFAULT_DURATION_SEC = 45;
/** Shorter, and the operator pauses before the first statistics poll has anything to show. */
export const DEMO_MIN_DURATION_SEC = 5;
export const DEMO_USAGE = `usage: npm run demo -- [--duration SECONDS]   (dialing time before the operator steps in; default ${DEMO_DEFAULT_DURATION_SEC}, at least ${DEMO_MIN_DURATION_SEC})`;

export type DemoArgs =
  { kind: 'run'; durationSec: number } | { kind: 'help' } | { kind: 'error'; error: string };

/** Pure: the demo's command line (`--duration N` or `--duration=N`, `-h`/`--help`), or why it is wrong. */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  let durationSec = DEMO_DEFAULT_DURATION_SEC;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (name !== '--duration') {
      return {
        kind: 'error',
        error: arg.startsWith('-') ? `unknown option ${name}` : `unexpected argument "${arg}"`,
      };
    }
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined || raw.trim() === '') return { kind: 'error', error: '--duration needs a value' };
    const n = Number(raw);
    if (!Number.isFinite(n) || n < DEMO_MIN_DURATION_SEC) {
      return {
        kind: 'error',
        error: `--duration must be a number of seconds >= ${DEMO_MIN_DURATION_SEC} (got "${raw}")`,
      };
    }
    durationSec = n;
  }
  return { kind: 'run', durationSec };
}
