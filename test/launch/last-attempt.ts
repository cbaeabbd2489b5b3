import type { Job } from 'bullmq';
import { DateTime } from 'luxon';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import type { CampaignConfigInput } from '../../src/shared/campaign-config.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import { createLaunchStore, type LaunchStore } from '../../src/shared/launch-store.js';
import { campaignConfig } from '../e2e/stack.js';

/** A campaign config (the e2e stack's) starting in an hour, with `config`'s fields over it. */
export function startingInAnHour(config: Partial<CampaignConfigInput> = {}): CampaignConfigInput {
  return campaignConfig({ startDateTime: DateTime.now().plus({ hours: 1 }).toISO() ?? '', ...config });
}

/** Submits a launch starting in an hour and returns its queued job as its first run sees it. */
export async function submitLaunchInAnHour(
  ctx: AppContext,
  config: Partial<CampaignConfigInput> = {},
): Promise<{ launchId: string; job: Job }> {
  const parsed = campaignConfigSchema.parse(startingInAnHour(config));
  const { launchId } = await submitLaunch(ctx, { config: parsed, actor: 'test' });
  return { launchId, job: (await ctx.queues.launch.getJob(launchId)) as Job };
}

/**
 * Submits a launch starting in an hour and returns its queued job as a run on its last attempt sees
 * it, so any failure is final; `extra` overrides job members (e.g. `extendLock`), `config` fields of
 * the campaign config.
 */
export async function lastAttemptLaunch(
  ctx: AppContext,
  extra: Partial<Job> = {},
  config: Partial<CampaignConfigInput> = {},
): Promise<{ launchId: string; job: Job }> {
  const { launchId, job: queued } = await submitLaunchInAnHour(ctx, config);
  const job = Object.assign(Object.create(queued) as Job, {
    attemptsMade: (queued.opts.attempts ?? 1) - 1,
    ...extra,
  });
  return { launchId, job };
}

/** The launch worker's dependencies on `ctx`, as the worker builds them, with a 30 s job lock. */
export function launchDeps(ctx: AppContext) {
  return { ctx, launches: createLaunchStore(ctx), campaigns: createCampaignStore(ctx), lockMs: 30_000 };
}

/**
 * `store` whose next `failures` writes of a created campaign on the launch (`recordCreated`) fail, as
 * on a Redis blip after CXone answered the create; later ones go through.
 */
export function failingRecordCreated(store: LaunchStore, failures = 1): LaunchStore {
  let left = failures;
  return Object.assign(Object.create(store) as LaunchStore, {
    recordCreated: (...args: Parameters<LaunchStore['recordCreated']>) =>
      left-- > 0 ? Promise.reject(new Error('Connection is closed.')) : store.recordCreated(...args),
  });
}
