import type { Worker } from 'bullmq';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { CxoneUnavailableError } from '../../src/shared/errors.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { startHarness, testCampaignConfig, type Harness } from './harness.js';

/**
 * What a test arms on `droppingAnswer`'s client: the `armed` campaign's next PATCH is applied, then
 * `afterApplied` runs (a console change, a pause queued meanwhile), then its answer is dropped.
 */
export interface DroppedAnswer {
  armed?: string;
  afterApplied?: (campaignId: string) => Promise<void>;
}

/**
 * The real client, but the armed campaign's next PATCH is answered as a timeout after CXone applied
 * it: the write whose retry cannot know from the answer whether it landed.
 */
export function droppingAnswer(inner: CxoneApi, drop: DroppedAnswer): CxoneApi {
  return {
    createCampaign: (body, opts) => inner.createCampaign(body, opts),
    getCampaign: (id, opts) => inner.getCampaign(id, opts),
    getStats: (id, opts) => inner.getStats(id, opts),
    history: (id, opts) => inner.history(id, opts),
    async updateCampaign(id, version, body, opts) {
      const written = await inner.updateCampaign(id, version, body, opts);
      if (drop.armed !== id) return written;
      drop.armed = undefined;
      await drop.afterApplied?.(id);
      throw new CxoneUnavailableError('timeout of 10000ms exceeded (answer dropped by the test)', {
        endpoint: CXONE_ENDPOINTS.updateCampaign,
        campaignId: id,
      });
    },
  };
}

/** A harness with an adjust worker whose CXone client is `wrap` of the harness's own. */
export async function harnessWithAdjustWorker(
  wrap: (inner: CxoneApi) => CxoneApi,
): Promise<{ h: Harness; worker: Worker }> {
  const h = await startHarness();
  const worker = createAdjustWorker({ ...h.ctx, cxone: wrap(h.ctx.cxone) });
  await worker.waitUntilReady();
  return { h, worker };
}

/** No safe start rides a resume of a progressive campaign: the writes are the command's own. */
export const progressive = testCampaignConfig({
  dialerStrategy: { strategy: 'progressive', agentCapacity: 20, callRate: 0.5, answerRate: 0.3 },
});
