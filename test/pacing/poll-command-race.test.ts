import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { CampaignStore } from '../../src/shared/campaign-store.js';
import type { AppContext } from '../../src/shared/context.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { createCommandStore, type CommandRecord } from '../../src/shared/lifecycle/commands.js';
import {
  campaignLockKey,
  DEFAULT_LEASE_MS,
  tryAcquireCampaignLock,
} from '../../src/shared/lifecycle/lock.js';
import { CommandAcceptedAheadError, enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createCommandOrder, pendingKey } from '../../src/shared/lifecycle/order.js';
import { applyPacing } from '../../src/shared/pacing/apply.js';
import { pacingDecisions } from '../../src/shared/metrics.js';
import { readPacingRecord } from '../../src/shared/pacing/record.js';
import { pacingTurn } from '../../src/shared/pacing/turn.js';
import { runPollCycle, type PollOutcome } from '../../src/shared/polling/poll-cycle.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { waitFor } from '../e2e/stack.js';
import { startHarness, testCampaignConfig, withHookBeforeWrite, type Harness } from '../lifecycle/harness.js';
import { pacedCampaign, pacingOf, predictive } from './paced-campaign.js';

/**
 * A poll that read the campaign before a command wrote it and decides after: the adjust worker with
 * the real hooks and a poll, against the sandbox over real HTTP and real Redis, interleaved with gates
 * (the poll holds its statistics until the command has run, or the command holds its CXone write
 * until the poll has decided), not sleeps.
 */
let h: Harness;
let worker: Worker;
/** The command's CXone writes, with a hook before the next one (armed per test). */
let commandCxone: ReturnType<typeof withHookBeforeWrite>;
let beforeCommandWrite: () => Promise<void> = async () => undefined;

beforeAll(async () => {
  h = await startHarness();
  commandCxone = withHookBeforeWrite(h.ctx.cxone, () => beforeCommandWrite());
  worker = createAdjustWorker({ ...h.ctx, cxone: commandCxone } as typeof h.ctx);
  await worker.waitUntilReady();
});

afterAll(async () => {
  await worker?.close();
  await h?.close();
});

/**
 * A poll whose statistics are read from CXone at once but handed over only when `release` is called:
 * what it read is from before whatever happens meanwhile.
 */
function heldPoll(campaignId: string) {
  let reached: () => void = () => undefined;
  let release: () => void = () => undefined;
  const statsRead = new Promise<void>((r) => (reached = r));
  const gate = new Promise<void>((r) => (release = r));
  const cxone: CxoneApi = {
    ...h.ctx.cxone,
    getCampaign: (id, opts) => h.ctx.cxone.getCampaign(id, opts),
    getStats: async (id, opts) => {
      const stats = await h.ctx.cxone.getStats(id, opts);
      reached();
      await gate;
      return stats;
    },
  };
  const outcome = runPollCycle({ ...h.ctx, cxone } as AppContext, campaignId);
  return { statsRead, release, outcome };
}

async function runCommand(request: {
  campaignId: string;
  action?: 'pause' | 'resume';
  patch?: Record<string, unknown>;
}): Promise<string> {
  const [commandId] = await h.enqueueInOrder([{ actor: 'api:alice', reason: 'operator', ...request }]);
  const record = await settled(request.campaignId, commandId!);
  expect(record.status).toBe('succeeded');
  return commandId!;
}

/**
 * The command's outcome once it has also left its campaign's order: the adjust worker records the
 * outcome first and lets go of the campaign's lock and its place in the order after, so a poll that
 * went on at the outcome alone could find the lock still held (and defer) at random.
 */
async function settled(campaignId: string, commandId: string): Promise<CommandRecord> {
  const record = await h.waitForCommand(commandId);
  await waitFor("the command to leave its campaign's order", async () =>
    (await createCommandOrder(h.ctx).pending(campaignId)).includes(commandId) ? undefined : true,
  );
  return record;
}

