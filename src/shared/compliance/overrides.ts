import { type CampaignConfig, regimeOf } from '../campaign-config.js';
import type { AppContext } from '../context.js';
import { complianceOverrides } from './deployment-policy.js';
import { recordComplianceAction } from './record.js';

/**
 * Audits, once per campaign and rule, each compliance rule the deployment let this campaign relax
 * (today: the do-not-call check, allowed by ALLOW_DNC_DISABLED) as a 'compliance_override' record.
 * Called by the launch pipeline once the campaign exists, and again by window enforcement as a
 * backstop; repeated calls record nothing new.
 */
export async function recordDeploymentOverrides(
  ctx: AppContext,
  input: { campaignId: string; config: Pick<CampaignConfig, 'compliance'>; actor?: string },
): Promise<number> {
  let recorded = 0;
  for (const override of complianceOverrides(input.config, ctx.config)) {
    const first = await ctx.redis.hsetnx(
      ctx.keys.custom('compliance', input.campaignId),
      `override:${override.rule}`,
      new Date(ctx.clock.now()).toISOString(),
    );
    if (first !== 1) continue;
    await recordComplianceAction(ctx, {
      campaignId: input.campaignId,
      kind: 'override',
      ...(input.actor ? { actor: input.actor } : {}),
      details: {
        rule: override.rule,
        allowedBy: override.allowedBy,
        source: override.source,
        regime: regimeOf(input.config),
      },
      dedupeKey: `compliance:override:${input.campaignId}:${override.rule}`,
    });
    recorded++;
  }
  return recorded;
}
