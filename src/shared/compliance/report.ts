import type { z } from 'zod';
import {
  ABANDONMENT_CAP,
  type CampaignConfig,
  doNotCallCheckOf,
  regimeOf,
  targetAbandonmentOf,
} from '../campaign-config.js';
import type { CampaignStats, CampaignStatus } from '../cxone/wire.js';
import type { AppConfig } from '../config.js';
import type { complianceReportSchema } from '../responses/compliance-report.js';
import { describeProblems, FEDERAL_WINDOW, floorSource } from './config-rules.js';
import { runtimeComplianceProblems, STRICT_POLICY } from './deployment-policy.js';
import { describePeriod, evaluateAbandonmentGuard, MEASUREMENT, type GuardState } from './guard.js';
import { isLateLanding, isLatePause, isLateStop, isWindowPause, lateByMs } from './lateness.js';
import { hasHolidayCalendar, holidaysFrom } from './holidays.js';
import { NOT_ENCODED, STATE_RULES } from './state-rules.js';
import { COMPLIANCE_ACTION_KINDS, type ComplianceActionEntry, type WindowState } from './state-store.js';
import { currentWindowClose, isWithinWindow, localIso, nextWindowOpen } from './windows.js';

// The report's shape is its response schema's (src/shared/responses/compliance-report.ts), so what
// GET /v1/campaigns/{id}/compliance answers cannot drift from what is documented.
export type ComplianceReport = z.output<typeof complianceReportSchema>;

/**
 * The per-campaign compliance report: what rules apply, whether dialing kept to the windows, the
 * abandonment rate per measurement period, how often CXone counted violations, and every guard
 * action. Pure: built from what the orchestrator stored; GET /v1/campaigns/:id/compliance serves it
 * and the audit trail records it.
 */
export interface ReportInput {
  campaignId: string;
  status: CampaignStatus;
  config: CampaignConfig;
  lastStats?: (CampaignStats & { at?: string }) | undefined;
  guard?: GuardState | undefined;
  window: WindowState;
  actions: ComplianceActionEntry[];
  nowMs: number;
  /** This deployment's policy (ALLOW_DNC_DISABLED); without it, the strict default (not allowed). */
  policy?: Pick<AppConfig, 'allowDncDisabled'>;
}

export { ON_TIME_TOLERANCE_MS } from './lateness.js';

const WINDOW_KINDS = new Set([
  'window_pause',
  'window_resume',
  'window_resume_withheld',
  'window_pause_released',
  'window_pause_landed',
]);
// A lift of the guard's pause (an operator's resume over the cap) is a guard decision overridden:
// the report shows it next to the pause it lifted, as the trail does; a blind pause and what became
// of it likewise.
const GUARD_KINDS: ReadonlySet<string> = new Set(
  COMPLIANCE_ACTION_KINDS.filter((k) => k.startsWith('guard_')),
);

/**
 * The log's entries, one per audit dedupe key (the first; a replayed action is appended to the log
 * again, while the trail keeps its one record), without the key itself.
 */
function distinctActions(actions: ComplianceActionEntry[]): Omit<ComplianceActionEntry, 'dedupeKey'>[] {
  const seen = new Set<string>();
  const out: Omit<ComplianceActionEntry, 'dedupeKey'>[] = [];
  for (const { dedupeKey, ...entry } of actions) {
    if (dedupeKey !== undefined) {
      if (seen.has(dedupeKey)) continue;
      seen.add(dedupeKey);
    }
    out.push(entry);
  }
  return out;
}

