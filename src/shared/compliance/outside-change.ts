import type { CampaignConfig } from '../campaign-config.js';
import type { AppContext } from '../context.js';
import type { CampaignStatus } from '../cxone/wire.js';
import { enqueueCommand, getCommand } from '../lifecycle/enqueue.js';
import { describeProblems } from './config-rules.js';
import { runtimeComplianceProblems } from './deployment-policy.js';
import { COMPLIANCE_ACTOR, recordComplianceAction } from './record.js';

/** The reason on the pause this module enqueues (an operator's fix, then resume, lifts it). */
export const REASON_OUTSIDE_CHANGE = 'compliance-config';

/**
 * A campaign's settings as CXone now holds them, after a change made outside the orchestrator (its
 * console, another tool), checked against the rules every config of ours must pass. Windows widened
 * past the legal hours are already clamped at run time (legal-hours.ts), but a time zone that no
 * longer keeps the declared recipients' clock, or a fixed offset (`Etc/GMT+5`) that keeps no one's,
 * cannot be: every hour would be read on the wrong clock.
 * So a breach is recorded once per CXone version (`outside_change_noncompliant`: the compliance log,
 * the audit trail, the metric, an event) and an active campaign is paused until an operator fixes
 * the settings (PATCH is validated) and resumes it. Returns whether the config breaks a rule.
 */
export async function checkOutsideChange(
  ctx: AppContext,
  input: { campaignId: string; config: CampaignConfig; status: CampaignStatus; version: number },
): Promise<boolean> {
  const problems = runtimeComplianceProblems(input.config, ctx.config);
  if (problems.length === 0) return false;
  // Checked on every poll, not only when the poll itself finds the new version (a GET, a command or
  // the activation may have stored it first); acted on once per version and status.
  // A dialing campaign is paused once per CXone version; one that is not dialing is only noted, once.
  const pause = input.status === 'active';
  const marker = ctx.keys.custom('compliance', 'outside-change', input.campaignId);
  const handled = pause ? `active:${input.version}` : `noted:${input.version}`;
  const previous = await ctx.redis.get(marker);
  if (!pause && previous !== null) return true;
  if (pause && previous?.startsWith(`${handled}:`)) {
    // Paused already for this version, unless that pause failed for good (CXone refused it ten
    // times) or expired: then it is issued again, until the campaign stops dialing.
    const command = await getCommand(ctx, previous.slice(handled.length + 1));
    if (command && command.status !== 'failed' && command.status !== 'conflict') return true;
    await pauseFor(ctx, input.campaignId, marker, handled);
    return true;
  }
  await recordComplianceAction(ctx, {
    campaignId: input.campaignId,
    kind: 'outside_change_noncompliant',
    details: {
      version: input.version,
      problems: describeProblems(problems),
      action: pause ? 'pause' : 'none',
    },
    cxoneVersion: input.version,
    dedupeKey: `outside-change:${input.campaignId}:${handled}`,
    ...(pause ? { event: 'campaign.compliance.paused' as const } : {}),
  });
  // The marker is written last, so a failure above is retried by the next poll (the audit record
  // has its dedupe key).
  if (pause) await pauseFor(ctx, input.campaignId, marker, handled);
  else await ctx.redis.set(marker, handled, 'EX', MARKER_TTL_SECONDS);
  return true;
}

/** Queues the pause and remembers its command, so the next polls can tell whether it worked. */
async function pauseFor(ctx: AppContext, campaignId: string, marker: string, handled: string): Promise<void> {
  const { commandId } = await enqueueCommand(ctx, {
    campaignId,
    actor: COMPLIANCE_ACTOR,
    reason: REASON_OUTSIDE_CHANGE,
    action: 'pause',
  });
  await ctx.redis.set(marker, `${handled}:${commandId}`, 'EX', MARKER_TTL_SECONDS);
}

/** How long the "already handled" marker lives; past it a still-noncompliant campaign is flagged again. */
const MARKER_TTL_SECONDS = 7 * 24 * 3600;
