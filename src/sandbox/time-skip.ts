import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { CampaignDialers } from './campaign-dialers.js';
import type { SimulatedTime } from './sim-time.js';

/**
 * How far simulated time moves at a time during a long skip before the dialers are run up to it and
 * the event loop is let go: a quarter of an hour of a 20-agent campaign is a few milliseconds.
 */
export const SKIP_CHUNK_MS = 15 * 60_000;

/**
 * Skips simulated time forward by `ms`, a chunk at a time, running every campaign's dialer up to
 * each chunk's end and yielding between campaigns. Skipped in one go, the dialers ran the whole
 * stretch at the next stats read in one synchronous call — seconds per simulated day per campaign —
 * and the sandbox answered nothing meanwhile. The statistics are the model's own either way: it is
 * run forward in steps, as stats reads always run it, over the same stretch. A request served during
 * the skip sees simulated time part of the way there. A reset during the skip ends it (the rest
 * would land on the new timeline).
 */
export async function skipGradually(
  simTime: SimulatedTime,
  dialers: CampaignDialers,
  ms: number,
  chunkMs = SKIP_CHUNK_MS,
): Promise<void> {
  const epoch = simTime.epoch;
  let left = ms;
  while (left > 0 && simTime.epoch === epoch) {
    const ids = dialers.campaignIds();
    // Nothing dials: nothing to run, the rest in one skip.
    const step = ids.length === 0 ? left : Math.min(chunkMs, left);
    simTime.skip(step);
    left -= step;
    for (const id of ids) {
      if (simTime.epoch !== epoch) return;
      dialers.advance(id);
      await yieldToEventLoop();
    }
  }
}

/**
 * Runs one campaign's dialer (and its skill group's) up to the current simulated time a chunk at a
 * time, yielding between chunks, before a request reads or changes the campaign. Its models lag by
 * however long nothing asked for them: read after an idle spell in a sandbox running at a large
 * SANDBOX_TIME_SCALE (an hour at 10 000× is 417 simulated days), the whole stretch ran in the read's
 * one synchronous call and the sandbox answered nothing meanwhile. The last stretch, under a chunk,
 * is left to the read itself. A reset ends it, as it ends a skip.
 */
export async function catchUpGradually(
  simTime: SimulatedTime,
  dialers: CampaignDialers,
  id: string,
  chunkMs = SKIP_CHUNK_MS,
): Promise<void> {
  const epoch = simTime.epoch;
  while (simTime.epoch === epoch && dialers.stepTowardNow(id, chunkMs)) await yieldToEventLoop();
}
