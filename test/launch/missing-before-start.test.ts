import { DelayedError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { CAMPAIGN_MISSING_MESSAGE, noteMissingOnCxone } from '../../src/shared/campaign-missing.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { pollSchedulerId } from '../../src/shared/polling/schedulers.js';
import { processActivate } from '../../src/workers/launch-worker.js';
import { campaignConfig, startStack, type Stack } from '../e2e/stack.js';
import { recordingLogger } from '../support/log-capture.js';
import { fakeActivationJob, launchWorkerDeps } from './activation-job.js';
import { scheduledWithRecord } from './watched.js';

/**
 * A scheduled campaign deleted on CXone before its start (here: the sandbox forgets its campaigns, as
 * a restarted one does). Its activation job looks at it every couple of minutes until the start; the
 * disappearance is told once — one warning, one `campaign_missing`, one `campaign.missing` — not at
 * every look, and at the start the activation gives up at once, saying why, with nothing activated
 * or polled. Real Redis, the sandbox over HTTP.
 */
describe('a scheduled campaign deleted on CXone before its start', () => {
  const { logger, lines } = recordingLogger();
  let shiftMs = 0;
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      api: false,
      ctxOverrides: () => ({ logger, clock: { now: () => Date.now() + shiftMs } }),
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A campaign scheduled to start in two days, with its launch and record; its start and ids. */
  const scheduledInTwoDays = async () => {
    const startMs = Date.now() + 2 * 86_400_000;
    const startDateTime = new Date(startMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const config = campaignConfigSchema.parse(campaignConfig({ startDateTime }));
    const { created, launchId, deps } = await scheduledWithRecord(stack.ctx, { config });
    return { startMs, id: created.id, launchId, campaigns: deps.campaigns, launches: deps.launches };
  };

  /** The sandbox forgets its campaigns, as a restarted one does. */
  const deleteAllOnCxone = async () => {
    const reset = await fetch(`${stack.sandbox.url}/__sandbox/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
  };

  /** One look of the activation job before the start, putting the job back for another; returns when that is due. */
  const lookBeforeStart = async (id: string, launchId: string) => {
    const { job, delayedTo } = fakeActivationJob(id, launchId);
    await expect(processActivate(launchWorkerDeps(stack.ctx), job, 'token')).rejects.toBeInstanceOf(
      DelayedError,
    );
    expect(delayedTo).toHaveLength(1);
    return delayedTo[0]!;
  };

  it('is told once, looked at quietly until its start, then not activated, its launch saying why', async () => {
    const { startMs, id, launchId, campaigns, launches } = await scheduledInTwoDays();

    // Gone from CXone before its start.
    await deleteAllOnCxone();
    await expect(stack.ctx.cxone.getCampaign(id)).rejects.toMatchObject({ status: 404 });

    const ofCampaign = () => lines.filter((l) => l.campaignId === id);
    const trail = async () =>
      (await (stack.ctx.audit as AuditTrailStore).list(id)).map((r) => [r.action, r.actor]);
    const events = async () =>
      (await (stack.ctx.events as EventPublisherStore).recent(20, id)).map((e) => e.type).reverse();

    // Five looks before the start, as the job makes them every couple of minutes.
    for (let look = 0; look < 5; look++) {
      // Looked at again before the start: should CXone answer for it again, it is still watched.
      expect(await lookBeforeStart(id, launchId)).toBeLessThan(startMs);
    }
    const warned = ofCampaign().filter((l) => l.level >= 40);
    expect(warned.map((l) => [l.msg, l.seenBy])).toEqual([[CAMPAIGN_MISSING_MESSAGE, 'activation']]);
    expect(await trail()).toEqual([['campaign_missing', 'worker:launch']]);
    expect(await events()).toEqual(['campaign.missing']);
    expect((await campaigns.get(id))?.missingOnCxone?.since).toBeDefined();
    expect((await launches.get(launchId))?.activationError).toBeUndefined();

    // Its start: one look more finds it still unknown, and the activation gives up, on its first try.
    shiftMs = startMs - Date.now() + 60_000;
    const seenBefore = ofCampaign().length;
    const atStart = fakeActivationJob(id, launchId);
    await expect(processActivate(launchWorkerDeps(stack.ctx), atStart.job, 'token')).rejects.toMatchObject({
      name: 'UnrecoverableError',
    });
    expect(atStart.delayedTo).toEqual([]);
    const since = (await campaigns.get(id))?.missingOnCxone?.since;
    const reason = (await launches.get(launchId))?.activationError;
    expect(reason).toContain(
      `campaign ${id} no longer exists on CXone (it has answered 404 for it since ${since}`,
    );
    expect(reason).toContain('not activated at its start and not polled');
    expect((await campaigns.get(id))?.activationFailed?.reason).toBe(reason);
    expect(await trail()).toEqual([
      ['campaign_missing', 'worker:launch'],
      ['launch_failed', 'worker:launch'],
    ]);
    expect(await events()).toEqual(['campaign.missing', 'campaign.launch.failed']);
    // Already told at warn: its end is no error, and claims no campaign "stays scheduled on CXone".
    const atStartLines = ofCampaign().slice(seenBefore);
    expect(atStartLines.filter((l) => l.level >= 50)).toEqual([]);
    expect(atStartLines.map((l) => l.msg).join('\n')).not.toMatch(/stays scheduled/);
    expect(await stack.ctx.queues.poll.getJobScheduler(pollSchedulerId(id))).toBeUndefined();
  });

  it('noted missing while CXone answers for it again: the next look clears the note, and a deletion after it is told', async () => {
    shiftMs = 0;
    const { id, launchId, campaigns } = await scheduledInTwoDays();
    const trail = async () => (await (stack.ctx.audit as AuditTrailStore).list(id)).map((r) => r.action);

    // An earlier look met a 404 (a tenant misconfigured for a while, since fixed); CXone knows it again.
    const firstSince = await noteMissingOnCxone(stack.ctx, id, 'activation');
    expect(firstSince).not.toBeNull();
    await lookBeforeStart(id, launchId);
    // Its view no longer says CXone does not know it, nor will the start's activated campaign's.
    expect((await campaigns.get(id))?.missingOnCxone).toBeUndefined();

    // Then really deleted: told again, not swallowed by the first note.
    shiftMs = 1_000;
    await deleteAllOnCxone();
    await lookBeforeStart(id, launchId);
    const since = (await campaigns.get(id))?.missingOnCxone?.since;
    expect(since).toBeDefined();
    expect(since).not.toBe(firstSince);
    expect(await trail()).toEqual(['campaign_missing', 'campaign_missing']);
  });
});
