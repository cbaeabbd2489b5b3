import { describe, expect, it } from 'vitest';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import type { AppContext } from '../../src/shared/context.js';
import type { CampaignResource, UpdateCampaignRequest } from '../../src/shared/cxone/wire.js';
import { CxoneConflictError } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { Deps } from '../../src/workers/launch-deps.js';
import { noteScheduledStart } from '../../src/workers/launch-activation-notes.js';
import {
  safeStartRunning,
  TAKEOVER_SAFE_START_ATTEMPTS,
  takeoverMark,
} from '../../src/workers/launch-takeover.js';
import { campaignConfig } from '../e2e/stack.js';
import { resource } from '../lifecycle/fixtures.js';

/** The takeover's safe start and the scheduled start's note, on their own (no Redis, no sandbox). */

const config = campaignConfigSchema.parse(campaignConfig());
const before = resource({
  id: 'c1',
  version: 5,
  status: 'active',
  dialerSettings: {
    ...resource().dialerSettings,
    strategy: 'predictive',
    callRate: config.dialerStrategy.callRate,
  },
});

/** A CXone that applies every write (or refuses it with `refuse`), keeping the bodies sent. */
const cxoneCtx = (refuse?: Error) => {
  const sent: UpdateCampaignRequest[] = [];
  const ctx = {
    logger: silentLogger,
    cxone: {
      updateCampaign: async (_id: string, version: number, body: UpdateCampaignRequest) => {
        sent.push(body);
        if (refuse) throw refuse;
        return {
          ...before,
          version: version + 1,
          dialerSettings: { ...before.dialerSettings, ...body.dialerSettings },
        } as CampaignResource;
      },
    },
  } as unknown as AppContext;
  return { ctx, sent };
};

describe('safeStartRunning (a campaign someone else activated, brought down to the safe start)', () => {
  it('writes the safe start on the version read, anchored on the rate it was dialing at', async () => {
    const { ctx, sent } = cxoneCtx();
    const { resource: after, safeStart } = await safeStartRunning(ctx, {
      campaignId: 'c1',
      config,
      attempt: 1,
      before,
    });
    expect(safeStart).not.toBeNull();
    expect(sent).toEqual([{ dialerSettings: { callRate: safeStart!.callRate } }]);
    expect(safeStart!.callRate).toBeLessThan(config.dialerStrategy.callRate);
    expect(after.version).toBe(6);
    // Lines dialed at the requested rate may still ring at pacing's first polls: the re-anchor must
    // count them at that rate, not at the start's.
    expect(safeStart!.anchor.priorCallRate).toBe(config.dialerStrategy.callRate);
  });

  it('decides again on the version a 409 re-reads: lowers what still dials above the safe start, leaves the rest', async () => {
    const conflict = () =>
      new CxoneConflictError({ endpoint: 'PATCH /api/v2/campaigns/:id', campaignId: 'c1' }, 6);
    /** A CXone where the operator's change (`now`) beat the takeover's first write (`refusals` of them). */
    const raced = (now: CampaignResource, refusals = 1) => {
      const sent: { version: number; body: UpdateCampaignRequest }[] = [];
      const ctx = {
        logger: silentLogger,
        cxone: {
          getCampaign: async () => now,
          updateCampaign: async (_id: string, version: number, body: UpdateCampaignRequest) => {
            sent.push({ version, body });
            if (sent.length <= refusals) throw conflict();
            return {
              ...now,
              version: version + 1,
              dialerSettings: { ...now.dialerSettings, ...body.dialerSettings },
            };
          },
        },
      } as unknown as AppContext;
      return { ctx, sent };
    };
    const input = { campaignId: 'c1', config, attempt: 1, before };
    // Raised to 0.9 since the read: lowered on the operator's version, anchored on 0.9.
    const raised = { ...before, version: 6, dialerSettings: { ...before.dialerSettings, callRate: 0.9 } };
    const up = raced(raised);
    const lowered = await safeStartRunning(up.ctx, input);
    expect(up.sent.map((w) => w.version)).toEqual([5, 6]);
    expect(lowered.resource.version).toBe(7);
    expect(lowered.safeStart).toMatchObject({ requestedCallRate: 0.9, anchor: { priorCallRate: 0.9 } });
    // Lowered to the safe start (or below) by the operator: left as they set it, nothing claimed.
    const low = { ...before, version: 6, dialerSettings: { ...before.dialerSettings, callRate: 0.1 } };
    const down = raced(low);
    await expect(safeStartRunning(down.ctx, input)).resolves.toEqual({ resource: low, safeStart: null });
    expect(down.sent).toHaveLength(1);
    // Paused since: left paused, nothing written.
    const paused = { ...raised, status: 'paused' as const };
    const held = raced(paused);
    await expect(safeStartRunning(held.ctx, input)).resolves.toEqual({ resource: paused, safeStart: null });
    expect(held.sent).toHaveLength(1);
    // Changing under every try: after TAKEOVER_SAFE_START_ATTEMPTS, the last version read goes to pacing.
    const busy = raced(raised, Infinity);
    await expect(safeStartRunning(busy.ctx, input)).resolves.toEqual({ resource: raised, safeStart: null });
    expect(busy.sent).toHaveLength(TAKEOVER_SAFE_START_ATTEMPTS);
  });

  it('marks each step before it can be lost: pending on a version before its write, refused on a 409, left when it leaves', async () => {
    const conflict = new CxoneConflictError({ endpoint: 'PATCH /api/v2/campaigns/:id', campaignId: 'c1' }, 6);
    const low = { ...before, version: 6, dialerSettings: { ...before.dialerSettings, callRate: 0.1 } };
    const raised = { ...before, version: 6, dialerSettings: { ...before.dialerSettings, callRate: 0.9 } };
    /** Each mark and each write, in the order they happen; the first write refused, the re-read `now`. */
    const steps = async (now: CampaignResource) => {
      const log: string[] = [];
      const ctx = {
        logger: silentLogger,
        cxone: {
          getCampaign: async () => now,
          updateCampaign: async (_id: string, version: number, body: UpdateCampaignRequest) => {
            log.push(`write@${version}`);
            if (log.filter((l) => l.startsWith('write')).length === 1) throw conflict;
            return {
              ...now,
              version: version + 1,
              dialerSettings: { ...now.dialerSettings, ...body.dialerSettings },
            };
          },
        },
      } as unknown as AppContext;
      await safeStartRunning(ctx, {
        campaignId: 'c1',
        config,
        attempt: 1,
        before,
        markedOn: before.version,
        mark: async (r, step) => void log.push(`${step}@${r.version}`),
      });
      return log;
    };
    // The caller marked version 5 pending; the operator's 0.1 since is theirs, left and marked so
    // (a run dying after the 409 finds `refused`, never a write that may have been applied).
    expect(await steps(low)).toEqual(['write@5', 'refused@5', 'left@6']);
    // Raised since: marked pending on the operator's version before the write there is sent.
    expect(await steps(raised)).toEqual(['write@5', 'refused@5', 'pending@6', 'write@6']);
    expect(takeoverMark({ at: 'x', from: 'scheduled' }, raised, 'pending')).toEqual({
      at: 'x',
      from: 'scheduled',
      takenOverFrom: { callRate: 0.9, version: 6 },
      safeStart: 'pending',
    });
    expect(takeoverMark({ at: 'x', from: 'draft' }, raised, 'left')).toEqual({
      at: 'x',
      from: 'draft',
      safeStart: 'left',
    });
  });

  it('lets any other failure of the write through, and writes nothing when the request is already safe', async () => {
    const { ctx } = cxoneCtx(new Error('socket hang up'));
    await expect(safeStartRunning(ctx, { campaignId: 'c1', config, attempt: 1, before })).rejects.toThrow(
      'socket hang up',
    );
    const slow = { ...config, dialerStrategy: { ...config.dialerStrategy, callRate: 0.1 } };
    const quiet = cxoneCtx();
    const slowBefore = { ...before, dialerSettings: { ...before.dialerSettings, callRate: 0.1 } };
    await expect(
      safeStartRunning(quiet.ctx, { campaignId: 'c1', config: slow, attempt: 1, before: slowBefore }),
    ).resolves.toEqual({ resource: slowBefore, safeStart: null });
    expect(quiet.sent).toEqual([]);
  });
});