/**
 * Redis whose next registration of a command in `campaignId`'s order (order.ts's script, the only one
 * run on that key) first awaits `seam`: the place between the turn's read of the order and the
 * registration of pacing's change.
 */
function seamBeforeRegister(redis: Redis, campaignId: string, seam: () => Promise<void>): Redis {
  const orderKey = pendingKey(h.ctx.keys, campaignId);
  let armed = true;
  return new Proxy(redis, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const call = (value as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'evalsha' && prop !== 'eval') return call;
      return async (...args: unknown[]) => {
        if (armed && args[2] === orderKey) {
          armed = false;
          await seam();
        }
        return call(...args);
      };
    },
  });
}

const pacingOfOutcome = (outcome: PollOutcome) => (outcome.kind === 'polled' ? outcome.pacing : null);

describe('a poll that read the campaign before a command wrote it', () => {
  it('does not store its memory over the safe start a raise of agentCapacity carried, nor decide on the old rate', async () => {
    const campaign = await pacedCampaign(h, 'active', 100, 0.6);
    const poll = heldPoll(campaign.id);
    await poll.statsRead;

    const commandId = await runCommand({
      campaignId: campaign.id,
      patch: { dialerStrategy: { agentCapacity: 200 } },
    });
    const carried = await pacingOf(h, campaign.id);
    expect(carried).toMatchObject({
      state: { callRate: 0.1, anchor: { requestedCallRate: 0.6, startCallRate: 0.1, agents: 200 } },
      pendingCommandId: commandId,
    });

    poll.release();
    const outcome = await poll.outcome;
    expect(pacingOfOutcome(outcome)).toMatchObject({ kind: 'deferred' });
    // The command's memory stands: the next poll re-anchors from the safe start on the new team.
    expect(await pacingOf(h, campaign.id)).toEqual(carried);
    // And nothing was queued from the rate the campaign ran at before the command.
    expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([]);
    expect((await h.ctx.cxone.getCampaign(campaign.id)).dialerSettings.callRate).toBe(0.1);

    // The next poll, on statistics read after the command, paces on from the command's memory: from
    // the safe start, with the anchor that re-anchors it up towards the rate it ran at.
    const next = pacingOfOutcome(await runPollCycle(h.ctx, campaign.id));
    expect(next).toMatchObject({ kind: 'decided', decision: { previousCallRate: 0.1 } });
    expect((await pacingOf(h, campaign.id)).state?.anchor).toMatchObject({
      requestedCallRate: 0.6,
      agents: 200,
    });
  });

  it('does not decide for, nor store pacing state of, a campaign paused after its statistics were read', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const before = await pacingOf(h, campaign.id);
    const poll = heldPoll(campaign.id);
    await poll.statsRead;

    await runCommand({ campaignId: campaign.id, action: 'pause' });

    poll.release();
    expect(pacingOfOutcome(await poll.outcome)).toMatchObject({ kind: 'deferred' });
    expect(await pacingOf(h, campaign.id)).toEqual(before);
    expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([]);
  });

  it('leaves pacing to the next poll while a command is at work on the campaign', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const before = await pacingOf(h, campaign.id);
    const poll = heldPoll(campaign.id);
    await poll.statsRead;

    // The command holds the campaign (its lock) and is about to write CXone when the poll decides.
    let pollOutcome: PollOutcome | undefined;
    beforeCommandWrite = async () => {
      poll.release();
      pollOutcome = await poll.outcome;
    };
    commandCxone.arm(campaign.id);
    try {
      await runCommand({ campaignId: campaign.id, action: 'pause' });
    } finally {
      beforeCommandWrite = async () => undefined;
      commandCxone.arm('');
    }
    expect(pollOutcome && pacingOfOutcome(pollOutcome)).toMatchObject({ kind: 'deferred' });
    expect(await pacingOf(h, campaign.id)).toEqual(before);
    expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([]);
  });

  it('defers while a pause is queued, not yet run, ahead of it, and paces the paused campaign once the pause ran', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const before = await pacingOf(h, campaign.id);
    // The adjust worker takes no job: the operator's pause waits in the queue, unstarted, while the
    // poll reads the campaign (still active at 0.5) and comes to its pacing step.
    await worker.pause();
    let pauseId: string;
    try {
      [pauseId] = (await h.enqueueInOrder([
        { campaignId: campaign.id, actor: 'api:alice', reason: 'operator', action: 'pause' },
      ])) as [string];
      const outcome = await runPollCycle(h.ctx, campaign.id);
      expect(outcome).toMatchObject({ kind: 'polled', status: 'active' });
      expect(pacingOfOutcome(outcome)).toMatchObject({
        kind: 'deferred',
        reason: expect.stringContaining(pauseId),
      });
      // Nothing decided, stored or queued behind the pause from the campaign as it ran before it.
      expect(await pacingOf(h, campaign.id)).toEqual(before);
      expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([pauseId]);
    } finally {
      worker.resume();
    }
    expect((await settled(campaign.id, pauseId)).status).toBe('succeeded');

    // The next poll finds the campaign paused and decides on it as the pause left it: the paused
    // campaign is brought down to the safe start it will resume at.
    const next = await runPollCycle(h.ctx, campaign.id);
    expect(next).toMatchObject({ kind: 'polled', status: 'paused' });
    const decided = pacingOfOutcome(next);
    expect(decided).toMatchObject({
      kind: 'decided',
      decision: { previousCallRate: 0.5, callRate: 0.1, direction: 'down' },
    });
    const dropId = (decided as { commandId: string }).commandId;
    expect((await settled(campaign.id, dropId)).status).toBe('succeeded');
    const resource = await h.ctx.cxone.getCampaign(campaign.id);
    expect(resource).toMatchObject({ status: 'paused', dialerSettings: { callRate: 0.1 } });
  });

  it("still brings a campaign down to the guard's cap while its step defers behind a queued command, once", async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const before = await pacingOf(h, campaign.id);
    await worker.pause();
    let pauseId: string;
    let capId: string;
    try {
      [pauseId] = (await h.enqueueInOrder([
        { campaignId: campaign.id, actor: 'api:alice', reason: 'operator', action: 'pause' },
      ])) as [string];
      const record = (await new CampaignStore(h.ctx).get(campaign.id))!;
      const stats = await h.ctx.cxone.getStats(campaign.id);
      const throttle = { maxCallRate: 0.3, reason: 'abandonment 2.6% over the 2% target' };
      const input = { record, stats, efficiency: null, throttle };
      const downs = async () =>
        (await pacingDecisions.get()).values.find(
          (v) => v.labels.strategy === 'abandonment-target' && v.labels.direction === 'down',
        )?.value ?? 0;
      const downsBefore = await downs();
      const paced = await applyPacing(h.ctx, input);
      expect(paced).toMatchObject({ kind: 'deferred', reason: expect.stringContaining(pauseId) });
      // Audited and published as a pacing decision, and counted as one.
      expect(await downs()).toBe(downsBefore + 1);
      capId = (paced as { guardCapCommandId?: string }).guardCapCommandId!;
      expect(capId).toBeDefined();
      expect(await createCommandStore(h.ctx).get(capId)).toMatchObject({
        reason: 'abandonment-guard',
        patch: { dialerStrategy: { callRate: 0.3 } },
        base: { 'dialerStrategy.callRate': 0.5 },
      });
      // The guard's cap waits behind the pause, not for a poll after it; pacing's memory is untouched.
      expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([pauseId, capId]);
      expect(await pacingOf(h, campaign.id)).toEqual(before);
      // A second deferred poll finds the cap on its way and queues no other.
      const again = await applyPacing(h.ctx, input);
      expect(again).toMatchObject({ kind: 'deferred' });
      expect(again).not.toHaveProperty('guardCapCommandId');
      expect(await downs()).toBe(downsBefore + 1);
      expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([pauseId, capId]);
    } finally {
      worker.resume();
    }
    expect((await settled(campaign.id, pauseId)).status).toBe('succeeded');
    expect((await settled(campaign.id, capId)).status).toBe('succeeded');
    expect(await h.ctx.cxone.getCampaign(campaign.id)).toMatchObject({
      status: 'paused',
      dialerSettings: { callRate: 0.3 },
    });
  });

  it("defers when a command is accepted between the turn's read of the order and its own enqueue: its change is not queued behind it", async () => {
    const campaign = await pacedCampaign(h, 'paused', 20, 0.5);
    const before = await pacingOf(h, campaign.id);
    // The adjust worker takes no job, so the order holds what was accepted, unchanged by any run.
    await worker.pause();
    let resumeId: string | undefined;
    try {
      // The paused poll's drop to the safe start is decided; just before it registers, an operator's
      // resume is accepted (it takes no lock to be accepted).
      const redis = seamBeforeRegister(h.ctx.redis, campaign.id, async () => {
        [resumeId] = await h.enqueueInOrder([
          { campaignId: campaign.id, actor: 'api:alice', reason: 'operator', action: 'resume' },
        ]);
      });
      const outcome = await runPollCycle({ ...h.ctx, redis } as AppContext, campaign.id);
      expect(resumeId).toBeDefined();
      expect(outcome).toMatchObject({ kind: 'polled', status: 'paused' });
      expect(pacingOfOutcome(outcome)).toMatchObject({
        kind: 'deferred',
        reason: expect.stringContaining(resumeId!),
      });
      // Nothing queued behind the resume, nothing stored or audited of a decision that was not sent.
      expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([resumeId]);
      expect(await pacingOf(h, campaign.id)).toEqual(before);
      const trail = await (h.ctx.audit as AuditTrailStore).list(campaign.id);
      expect(trail.some((r) => r.action === 'pacing_decision')).toBe(false);
    } finally {
      worker.resume();
    }
    // The resume runs as accepted, carrying its own safe start.
    expect((await settled(campaign.id, resumeId!)).status).toBe('succeeded');
    expect(await h.ctx.cxone.getCampaign(campaign.id)).toMatchObject({
      status: 'active',
      dialerSettings: { callRate: 0.1 },
    });
  });

  it('is not held by a command left in the order whose job is gone: it decides, and its change runs after the adjust worker drops that one', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    // A command accepted a minute ago whose job was lost (never queued, or removed): still first in
    // the campaign's order, which only the next command's turn clears.
    const lost = `cmd_lost_${campaign.id}`;
    const requestedAt = new Date(h.ctx.clock.now() - 60_000).toISOString();
    await createCommandStore(h.ctx).create({
      commandId: lost,
      campaignId: campaign.id,
      actor: 'api:alice',
      reason: 'operator',
      action: 'pause',
      status: 'queued',
      requestedAt,
      updatedAt: requestedAt,
      attempts: 0,
    });
    await createCommandOrder(h.ctx).register(campaign.id, lost);

    const paced = pacingOfOutcome(await runPollCycle(h.ctx, campaign.id));
    expect(paced).toMatchObject({ kind: 'decided' });
    const { commandId } = paced as { commandId: string | null };
    if (commandId !== null) expect((await settled(campaign.id, commandId)).status).toBe('succeeded');
    else await createCommandOrder(h.ctx).remove(campaign.id, lost);
    expect(await createCommandOrder(h.ctx).pending(campaign.id)).toEqual([]);
  });

  it('takes no turn on the campaign when it has nothing to write: a paused campaign at its safe start, pacing off', async () => {
    const atStart = await h.campaign('paused', predictive(20, 0.1));
    const off = await h.campaign(
      'active',
      testCampaignConfig({ pacing: { strategy: 'off', targetAbandonment: 0.025, pollIntervalMs: 15_000 } }),
    );
    await new CampaignStore(h.ctx).patch(off.id, { pacing: readPacingRecord(null, 'off') });
    // A command holds both campaigns: a step that took its turn would be deferred.
    const leases = await Promise.all(
      [atStart.id, off.id].map((id) => tryAcquireCampaignLock({ ...h.ctx, owner: 'test:command' }, id)),
    );
    try {
      expect(leases.every((l) => l !== null)).toBe(true);
      expect(await runPollCycle(h.ctx, atStart.id)).toMatchObject({
        kind: 'polled',
        status: 'paused',
        pacing: null,
      });
      expect(await runPollCycle(h.ctx, off.id)).toMatchObject({
        kind: 'polled',
        status: 'active',
        pacing: { kind: 'off' },
      });
    } finally {
      await Promise.all(leases.map((l) => l?.release()));
    }
  });

  it('a turn that outlived its lease writes nothing: past the certain part of the lease the fence asks Redis', async () => {
    const campaign = await pacedCampaign(h, 'active', 20, 0.5);
    const seen = (await new CampaignStore(h.ctx).get(campaign.id))!;
    let monotonic = 0;
    let wrote = false;
    const outcome = await pacingTurn(
      h.ctx,
      seen,
      async (_record, fence) => {
        // The process stalls past its lease; a command takes the campaign meanwhile.
        monotonic += DEFAULT_LEASE_MS;
        await h.ctx.redis.del(campaignLockKey(h.ctx.keys, campaign.id));
        const command = await tryAcquireCampaignLock({ ...h.ctx, owner: 'test:command' }, campaign.id);
        try {
          await fence();
          wrote = true;
        } finally {
          await command?.release();
        }
      },
      { monotonicNow: () => monotonic },
    );
    expect(outcome).toEqual({ kind: 'deferred', reason: 'its turn on the campaign lapsed' });
    expect(wrote).toBe(false);
  });
});

