import type { CampaignResource } from '../shared/cxone/wire.js';
import type { LaunchStore } from '../shared/launch-store.js';
import type { AppContext } from '../shared/context.js';
import { auditOrLog, publishOrLog } from '../shared/side-records.js';
import { ACTOR, type Deps } from './launch-deps.js';

/**
 * What a delayed activation came to, noted on the launch and the campaign record (best effort: the
 * audit trail and the events already say it).
 */

/**
 * Puts what the delayed activation came to on the launch record. Best effort: the campaign record,
 * audit trail and events already say it, and failing the job for this would repeat a takeover's event.
 */
export async function noteActivation(
  deps: Pick<Deps, 'ctx' | 'launches'>,
  launchId: string,
  fields: Parameters<LaunchStore['recordActivation']>[1],
): Promise<void> {
  try {
    await deps.launches.recordActivation(launchId, fields);
  } catch (err) {
    deps.ctx.logger.warn(
      { launchId, err: err instanceof Error ? err.message : String(err) },
      'could not note the activation on the launch record',
    );
  }
}

export const noteActivated = (deps: Deps, launchId: string, resource: CampaignResource) =>
  noteActivation(deps, launchId, {
    campaignStatus: resource.status,
    cxoneVersion: resource.version,
    activatedAt: new Date(deps.ctx.clock.now()).toISOString(),
  });

/**
 * Notes the scheduled start's activation on the launch and announces it (`campaign.state.changed`,
 * `scheduled-start`) in the same script, so the note stands for the announcement. A redelivery that
 * finds the campaign already active — the activating write went through but its answer was lost (a
 * 5xx after CXone applied it, a timeout) or the worker died before noting it — announces it when the
 * launch does not show it noted yet: otherwise nothing would ever say the campaign began dialing.
 */
export async function noteScheduledStart(
  deps: Deps,
  input: { launchId: string; campaignId: string; resource: CampaignResource; onlyIfUnnoted: boolean },
): Promise<void> {
  const { ctx, launches } = deps;
  const { resource } = input;
  if (input.onlyIfUnnoted) {
    const launch = await launches.get(input.launchId).catch(() => null);
    // Noted by the run that activated it (with its event), or no launch to tell (best effort, as the note).
    if (!launch || launch.activatedAt !== undefined) return noteActivated(deps, input.launchId, resource);
  }
  const data = {
    from: 'scheduled',
    to: resource.status,
    version: resource.version,
    reason: 'scheduled-start',
  };
  let written = false;
  try {
    written = await launches.recordActivation(
      input.launchId,
      {
        campaignStatus: resource.status,
        cxoneVersion: resource.version,
        activatedAt: new Date(ctx.clock.now()).toISOString(),
      },
      ctx.events.prepare('campaign.state.changed', input.campaignId, data),
    );
  } catch (err) {
    ctx.logger.warn(
      { launchId: input.launchId, err: err instanceof Error ? err.message : String(err) },
      'could not note the activation on the launch record',
    );
  }
  // No launch record to carry it (or Redis refused the note): still announced, as it always was.
  if (!written) await publishOrLog(ctx, 'campaign.state.changed', input.campaignId, data);
}

/**
 * Marks the campaign record too: its view would otherwise go on planning an activation nobody will
 * run ("activates at" the next window open). Best-effort, like the launch's note: the launch and the
 * audit trail already say it, and a campaign CXone no longer knows has no record to mark.
 */
export async function noteActivationFailed(
  deps: Pick<Deps, 'ctx' | 'campaigns'>,
  campaignId: string,
  reason: string,
): Promise<void> {
  try {
    await deps.campaigns.patch(campaignId, {
      activationFailed: { reason, at: new Date(deps.ctx.clock.now()).toISOString() },
    });
  } catch (err) {
    deps.ctx.logger.warn(
      { campaignId, err: (err as Error).message },
      'could not mark the campaign record with its failed activation',
    );
  }
}

/**
 * Records and announces that a launch's delayed activation failed for good: `launch_failed` and
 * `campaign.launch.failed`, once per campaign by one key — the trail's dedupe key and the event's
 * `once` name. A run that died after this and before noting it on the launch (redelivered, or given
 * up by BullMQ after it stalled) comes here again and must not announce it under a new id.
 * `auditExtra`: details the record keeps and the event does not.
 */
export async function recordActivationFailed(
  ctx: Pick<AppContext, 'audit' | 'events' | 'logger'>,
  campaignId: string,
  failure: Record<string, unknown>,
  opts: { cxoneVersion?: number; auditExtra?: Record<string, unknown> } = {},
): Promise<void> {
  const key = `activation_failed:${campaignId}`;
  await auditOrLog(ctx, {
    campaignId,
    action: 'launch_failed',
    actor: ACTOR,
    ...(opts.cxoneVersion === undefined ? {} : { cxoneVersion: opts.cxoneVersion }),
    details: { ...failure, ...opts.auditExtra },
    dedupeKey: key,
  });
  await publishOrLog(ctx, 'campaign.launch.failed', campaignId, failure, {}, { once: key });
}
