import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/shared/clock.js';
import { SimulatedTime } from '../../src/sandbox/sim-time.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { activeCampaign, campaignStats, start, tokenFor } from './helpers.js';

/**
 * The sandbox's wall clock (Date.now()) can be stepped back by NTP or a VM resuming. Simulated time
 * was once derived from it, and the dialer models only run forward: a second campaign joining its
 * skill group's pool at a simulated instant before the pool's failed with a RangeError (a 500 to the
 * PATCH that activated it, after the activation was stored, leaving an active campaign with no dialer
 * and statistics frozen at zero). It now runs on the monotonic clock (sim-time.ts): these keep a step
 * back (ManualClock's backward advance, which moves the wall clock alone) from ever moving it again.
 */
describe('wall clock stepping back', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('simulated time never runs backwards', () => {
    const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));
    const time = new SimulatedTime(clock, 60);
    clock.advance(10_000);
    const before = time.now();
    clock.advance(-2_000);
    expect(time.now()).toBe(before);
    // A skip moves it on by the whole skip; it runs on from there as the clock does.
    time.skip(5_000);
    expect(time.now()).toBe(before + 5_000);
    clock.advance(3_000);
    expect(time.now()).toBe(before + 185_000);
  });

  it('runs on from where it was after a long step back, not standing still until the clock catches up', () => {
    // Standing still, an hour's step back stopped every dialer for an hour of real time: statistics
    // frozen, as no platform's would be for its client's clock.
    const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));
    const time = new SimulatedTime(clock, 60);
    clock.advance(10_000);
    const before = time.now();
    expect(time.realOf(before)).toBe(clock.now());
    clock.advance(-3_600_000);
    expect(time.now()).toBe(before);
    clock.advance(1_000);
    expect(time.now()).toBe(before + 60_000);
    // Every instant stands for the clock as it reads now, less the time elapsed since: those before
    // the step too (the stepped clock is the corrected one; the reading they had was off by the step).
    expect(time.realOf(before + 30_000)).toBe(clock.now() - 500);
    expect(time.realOf(before - 60_000)).toBe(clock.now() - 2_000);
    // A skip after the step moves it on by the whole skip, and maps to its moment.
    time.skip(600_000);
    expect(time.now()).toBe(before + 660_000);
    expect(time.realOf(before + 300_000)).toBe(clock.now());
    clock.advance(1_000);
    expect(time.now()).toBe(before + 720_000);
    expect(time.realOf(before + 690_000)).toBe(clock.now() - 500);
  });

  it('keeps a campaign dialing through an hour-long step back of the clock', async () => {
    const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));
    sandbox = await start({ clock, timeScale: 60 });
    const token = await tokenFor(sandbox);
    const first = await activeCampaign(sandbox, token);
    clock.advance(60_000);
    const before = (await campaignStats(sandbox, token, first.id)).totalCalls;
    clock.advance(-3_600_000);
    expect((await campaignStats(sandbox, token, first.id)).totalCalls).toBe(before);
    clock.advance(60_000);
    expect((await campaignStats(sandbox, token, first.id)).totalCalls).toBeGreaterThan(before);
  });

  it('a campaign activated after the clock stepped back dials on its shared skill group', async () => {
    const clock = new ManualClock(Date.parse('2026-12-01T15:00:00Z'));
    sandbox = await start({ clock, timeScale: 60 });
    const token = await tokenFor(sandbox);
    const first = await activeCampaign(sandbox, token);
    clock.advance(60_000);
    expect((await campaignStats(sandbox, token, first.id)).totalCalls).toBeGreaterThan(0);
    // NTP steps the wall clock back by a second; the next campaign on the same group starts now.
    clock.advance(-1_000);
    const second = await activeCampaign(sandbox, token);
    clock.advance(60_000);
    const stats = await campaignStats(sandbox, token, second.id);
    expect(stats.status).toBe('active');
    expect(stats.totalCalls).toBeGreaterThan(0);
  });
});
