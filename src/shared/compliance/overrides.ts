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
    const key = ctx.keys.custom('compliance', input.campaignId);
    const field = `override:${override.rule}`;
    if ((await ctx.redis.hexists(key, field)) === 1) continue;
    // Recorded before it is marked recorded: marked first, a record that failed would never be made
    // (every later call finds the mark). Two calls racing both record; the dedupe key keeps one.
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
    if ((await ctx.redis.hsetnx(key, field, new Date(ctx.clock.now()).toISOString())) === 1) recorded++;
  }
  return recorded;
}