export function buildComplianceReport(input: ReportInput): ComplianceReport {
  const { config, nowMs } = input;
  const actions = distinctActions(input.actions);
  const zone = config.complianceTimeZone;
  const regime = regimeOf(config);
  const measurement = MEASUREMENT[regime];
  const target = targetAbandonmentOf(config);

  const windowActions = actions.filter((a) => WINDOW_KINDS.has(a.kind));
  const pauses = windowActions.filter(isWindowPause);
  const lateness = pauses.map(lateByMs);
  const latePauses = pauses.filter(isLatePause).length;
  // When each window pause went through on CXone, against the close it was due by: any lateness there
  // is dialing after the close.
  // One per pause command (a firing retried after its record keeps one in the trail, two in this log).
  const landings = [
    ...new Map(
      windowActions
        .filter((a) => a.kind === 'window_pause_landed')
        .map((a) => [String(a.details.commandId ?? a.at), a]),
    ).values(),
  ];
  const pausesLandedLate = landings.filter(isLateLanding).length;
  // A window pause that found someone else's in place, or came after a stop, never lands; when that
  // pause or stop ended the dialing after the window's was due, the campaign dialed past the close.
  const pausesOvertakenLate = windowActions.filter(isLateStop).length;
  const violations = input.lastStats?.complianceViolations ?? null;
  const totalCalls = input.lastStats?.totalCalls ?? null;

  const guard = input.guard;
  // The guard's state is as the last active poll left it: a period that ended since (the campaign
  // paused across the boundary) is closed here as that poll's successor will close it (the guard's
  // own evaluation, pure: a read writes nothing), so it shows among the closed periods and the
  // current one is the period holding now. A campaign that ended had its last period closed at its
  // end (endMeasurement): it is among the closed ones, and none is current.
  const live =
    guard && input.lastStats && guard.endedAtMs === undefined
      ? evaluateAbandonmentGuard({ config, state: guard, stats: input.lastStats, nowMs })
      : null;
  const current = live
    ? {
        index: live.period.index,
        start: new Date(live.period.startMs).toISOString(),
        end: new Date(live.period.endMs).toISOString(),
        answeredCalls: live.figures.answeredCalls,
        abandonedCalls: live.figures.abandonedCalls,
        rate: live.figures.rate,
        withinCap: live.figures.rate === null || live.figures.rate <= ABANDONMENT_CAP,
      }
    : null;
  const periods = [...(guard?.periods ?? []), ...(live?.closedPeriod ? [live.closedPeriod] : [])].map((p) =>
    describePeriod(p, ABANDONMENT_CAP),
  );

  const open = isWithinWindow(config, nowMs);
  const nextOpen = nextWindowOpen(config, nowMs);
  const close = currentWindowClose(config, nowMs);
  const states = config.recipientStates ?? [];
  const today = localIso(zone, nowMs).slice(0, 10);

  return {
    campaignId: input.campaignId,
    generatedAt: new Date(nowMs).toISOString(),
    status: input.status,
    regime,
    timeZone: zone,
    rules: {
      // Under OFCOM the same hours are the orchestrator's policy, not US law (config-rules.ts).
      callingHours: { start: FEDERAL_WINDOW.start, end: FEDERAL_WINDOW.end, source: floorSource(config) },
      allowedCallTimes: config.allowedCallTimes,
      // Every date listed, past ones too: the record of which days the campaign kept clear.
      blackoutDates: [...(config.blackoutDates ?? [])].sort(),
      // The settings as CXone holds them, against the rules every config of ours passes: not empty
      // after a change made in CXone's console (enforcement keeps to the legal hours regardless).
      settingsProblems: describeProblems(runtimeComplianceProblems(config, input.policy ?? STRICT_POLICY)),
      recipientStates: states.map((code) => {
        const rule = STATE_RULES[code];
        if (rule) {
          return {
            ...rule,
            encoded: true as const,
            ...(hasHolidayCalendar(code) ? { upcomingHolidays: holidaysFrom(code, today, 10) } : {}),
          };
        }
        const note = NOT_ENCODED[code];
        return {
          code,
          encoded: false as const,
          note: note ?? 'no rule stricter than the federal one is encoded',
        };
      }),
      abandonment: {
        target,
        cap: ABANDONMENT_CAP,
        measurement: measurement.label,
        source: measurement.source,
      },
    },
    window: {
      open,
      localTime: localIso(zone, nowMs),
      currentClose: close === null ? null : localIso(zone, close),
      nextOpen: nextOpen === null ? null : localIso(zone, nextOpen),
      pausedByWindow: input.window.pausedAt !== undefined,
      enforcement: {
        pauses: pauses.length,
        resumes: windowActions.filter((a) => a.kind === 'window_resume' && a.details.reissued !== true)
          .length,
        resumesWithheld: windowActions.filter((a) => a.kind === 'window_resume_withheld').length,
        latePauses,
        maxPauseLatenessMs: lateness.length ? Math.max(...lateness) : null,
        pausesLanded: landings.length,
        pausesLandedLate,
        maxPauseLandingLatenessMs: landings.length ? Math.max(...landings.map(lateByMs)) : null,
        pausesOvertakenLate,
        recent: windowActions.slice(-20),
      },
      cxoneComplianceViolations: violations,
      /**
       * True when CXone counted no violations, every window pause was issued on time, every one seen
       * through went through by its close, and no other pause or stop that stopped the campaign in its
       * stead did so after that close; null without stats.
       */
      adherent:
        violations === null
          ? null
          : violations === 0 && latePauses === 0 && pausesLandedLate === 0 && pausesOvertakenLate === 0,
    },
    abandonment: { regime, target, cap: ABANDONMENT_CAP, measurement: measurement.label, current, periods },
    violations: {
      total: violations,
      totalCalls,
      /** CXone compliance violations per call placed. */
      frequency: violations !== null && totalCalls ? violations / totalCalls : null,
      periodsOverCap: periods.filter((p) => !p.withinCap).length,
    },
    guardActions: actions.filter((a) => GUARD_KINDS.has(a.kind)),
    doNotCall: {
      checked: doNotCallCheckOf(config),
      overrides: actions.filter((a) => a.kind === 'override'),
    },
  };
}
