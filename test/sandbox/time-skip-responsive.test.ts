import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { activeCampaign, call, campaignStats, start, tokenFor } from './helpers.js';

const DAY = 86_400_000;

/**
 * A skip of simulated days must not stall the sandbox: the dialer models ran the whole stretch in one
 * synchronous go (at the next stats read), seconds per simulated day per campaign, during which
 * the sandbox answered nothing — no token, no read, no health probe of the fleet.
 */
describe('POST /__sandbox/time/skip over days', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('keeps answering other requests while a three-day skip and the stats read after it run', async () => {
    sandbox = await start({ rateLimit: { perWindow: 100_000, windowMs: 60_000 } });
    const token = await tokenFor(sandbox);
    const { id } = await activeCampaign(sandbox, token);
    const simBefore = (await call(sandbox, 'GET', '/__sandbox/time')).body.simNowMs as number;

    const latencies: number[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t0 = performance.now();
        const res = await call(sandbox!, 'GET', `/api/v2/campaigns/${id}`, { token });
        expect(res.status).toBe(200);
        latencies.push(performance.now() - t0);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    await new Promise((resolve) => setTimeout(resolve, 50));
    const began = performance.now();
    const skipped = await call(sandbox, 'POST', '/__sandbox/time/skip', { body: { ms: 3 * DAY } });
    expect(skipped.status).toBe(200);
    expect(skipped.body.simNowMs as number).toBeGreaterThanOrEqual(simBefore + 3 * DAY);
    const stats = await campaignStats(sandbox, token, id);
    const took = performance.now() - began;
    probing = false;
    await probe;

    // Three days of dialing were simulated (a day of a 20-agent campaign is tens of thousands of dials).
    expect(stats.totalCalls).toBeGreaterThan(30_000);
    // Blocked, one probe waited about as long as the whole skip and read took; answered between
    // chunks, each waits a chunk's work at most (a machine under load stretches both alike).
    expect(latencies.length).toBeGreaterThan(5);
    expect(Math.max(...latencies)).toBeLessThan(Math.min(took / 4, 2_000));
  }, 60_000);
});

describe('a reset during a long skip', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('ends the skip: the rest does not land on the fresh timeline', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    await activeCampaign(sandbox, token);
    const skipping = call(sandbox, 'POST', '/__sandbox/time/skip', { body: { ms: 30 * DAY } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await call(sandbox, 'POST', '/__sandbox/reset')).status).toBe(200);
    expect((await skipping).status).toBe(200);
    const time = await call(sandbox, 'GET', '/__sandbox/time');
    expect(time.body.simNowMs as number).toBeLessThan(Date.now() + 60_000);
  }, 60_000);
});
