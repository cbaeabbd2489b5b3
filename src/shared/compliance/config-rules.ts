import type { z } from 'zod';
import type { CampaignConfig } from '../campaign-config.js';

/**
 * Compliance rules applied to a campaign config at submit time and on every change. Pure.
 * Each problem names the field, the rule and its source.
 */
export interface ComplianceProblem {
  path: (string | number)[];
  message: string;
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Federal calling hours: 08:00–21:00 in the called party's local time. */
export const FEDERAL_WINDOW = {
  start: '08:00',
  end: '21:00',
  source: 'TCPA 47 CFR 64.1200(c)(1); FTC TSR 16 CFR 310.4(c)',
} as const;

export function checkCallingWindows(config: Pick<CampaignConfig, 'allowedCallTimes'>): ComplianceProblem[] {
  const problems: ComplianceProblem[] = [];
  config.allowedCallTimes.forEach((window, i) => {
    const start = toMinutes(window.start);
    const end = toMinutes(window.end);
    if (end <= start) {
      problems.push({
        path: ['allowedCallTimes', i, 'end'],
        message: `must be after start (${window.start})`,
      });
    }
    if (start < toMinutes(FEDERAL_WINDOW.start)) {
      problems.push({
        path: ['allowedCallTimes', i, 'start'],
        message: `${window.start} is before ${FEDERAL_WINDOW.start} local time (${FEDERAL_WINDOW.source})`,
      });
    }
    if (end > toMinutes(FEDERAL_WINDOW.end)) {
      problems.push({
        path: ['allowedCallTimes', i, 'end'],
        message: `${window.end} is after ${FEDERAL_WINDOW.end} local time (${FEDERAL_WINDOW.source})`,
      });
    }
  });
  return problems;
}

/** zod refinement hook used by `campaignConfigSchema`. */
export function refineCampaignCompliance(config: CampaignConfig, ctx: z.RefinementCtx): void {
  for (const problem of checkCallingWindows(config)) {
    ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  }
}
