import {
  complianceOptionsSchema,
  toValidationIssues,
  type CampaignConfig,
  type ValidationIssue,
} from './campaign-config.js';
import { campaignConfigSchema } from './campaign-schema.js';
import type { AppConfig } from './config.js';
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
): { config: CampaignConfig; issues: [] } | { config?: undefined; issues: ValidationIssue[] } {
  const parsed = campaignConfigSchema.safeParse(body);
  if (parsed.success) {
    const refused = deploymentPolicyIssues(parsed.data, policy);
    return refused.length === 0 ? { config: parsed.data, issues: [] } : { issues: refused };
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
  return { issues: [...toValidationIssues(parsed.error, body), ...refused] };
}
