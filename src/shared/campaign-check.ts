import type { z } from 'zod';
import {
  campaignConfigBaseSchema,
  complianceOptionsSchema,
  toValidationIssues,
  type CampaignConfig,
  type ValidationIssue,
} from './campaign-config.js';
import { campaignConfigSchema } from './campaign-schema.js';
import type { AppConfig } from './config.js';
import { checkUsableCompliance, checkWrittenTimeZone, describeProblems } from './compliance/config-rules.js';
import { deploymentPolicyIssues } from './compliance/deployment-policy.js';

/**
 * Every problem of a submitted campaign config in one answer — the schema's and the deployment's
 * policy (H7: the do-not-call check) — so that fixing some does not reveal one more refusal; and the
 * parsed config when there is none. Used by the API (validate, launch) and `cxo validate --offline`.
 * When the config does not parse, the policy is judged on `compliance.doNotCallCheck` as sent.
 */
export function checkCampaignConfig(
  body: unknown,
  policy: Pick<AppConfig, 'allowDncDisabled'>,
): CampaignConfigCheck {
  const checked = checkCampaignRules(body, { zoneWritten: true });
  if (checked.config) {
    const refused = deploymentPolicyIssues(checked.config, policy);
    return refused.length === 0 ? checked : { issues: refused };
  }
  const sent =
    body !== null && typeof body === 'object' ? (body as Record<string, unknown>)['compliance'] : undefined;
  const dncOff =
    sent !== null &&
    typeof sent === 'object' &&
    (sent as Record<string, unknown>)['doNotCallCheck'] === false;
  const refused = dncOff
    ? deploymentPolicyIssues({ compliance: complianceOptionsSchema.parse({ doNotCallCheck: false }) }, policy)
    : [];
  return { issues: [...checked.issues, ...refused] };
}

/** A config and no issue, or the issues and no config. */
export type CampaignConfigCheck =
  { config: CampaignConfig; issues: [] } | { config?: undefined; issues: ValidationIssue[] };

/**
 * The campaign's own rules — the schema and the compliance rules, complete even when the config does
 * not parse (withUsableCompliance) — without the deployment's policy. The one check of a config's
 * shape and compliance: checkCampaignConfig adds the policy to it for a submitted config, and a change
 * (a PATCH, an action's patch, the adjust worker's rebase: lifecycle/config-view.ts validateChange)
 * checks the config it leaves with it. A bare campaignConfigSchema.safeParse answers a list past its
 * maximum alone. With `zoneWritten`, the input-only rule on the zone too (RuleOptions). Pure.
 */
export function checkCampaignRules(body: unknown, options: RuleOptions = {}): CampaignConfigCheck {
  const parsed = campaignConfigSchema.safeParse(body);
  const checked: CampaignConfigCheck = parsed.success
    ? { config: parsed.data, issues: [] }
    : { issues: withUsableCompliance(parsed.error, body) };
  if (!options.zoneWritten) return checked;
  const refused = describeProblems(checkWrittenTimeZone(body));
  if (refused.length === 0) return checked;
  // One mistake, one message: the findings computed from the refused zone (a declared state's
  // recipients "keep America/New_York time, not Etc/GMT+5") are left out; the refusal says it all.
  const key = (issue: ValidationIssue) => `${issue.path}\n${issue.message}`;
  const withoutZone = new Set(
    describeProblems(checkUsableCompliance(body, new Set(['complianceTimeZone']))).map(key),
  );
  const fromZone = new Set(
    describeProblems(checkUsableCompliance(body))
      .map(key)
      .filter((k) => !withoutZone.has(k)),
  );
  const kept = checked.issues.filter((issue) => !fromZone.has(key(issue)));
  // Where the schema would name the field: before the first issue about a field after it.
  const fields = Object.keys(campaignConfigBaseSchema.shape);
  const rank = (issue: ValidationIssue) => fields.indexOf(issue.path.split('.')[0] ?? '');
  const zoneRank = fields.indexOf('complianceTimeZone');
  const at = kept.findIndex((issue) => rank(issue) > zoneRank);
  return { issues: at < 0 ? [...kept, ...refused] : [...kept.slice(0, at), ...refused, ...kept.slice(at)] };
}

/** How checkCampaignRules judges a config. */
export interface RuleOptions {
  /**
   * Its `complianceTimeZone` is being written (a launch, /validate, a change that sets it), so it is
   * held to the input-only rule too (checkWrittenTimeZone: no fixed offset such as `Etc/GMT+5`). Off
   * for a stored zone, which campaigns and queued jobs accepted before the rule keep.
   */
  zoneWritten?: boolean;
}

/**
 * The schema's issues, and the compliance problems of what is usable of the config when the schema's
 * refinement did not run. zod refuses a list past its maximum (a window naming eight days, 29
 * windows, 61 states) before parsing its elements and then skips every refinement of the objects
 * around it, `when` or not; the rules are run here on the same best-effort view instead, so such a
 * config's answer names the rest's problems as any other shape error's does. A problem the
 * refinement already added is not added again (it ran whenever nothing was oversized). Pure.
 */
function withUsableCompliance(error: z.ZodError, body: unknown): ValidationIssue[] {
  const issues = toValidationIssues(error, body);
  const key = (issue: ValidationIssue) => `${issue.path}\n${issue.message}`;
  const listed = new Set(issues.map(key));
  const unusable = new Set(error.issues.map((issue) => issue.path.map(String).join('.')));
  const missed = describeProblems(checkUsableCompliance(body, unusable)).filter((p) => !listed.has(key(p)));
  return missed.length === 0 ? issues : [...issues, ...missed];
}
