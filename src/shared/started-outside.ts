import { queueHistoryImport } from './audit/history-sync.js';
import type { AuditTrailStore } from './audit/trail.js';
import { campaignConfigBaseSchema, type CampaignConfig } from './campaign-config.js';
import { CampaignStore, type CampaignRecord } from './campaign-store.js';
import { scheduleWindowEnforcement } from './compliance/enforcement.js';
import type { AppContext } from './context.js';
import type { CampaignResource, CampaignStatus } from './cxone/wire.js';
import { activateJobId } from './jobs.js';
import { startedOutsideFrom } from './launch-store.js';
import { ensurePolling } from './polling/schedulers.js';
import { auditOrLog, publishOrLog } from './side-records.js';

/** The fleet's identity in the records this module writes (the launch worker's). */
const ACTOR = 'worker:launch';

/**
 * A campaign found running that the orchestrator did not start: one state_changed record (once per
 * campaign, whichever path found it) and one `campaign.state.changed` event.
 */
export async function recordStartedOutside(
  ctx: Pick<AppContext, 'audit' | 'events' | 'logger'>,
  current: CampaignResource,
  input: { launchId?: string; from: CampaignStatus; reason: string; plannedStart?: string },
): Promise<void> {
  await auditOrLog(ctx, {
    campaignId: current.id,
    action: 'state_changed',
    actor: ACTOR,
    cxoneVersion: current.version,
    details: {
      ...(input.launchId ? { launchId: input.launchId } : {}),
      from: input.from,
      to: current.status,
      changedIn: 'cxone',
      reason: input.reason,
      ...(input.plannedStart ? { plannedStart: input.plannedStart } : {}),
    },
    // Once: the takeover's own safe-start write moves the version a redelivery would see.
    dedupeKey: `activated_early:${current.id}`,
  });
  // Once too, by the record's key: a run that died after this and before marking the record (a
  // redelivery, whichever path finds it next) announces it again, under the same event id — so not again.
  await publishOrLog(
    ctx,
    'campaign.state.changed',
    current.id,
    {
      from: input.from,
      to: current.status,
      version: current.version,
      reason: 'activated-outside-before-start',
    },
    {},
    { once: `activated_early:${current.id}` },
  );
}

/** What came of watching a campaign left running: watched, or why not. */
export type LeftRunningWatch = { watched: true } | { watched: false; error: string };

/**
 * The config a launch asked for, from its `campaign_created` record (the first of the campaign's
 * chain): the recipient states CXone never sees are in it, and nowhere else once the launch job is
 * gone (a stop its failure queued, a launch whose job was removed by hand). Null when the trail cannot
 * give it (a trail without pages, no such record, one that does not parse).
 */
async function launchConfigFromTrail(
  ctx: Pick<AppContext, 'audit'>,
  campaignId: string,
  launchId: string | undefined,
): Promise<CampaignConfig | null> {
  const trail = ctx.audit as Partial<AuditTrailStore>;
  if (typeof trail.page !== 'function') return null;
  try {
    const { records } = await trail.page(campaignId, null, 10);
    const created = records.find(
      (r) =>
        r.action === 'campaign_created' && (launchId === undefined || r.details['launchId'] === launchId),
    );
    const parsed = campaignConfigBaseSchema.safeParse(created?.details['config']);
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * A campaign a failed launch's cleanup (or the stop it queued) left running because an operator started
 * it in CXone (launch-store.ts startedOutsideOrchestrator): its calls are the operator's to decide, but
 * not outside the law. It is watched from now on exactly as a campaign the orchestrator launched —
 * statistics polls (its scheduler; each poll runs the abandonment guard, then pacing) and its
 * calling-window jobs — so it pauses at its window's close and under the abandonment cap; a delayed
 * activation of its launch still waiting is removed. The record is synced from CXone and marked
 * `startedOutside` (a record-less campaign gets one, from `config` — the launch's, with its recipient
 * states —, else the config its `campaign_created` record kept, else CXone's settings alone, which
 * hold no recipient states); the first time the orchestrator learns of the
 * start, the trail gets a state_changed record (`changedIn: "cxone"`), `campaign.state.changed` is
 * published and CXone's history (who started it) is imported. Never throws: a watch that could not be
 * set up is logged at error and returned, for the launch and its `launch_failed` record to say so.
 */
export async function watchLeftRunning(
  ctx: AppContext,
  input: {
    launchId?: string;
    current: CampaignResource;
    record: CampaignRecord | null;
    /** The launch's config: the base of a record the campaign does not have yet. */
    config?: CampaignConfig;
    /** What left it running (the audit record's reason). */
    why: string;
    /** The start was already recorded and announced (a takeover's own record): not again. */
    announced?: boolean;
  },
): Promise<LeftRunningWatch> {
  const { current, record } = input;
  const campaignId = current.id;
  const campaigns = new CampaignStore(ctx);
  try {
    const from = startedOutsideFrom(record);
    const mark = record?.startedOutside ?? { at: new Date(ctx.clock.now()).toISOString(), from };
    // Announced before the record is marked: the mark is what tells a later watch the start was
    // announced, so a watch that failed (or died) after marking and before announcing left the start
    // unannounced for good. Both are once by their keys, so a watch that fails after this repeats nothing.
    if (!record?.startedOutside && !input.announced) {
      await recordStartedOutside(ctx, current, {
        ...(input.launchId ? { launchId: input.launchId } : {}),
        from,
        reason: input.why,
      });
      await queueHistoryImport(ctx, campaignId, current.version);
    }
    const config =
      record === null
        ? (input.config ?? (await launchConfigFromTrail(ctx, campaignId, input.launchId)))
        : null;
    const declared = config?.recipientStates;
    const synced = await campaigns.syncFromCxone(current, {
      ...(input.launchId ? { launchId: input.launchId } : {}),
      ...(config ? { config, ...(declared?.length ? { declaredStates: declared } : {}) } : {}),
      startedOutside: mark,
    });
    // The record holds a newer version (a read since): the mark is written alone.
    if (!synced && !record?.startedOutside) await campaigns.patch(campaignId, { startedOutside: mark });
    const stored = await campaigns.get(campaignId);
    if (!stored) throw new Error(`campaign ${campaignId} has no campaign record to watch it by`);
    await ensurePolling(ctx, campaignId, stored.config.pacing?.pollIntervalMs);
    await scheduleWindowEnforcement(ctx, campaignId, { config: stored.config, status: stored.status });
    // A delayed activation its launch left waiting (added before the launch failed) has nothing left to
    // activate, and its look would take the campaign over again — a second safe-start write on the
    // operator's campaign, a campaign_launched record for a failed launch. (One running now — the
    // takeover that failed, calling this — is locked and stays.)
    await ctx.queues.launch.remove(activateJobId(campaignId)).catch(() => 0);
    ctx.logger.warn(
      {
        campaignId,
        launchId: input.launchId,
        status: current.status,
        version: current.version,
        from,
        configFrom: record ? 'record' : input.config ? 'launch' : config ? 'trail' : 'cxone',
        why: input.why,
      },
      'campaign started outside the orchestrator and left running: watched from now on (statistics polls, abandonment guard, calling windows)',
    );
    return { watched: true };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    ctx.logger.error(
      { campaignId, launchId: input.launchId, status: current.status, err: error, why: input.why },
      'campaign started outside the orchestrator and left running could NOT be watched: nothing keeps it to its calling windows or the abandonment cap',
    );
    return { watched: false, error };
  }
}
