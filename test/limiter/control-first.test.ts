import { afterEach, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { computeSpacing } from '../../src/shared/limiter/spacing.js';
import { limiterFleets } from './fleet-helpers.js';

const EP = CXONE_ENDPOINTS.getStats;
/** minTime 225 ms, 2 promised slots: what is queued in a process stays queued for a whole spacing. */
const PER_WINDOW = 10;
const WINDOW_MS = 2_000;

const fleets = limiterFleets('prio', PER_WINDOW, WINDOW_MS);

afterEach(() => fleets.close());

/**
 * Across processes, control goes first through the Redis registry of waiting control calls (the
 * overtaking test in fleet-limiter.test.ts), which says nothing about the order inside one process:
 * there the process's own Bottleneck queue decides, by the priority each permit is queued at. With
 * control queued at the polls' priority that queue is first come, first served, and a pause asked
 * after a poll went in behind it — which the cross-instance test cannot see, its control call being
 * alone in its process. This one asserts the order of grants, not how long anything took.
 */
describe('control before polls inside one process (real Redis)', () => {
  it('grants a control call before the polls its own process queued ahead of it', async () => {
    expect(computeSpacing(PER_WINDOW, WINDOW_MS)).toMatchObject({ leaseSlots: 1, maxConcurrent: 2 });
    const [limiter] = fleets.start(1);
    const grants: string[] = [];
    const call = (label: string, priority: 'control' | 'poll') =>
      limiter!.schedule(EP, priority, async () => void grants.push(label));

    // Two control calls take the promised slots, two more wait in the process's queue, so polls
    // asked for after them cannot be promised a slot before the next spacing.
    const controls = ['control-1', 'control-2', 'control-3', 'control-4'].map((l) => call(l, 'control'));
    await controls[0];
    const polls = Array.from({ length: 4 }, (_, i) => call(`poll-${i + 1}`, 'poll'));
    // One spacing later the polls have long been queued (a few Redis round trips) and none has
    // been granted; the pause arrives behind them.
    await controls[1];
    expect(grants).toEqual(['control-1', 'control-2']);
    const pause = call('pause', 'control');
    await Promise.all([...controls, ...polls, pause]);

    const beforePause = grants.slice(0, grants.indexOf('pause'));
    expect(beforePause.filter((l) => l.startsWith('poll'))).toEqual([]);
    expect(grants).toHaveLength(9);
  });
});
