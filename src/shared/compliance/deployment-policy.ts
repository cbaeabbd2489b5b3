import type { CampaignConfig, ValidationIssue } from '../campaign-config.js';
import type { AppConfig } from '../config.js';
import {
  checkCampaignCompliance,
  checkWrittenTimeZone,
  describeProblems,
  type ComplianceInput,
  type ComplianceProblem,
} from './config-rules.js';

export const DNC_SOURCE = 'FTC TSR 16 CFR 310.4(b)(1)(iii)(B); FCC 47 CFR 64.1200(c)(2)';

/** The policy of a deployment that relaxes nothing (ALLOW_DNC_DISABLED unset). */
export const STRICT_POLICY: Pick<AppConfig, 'allowDncDisabled'> = { allowDncDisabled: false };

/** A rule the deployment let a campaign relax; audited as 'compliance_override'. */
export interface ComplianceOverride {
  rule: 'do-not-call-check-disabled';
  allowedBy: 'ALLOW_DNC_DISABLED';
  source: string;
}

/**
 * Rules that depend on how this deployment is configured, not only on the campaign. Pure; the API
 * calls it next to the schema on submit (a 400 with these issues), the launch worker again before
 * creating the campaign. Not on PATCH: `compliance` cannot be patched, and a do-not-call check turned
 * off in CXone's console is caught as an outside change.
 * - doNotCallCheck: false is refused unless the deployment set ALLOW_DNC_DISABLED=true.
 */
export function checkDeploymentPolicy(
  config: Pick<CampaignConfig, 'compliance'>,
  appConfig: Pick<AppConfig, 'allowDncDisabled'>,
): ComplianceProblem[] {
  if (config.compliance?.doNotCallCheck !== false || appConfig.allowDncDisabled) return [];
  return [
    {
      path: ['compliance', 'doNotCallCheck'],
      message:
        `disabling the do-not-call check is not allowed by this deployment (${DNC_SOURCE}); ` +
        'scrub the list and send true, or have the operator set ALLOW_DNC_DISABLED=true',
    },
  ];
}

/** The overrides a config uses under this deployment's policy (empty when it relaxes nothing). */
export function complianceOverrides(
  config: Pick<CampaignConfig, 'compliance'>,
  appConfig: Pick<AppConfig, 'allowDncDisabled'>,
): ComplianceOverride[] {
  return config.compliance?.doNotCallCheck === false && appConfig.allowDncDisabled
    ? [{ rule: 'do-not-call-check-disabled', allowedBy: 'ALLOW_DNC_DISABLED', source: DNC_SOURCE }]
    : [];
}

/** checkDeploymentPolicy's problems as the API reports validation issues (dotted paths). */
export function deploymentPolicyIssues(
  config: Pick<CampaignConfig, 'compliance'>,
  appConfig: Pick<AppConfig, 'allowDncDisabled'>,
): ValidationIssue[] {
  return describeProblems(checkDeploymentPolicy(config, appConfig));
}

/**
 * Every rule a campaign's settings must keep while it runs, whoever stored them: the config rules,
 * the rule on a fixed-offset zone and this deployment's policy. The checks of settings changed in
 * CXone's console (outside-change.ts), the activation's hold, the resume guard and the compliance
 * report all read them, so that a do-not-call check switched off there is a breach like a window past
 * the legal hours.
 */
export function runtimeComplianceProblems(
  config: ComplianceInput,
  policy: Pick<AppConfig, 'allowDncDisabled'>,
): ComplianceProblem[] {
  // A console move to Etc/GMT+5 or UTC dials on a clock no called party keeps whether or not states
  // are declared (without them the state rules, which catch it otherwise, do not run): the written
  // zone's own rule judges the zone CXone holds too. As at submit, the findings computed from that
  // zone (a declared state's clocks) are left out: one mistake, one message.
  const zone = checkWrittenTimeZone(config);
  const rules =
    zone.length > 0
      ? checkCampaignCompliance(config, new Set(['complianceTimeZone']))
      : checkCampaignCompliance(config);
  return [...zone, ...rules, ...checkDeploymentPolicy(config, policy)];
}
