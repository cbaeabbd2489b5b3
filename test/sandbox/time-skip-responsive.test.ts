import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import { activeCampaign, call, campaignStats, createBody, patch, start, tokenFor } from './helpers.js';

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

/**
 * Nothing asked for a campaign for a long spell (a sandbox at a large SANDBOX_TIME_SCALE left alone:
 * an hour at 10 000× is 417 simulated days): the next stats read or change of it ran the whole spell
 * in one synchronous call, and the sandbox answered nothing meanwhile. A hand-moved clock stands for
 * the spell here.
 */
describe('a campaign read or changed after a long idle spell', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  /**
   * Runs `request` while another client reads the campaign every 5 ms; how long it took and the
   * longest the event loop went without a turn meanwhile (the sandbox runs in this process: a probe
   * read that happened to be waiting on its timer when a synchronous run began measured none of it).
   */
  async function probed<T>(
    id: string,
    token: string,
    request: () => Promise<T>,
  ): Promise<{ result: T; stalledMs: number; probes: number; took: number }> {
    const statuses = new Set<number>();
    let probes = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        statuses.add((await call(sandbox!, 'GET', `/api/v2/campaigns/${id}`, { token })).status);
        probes += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    let last = performance.now();
    let stalledMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      stalledMs = Math.max(stalledMs, now - last);
      last = now;
    }, 2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const began = performance.now();
    const result = await request();
    const took = performance.now() - began;
    clearInterval(ticker);
    stalledMs = Math.max(stalledMs, performance.now() - last);
    probing = false;
    await probe;
    expect([...statuses]).toEqual([200]);
    return { result, stalledMs, probes, took };
  }

  /** A sandbox on a hand-moved clock with an active 200-agent campaign, before any idle spell. */
  async function idleCampaign() {
    const clock = new ManualClock(Date.now());
    const running = await start({ clock, rateLimit: { perWindow: 100_000, windowMs: 60_000 } });
    sandbox = running;
    const body = createBody();
    body.dialerSettings.agentCapacity = 200;
    return { clock, body, running, ...(await activeCampaign(running, await tokenFor(running), body)) };
  }

  /**
   * The event loop never went a third of the request's time without a turn (nor 2 s): the work ran in
   * steps, other requests in between. In one synchronous piece it is the whole of it.
   */
  function expectNoStall(run: { stalledMs: number; took: number }): void {
    expect(run.stalledMs).toBeLessThan(Math.min(run.took / 3, 2_000));
  }

  it('keeps answering other requests while it catches up, and counts the whole spell', async () => {
    const { clock, id, version, running } = await idleCampaign();

    clock.advance(4 * DAY);
    // The first token has long expired.
    const token = await tokenFor(running);
    const read = await probed(id, token, () => campaignStats(running, token, id));
    // Four days of 200 agents: hundreds of thousands of dials (about 0.3 s of work in one piece).
    expect(read.result.totalCalls).toBeGreaterThan(200_000);
    expect(read.probes).toBeGreaterThan(3);
    expectNoStall(read);

    clock.advance(4 * DAY);
    const token2 = await tokenFor(running);
    const paused = await probed(id, token2, () => patch(running, token2, id, version, { status: 'paused' }));
    expect(paused.result.status).toBe(200);
    expectNoStall(paused);
    // The spell before the pause was dialed (at the settings then in force), and nothing after it.
    const after = await campaignStats(running, token2, id);
    expect(after.totalCalls).toBeGreaterThan(1.7 * read.result.totalCalls);
    clock.advance(DAY);
    const token3 = await tokenFor(running);
    expect((await campaignStats(running, token3, id)).totalCalls - after.totalCalls).toBeLessThan(200);
  }, 60_000);

  it("catches up a skill group's campaigns before another joins it", async () => {
    const { clock, id, running } = await idleCampaign();

    clock.advance(4 * DAY);
    const token = await tokenFor(running);
    // A second campaign on the same skill group joins its pool at now: the first one's four days ran
    // first, in one synchronous call at the activation.
    const joined = await probed(id, token, () => activeCampaign(running, token));
    expectNoStall(joined);
    expect((await campaignStats(running, token, id)).totalCalls).toBeGreaterThan(200_000);
  }, 60_000);

  it('catches up before the control surface changes the directory or a campaign as the console', async () => {
    const { clock, id, body, running } = await idleCampaign();

    clock.advance(4 * DAY);
    let token = await tokenFor(running);
    const list = { id: body.targetListId, name: 'Re-scored list', contactRate: 0.2 };
    const directory = await probed(id, token, () =>
      call(running, 'POST', '/__sandbox/directory', { body: { targetLists: [list] } }),
    );
    expect(directory.result.status).toBe(200);
    expectNoStall(directory);

    clock.advance(4 * DAY);
    token = await tokenFor(running);
    const consoled = await probed(id, token, () =>
      call(running, 'POST', `/__sandbox/campaigns/${id}/console`, {
        body: { dialerSettings: { callRate: 0.4 } },
      }),
    );
    expect(consoled.result.status).toBe(200);
    expectNoStall(consoled);
    expect((await campaignStats(running, token, id)).totalCalls).toBeGreaterThan(400_000);
  }, 60_000);
});
