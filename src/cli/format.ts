/**
 * Pure text formatting for the CLI and the demo. The API's answers are read loosely (every field
 * optional) so a newer server with more fields, or an older one with fewer, still prints.
 */
import type { AuditGap, AuditPage } from '../shared/audit/trail.js';
import type { AuditRecord } from '../shared/audit/types.js';
import type { ValidationIssue } from '../shared/campaign-config.js';
import { FINAL_STATUSES } from '../shared/lifecycle/state-machine.js';
import type { CampaignViewBody } from '../shared/responses/campaign-view.js';
import type { LaunchStatusBody } from '../shared/responses/launch.js';

/**
 * An answer as cxo reads it: its response schema's type with every field optional at every depth,
 * since a server of another release may lack any of them and cxo must still print the rest.
 */
export type DeepPartial<T> = T extends readonly (infer E)[]
  ? DeepPartial<E>[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export type IssueView = ValidationIssue;

/**
 * Controls a terminal acts on (C0 — ESC, CR, line feed —, DEL, C1 — CSI —) and the bidirectional
 * overrides and isolates that reorder what is shown: in a text the API answered they could recolour,
 * move the cursor, set the window title, erase or forge lines, or reverse a name on the operator's
 * screen. The API's answers carry text cxo does not choose (CXone's own history, its error bodies).
 */
// eslint-disable-next-line no-control-regex
const TERMINAL_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * One line of text from the API as a terminal shows it: every control (line breaks included: one
 * value stays on its line) written out as `\u001b`, as JSON would, the rest as it is. Pure.
 */
export function printableLine(text: string): string {
  return text.replace(TERMINAL_CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Several lines (joined by line breaks that cxo chose), each made printable. Pure. */
export const printableLines = (lines: readonly string[]): string => lines.map(printableLine).join('\n');

/** `GET /v1/launches/{id}` (and the launch's 202 answer, which has the two fields cxo needs first). */
export type LaunchView = DeepPartial<LaunchStatusBody> & Pick<LaunchStatusBody, 'launchId' | 'status'>;

/**
 * `GET /v1/campaigns/{id}`. `compliance`: APIs before the view had a response schema passed the
 * campaign record's compliance field through, documented as anything; cxo still shows one if sent.
 */
export type CampaignViewLoose = DeepPartial<CampaignViewBody> & { compliance?: unknown };

export type AuditRecordView = DeepPartial<AuditRecord>;

/** A record the API's audit page could not return (`gaps` of an AuditPage). */
export type AuditGapView = DeepPartial<AuditGap> & Pick<AuditGap, 'streamId' | 'reason'>;

/** One page of `GET /v1/campaigns/{id}/audit`. */
export type AuditPageView = Pick<AuditPage, 'nextCursor'> & {
  records: AuditRecordView[];
  gaps?: AuditGapView[];
};

/** What a gap is, in words: `aud_… (stream id …) is missing from the trail`. */
export function describeAuditGap(g: AuditGapView): string {
  return printableLine(
    `${g.auditId ?? 'a record'} (stream id ${g.streamId}) is ${g.reason === 'missing' ? 'missing from the trail' : g.reason}`,
  );
}

export const FINAL_LAUNCH_STATUSES = ['succeeded', 'failed'] as const;

export function isFinalLaunch(status: string | undefined): boolean {
  return (FINAL_LAUNCH_STATUSES as readonly string[]).includes(status ?? '');
}

export function isFinalCampaign(status: string | undefined): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status ?? '');
}

export function formatIssues(issues: IssueView[]): string {
  return printableLines(issues.map((i) => `  - ${i.path}: ${i.message}`));
}

const pct = (v: number | undefined, digits = 1) => (v === undefined ? '–' : `${(v * 100).toFixed(digits)}%`);

/** One short value for a table cell: scalars as is, small objects as k=v, everything else as JSON. */
export function compactValue(v: unknown, max = 60): string {
  let s: string;
  if (v === null || v === undefined) s = '–';
  else if (typeof v === 'number') s = Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/0+$/, '');
  else if (typeof v === 'string' || typeof v === 'boolean') s = String(v);
  else s = JSON.stringify(v);
  s = printableLine(s);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function errorText(error: unknown): string {
  if (error === undefined || error === null) return '';
  if (typeof error === 'string') return printableLine(error);
  const e = error as { message?: unknown; error?: unknown };
  if (typeof e.message === 'string') return printableLine(e.message);
  if (typeof e.error === 'string') return printableLine(e.error);
  return printableLine(JSON.stringify(error));
}

/**
 * `dialing: false` leaves out the launch's dialing line, for output that shows the campaign's view
 * next to it: the launch's `activateAt` is what its activation last planned, and a PATCH of the
 * calling windows moves the campaign's at once, so the two could say "activates at" with two times.
 */
export function formatLaunch(launch: LaunchView, opts: { dialing?: boolean } = {}): string {
  const lines = [`launch   ${launch.launchId}`, `status   ${launch.status}`];
  if (launch.campaignId) lines.push(`campaign ${launch.campaignId}`);
  // A succeeded launch is not necessarily dialing: a future start (or one outside the calling
  // window) leaves the campaign scheduled until its activation.
  if (opts.dialing === false) {
    // The campaign's view, shown with it, says whether and when it dials.
  } else if (launch.activationError) {
    lines.push(`dialing  no: the activation gave up (${launch.activationError})`);
  } else if (launch.campaignStatus === 'scheduled' && launch.activateAt) {
    lines.push(`dialing  not yet: scheduled, activates at ${launch.activateAt}`);
  } else if (launch.campaignStatus === 'active' && launch.activatedAt) {
    lines.push(`dialing  yes (active since ${launch.activatedAt})`);
  } else if (launch.campaignStatus) {
    lines.push(
      `dialing  ${launch.campaignStatus === 'active' ? 'yes (active)' : `no (${launch.campaignStatus})`}`,
    );
  }
  const err = errorText(launch.error);
  if (err) lines.push(`error    ${err}`);
  // A launch that keeps retrying looks healthy by its status alone; once final, `error` says it all.
  if (launch.lastError && !isFinalLaunch(launch.status)) lines.push(`last try ${launch.lastError}`);
  return printableLines(lines);
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * The line a waiting `cxo launch` rewrites in place on a terminal (with a spinner frame), or
 * appends to a log (no `frame`: no spinner); it names the last failed try while retrying.
 */
export function progressLine(
  launch: Pick<LaunchView, 'launchId' | 'status' | 'lastError'>,
  elapsedMs: number,
  frame?: number,
): string {
  const final = isFinalLaunch(launch.status);
  const spin = frame === undefined ? '' : `${final ? ' ' : SPINNER[frame % SPINNER.length]} `;
  // Kept short: a line wider than the terminal wraps, and the in-place redraw clears only its last row.
  const retrying = launch.lastError && !final ? `; last try ${compactValue(launch.lastError, 80)}` : '';
  return `${spin}${printableLine(`launch ${launch.launchId}: ${launch.status} (${(elapsedMs / 1000).toFixed(1)} s)`)}${retrying}`;
}

/** Scalar fields of an object, flattened one level (`a.b=1`), for state whose shape another area owns. */
export function flattenForDisplay(value: unknown, prefix = '', depth = 1): [string, string][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return prefix ? [[prefix, compactValue(value)]] : [];
  }
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && depth > 0) {
      out.push(...flattenForDisplay(v, key, depth - 1));
    } else out.push([key, compactValue(v)]);
  }
  return out;
}