describe("enqueueCommand's onlyBehind", () => {
  const operator = (campaignId: string) => ({
    campaignId,
    actor: 'api:alice',
    reason: 'operator',
    patch: { dialerStrategy: { callRate: 0.4 } },
  });

  it('queues behind the commands it names, and refuses, naming it, a command it does not', async () => {
    const campaign = await h.campaign('active', predictive(20, 0.5));
    const order = createCommandOrder(h.ctx);
    await worker.pause();
    try {
      const [known] = await h.enqueueInOrder([operator(campaign.id)]);
      const { commandId: behind } = await enqueueCommand(h.ctx, operator(campaign.id), {
        onlyBehind: [known!],
      });
      expect(await order.pending(campaign.id)).toEqual([known, behind]);

      let refused: unknown;
      let refusedId: string | undefined;
      await enqueueCommand(h.ctx, operator(campaign.id), {
        onlyBehind: [known!],
        onCommandId: (id) => (refusedId = id),
      }).catch((err: unknown) => (refused = err));
      expect(refused).toBeInstanceOf(CommandAcceptedAheadError);
      expect(refused).toMatchObject({ campaignId: campaign.id, commandId: refusedId, others: [behind] });
      // Not queued, and nothing of it left behind: no record (a `failed` one no listing shows would
      // sit for the record's 7-day TTL), no key of any kind naming it.
      expect(await order.pending(campaign.id)).toEqual([known, behind]);
      expect(await h.ctx.queues.adjust.getJob(refusedId!)).toBeUndefined();
      expect(await createCommandStore(h.ctx).get(refusedId!)).toBeNull();
      expect(await h.ctx.redis.exists(h.ctx.keys.command(refusedId!))).toBe(0);
      const named: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await h.ctx.redis.scan(cursor, 'MATCH', `*${refusedId!}*`, 'COUNT', 10_000);
        named.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      expect(named).toEqual([]);
    } finally {
      worker.resume();
    }
    for (const id of await order.pending(campaign.id)) await settled(campaign.id, id);
  });
});