describe('noteScheduledStart on a redelivery', () => {
  it('notes it, best effort, and neither throws nor announces again when the launch record is gone', async () => {
    const published: string[] = [];
    const notes: string[] = [];
    const deps = {
      ctx: {
        logger: silentLogger,
        clock: { now: () => 0 },
        events: {
          publish: async (type: string) => void published.push(type),
          prepare: () => ({}),
        },
      },
      launches: {
        get: async () => null,
        recordActivation: async (launchId: string) => {
          notes.push(launchId);
          return false;
        },
      },
    } as unknown as Deps;
    await expect(
      noteScheduledStart(deps, { launchId: 'L1', campaignId: 'c1', resource: before, onlyIfUnnoted: true }),
    ).resolves.toBeUndefined();
    expect(notes).toEqual(['L1']);
    expect(published).toEqual([]);
  });

  it('announces the start only when the launch does not show it noted yet', async () => {
    const published: string[] = [];
    const deps = (activatedAt: string | undefined) =>
      ({
        ctx: {
          logger: silentLogger,
          clock: { now: () => 0 },
          events: { publish: async (type: string) => void published.push(type), prepare: () => ({}) },
        },
        launches: {
          get: async () => ({ launchId: 'L1', ...(activatedAt ? { activatedAt } : {}) }),
          // Redis refused the note with its event: the event goes out on its own.
          recordActivation: async () => false,
        },
      }) as unknown as Deps;
    const input = { launchId: 'L1', campaignId: 'c1', resource: before, onlyIfUnnoted: true };
    await noteScheduledStart(deps('2026-01-05T14:00:00.000Z'), input);
    expect(published).toEqual([]);
    await noteScheduledStart(deps(undefined), input);
    expect(published).toEqual(['campaign.state.changed']);
  });
});