/** The latest pacing decision as one line, or undefined when pacing has not decided anything yet. */
export function pacingLine(pacing: unknown): string | undefined {
  const decision = (pacing as { lastDecision?: unknown } | null | undefined)?.lastDecision;
  if (!decision || typeof decision !== 'object') return undefined;
  const d = decision as {
    direction?: string;
    previousCallRate?: number;
    callRate?: number;
    reason?: string;
    at?: string;
  };
  const arrow = d.direction === 'up' ? '↑' : d.direction === 'down' ? '↓' : '→';
  return printableLine(
    `pacing ${arrow} callRate ${compactValue(d.previousCallRate)} → ${compactValue(d.callRate)}${d.reason ? `: ${d.reason}` : ''}`,
  );
}

/** The campaign panel shown by `cxo status` and refreshed by `cxo watch`. */
export function formatCampaign(view: CampaignViewLoose): string {
  const s = view.lastStats ?? {};
  const dialer = view.config?.dialerStrategy;
  const legalAbandon =
    s.answeredCalls && s.abandonedCalls !== undefined ? s.abandonedCalls / s.answeredCalls : undefined;
  const lines = [
    `campaign   ${view.campaignId ?? '?'}${view.config?.name ? `  "${view.config.name}"` : ''}`,
    `status     ${view.status ?? '?'}   version ${view.version ?? '?'}${view.updatedAt ? `   updated ${view.updatedAt}` : ''}`,
  ];
  // Said before the figures: everything below may be out of date, status included.
  if (view.missingOnCxone) {
    lines.push(
      `missing    CXone no longer knows this campaign (404 since ${view.missingOnCxone.since ?? '?'}; deleted outside the orchestrator?): the rest is as last known`,
    );
  } else if (view.stale) {
    // An older API says only that it could not refresh the view, not why: then no guess.
    const why = view.staleReason
      ? `could not refresh from CXone just now: ${view.staleReason}`
      : 'CXone did not answer with the campaign just now (the API does not say why)';
    lines.push(
      `cached     ${why}: this is the orchestrator's cached view, ${
        view.syncedAt ? `last synced with CXone at ${view.syncedAt}` : 'not known when last synced with CXone'
      }`,
    );
  }
  // A field the view may lack (older APIs): without it, "scheduled" alone does not say for how long.
  if (view.activationFailed && view.status === 'scheduled') {
    lines.push(
      `dialing    never: its activation gave up${view.activationFailed.at ? ` at ${view.activationFailed.at}` : ''} (${view.activationFailed.reason ?? 'no reason given'})`,
    );
  } else if (view.activateAt && view.status === 'scheduled') {
    lines.push(`dialing    not yet: scheduled, activates at ${view.activateAt}`);
  }
  if (dialer) {
    lines.push(
      `dialer     ${dialer.strategy ?? '?'}  callRate ${compactValue(dialer.callRate)}  agents ${compactValue(dialer.agentCapacity)}`,
    );
  }
  if (view.lastStats) {
    lines.push(
      `calls      total ${s.totalCalls ?? 0}  answered ${s.answeredCalls ?? 0}  abandoned ${s.abandonedCalls ?? 0}` +
        `  violations ${s.complianceViolations ?? 0}`,
      `rates      abandonment (of answered) ${pct(legalAbandon, 2)}  agent utilisation ${
        s.agentUtilization === undefined ? '–' : `${s.agentUtilization.toFixed(0)}%`
      }${s.at ? `   as of ${s.at}` : ''}`,
    );
  } else {
    lines.push('calls      no statistics yet');
  }
  if (view.efficiency) {
    lines.push(
      `efficiency score ${compactValue(view.efficiency.efficiencyScore)}  answer rate ${pct(view.efficiency.answerRate)}` +
        `  abandonment (of total) ${pct(view.efficiency.abandonmentRate)}`,
    );
  }
  if (view.polling?.effectiveIntervalMs !== undefined) {
    lines.push(
      `polling    every ${(view.polling.effectiveIntervalMs / 1000).toFixed(1)} s` +
        (view.polling.desiredIntervalMs !== undefined &&
        view.polling.desiredIntervalMs !== view.polling.effectiveIntervalMs
          ? ` (wanted ${(view.polling.desiredIntervalMs / 1000).toFixed(1)} s; stretched to fit the fleet budget)`
          : ''),
    );
  }
  const decision = pacingLine(view.pacing);
  if (decision) {
    // When it was decided: the latest decision may be far older than the figures above it (a poll the
    // abandonment guard pauses skips pacing, a paused poll at the safe start decides nothing).
    const at = (view.pacing as { lastDecision?: { at?: unknown } } | null | undefined)?.lastDecision?.at;
    const when = typeof at === 'string' ? printableLine(`   decided ${at}`) : '';
    lines.push(`pacing     ${decision.replace(/^pacing /, '')}${when}`);
  }
  for (const [label, state] of [
    ['pacing', decision ? undefined : view.pacing],
    ['compliance', view.compliance],
    ['last cmd', view.lastCommand],
  ] as const) {
    const pairs = flattenForDisplay(state).slice(0, 8);
    if (pairs.length > 0) lines.push(`${label.padEnd(10)} ${pairs.map(([k, v]) => `${k}=${v}`).join('  ')}`);
  }
  return printableLines(lines);
}

export function formatAuditRecord(r: AuditRecordView): string {
  const when = r.occurredAt ?? r.timestamp ?? '';
  const version = r.cxoneVersion === undefined ? '' : ` v${r.cxoneVersion}`;
  const details = flattenForDisplay(r.details ?? {}, '', 0)
    .slice(0, 6)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return printableLine(
    `${when}  ${(r.action ?? '?').padEnd(20)} ${(r.actor ?? '?').padEnd(22)}${version}  ${details}`,
  ).trimEnd();
}
