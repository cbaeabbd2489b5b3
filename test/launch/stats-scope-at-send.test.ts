import { recentEventsKey, type EventPublisherStore } from '../../src/shared/events/publisher.js';
import { DelayedError, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitLaunch } from '../../src/producers/launch-submit.js';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneClient } from '../../src/shared/cxone/client.js';
import { SCOPE_RECHECK_MS } from '../../src/shared/cxone/token-provider.js';
import {
  enforceWindow,
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
} from '../../src/shared/compliance/enforcement.js';
import { complianceKeys, getWindowState } from '../../src/shared/compliance/state-store.js';
import { eventually } from '../compliance/redis-context.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { enqueueCommand } from '../../src/shared/lifecycle/enqueue.js';
import { processActivate, processLaunch } from '../../src/workers/launch-worker.js';
import { startWindowStack, type WindowStack } from '../compliance/window-stack.js';
import { campaignConfig } from '../e2e/stack.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { fakeActivationJob, launchWorkerDeps, succeededLaunch } from './activation-job.js';

/**
 * CXone granting the fleet's OAuth client every scope but the statistics one: every statistics poll
 * would be a 403, the abandonment guard blind. No campaign is started then: a launch's immediate
 * activation fails naming the scope and what to do, while a scheduled campaign's start and the
 * calling window's resume at an open are held — recorded once — until a token has the scope again;
 * pauses, which need only the write scope, still go through. Real Redis, the sandbox over HTTP
 * withholding the scope from every token it issues.
 */
const STATS = 'outbound:campaigns:stats:read';
/** Wednesday noon in New York: inside the campaign's calling window, so a launch activates at once. */
const NOON = '2026-03-04T12:00:00-05:00';
const config = campaignConfigSchema.parse(
  campaignConfig({
    startDateTime: '2026-03-04T09:00:00-05:00',
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00' },
    ],
  }),
);

describe('an activation while the token lacks the statistics scope', () => {
  let stack: WindowStack;
  beforeAll(async () => {
    stack = await startWindowStack({ startIso: NOON });
    // Before the context's first token: every token it is issued lacks the scope.
    await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const status = (id: string) =>
    (stack.sandbox.getCampaignState(id) as { resource: { status: string } }).resource.status;
  const trail = (id: string) => (stack.ctx.audit as AuditTrailStore).list(id);
  /**
   * A new token, as the provider's re-check (SCOPE_RECHECK_MS on the clock) fetches one: asked for
   * here outright, until one comes with (`missing` false) or without the statistics scope — a re-check
   * already in flight may have been answered before the sandbox's grant changed.
   */
  const newToken = async (missing: boolean) => {
    const tokens = (stack.ctx.cxone as CxoneClient).tokens;
    await eventually(async () => {
      const cached = tokens.sendable();
      if (cached) tokens.invalidate(cached);
      await tokens.getToken();
      return (tokens.scopeShortfall() !== undefined) === missing ? true : undefined;
    }, 10_000);
  };

  /** A campaign scheduled on CXone by a succeeded launch, its record synced: a start waiting for its activation. */
  const scheduledCampaign = async () => {
    const created = await stack.ctx.cxone.createCampaign(toCreateCampaignRequest(config));
    const scheduled = await stack.ctx.cxone.updateCampaign(created.id, created.version, {
      status: 'scheduled',
    });
    const launchId = await succeededLaunch(stack.ctx, created.id);
    await createCampaignStore(stack.ctx).syncFromCxone(scheduled, { config, launchId });
    return { created, launchId };
  };
  /** The hold events published for the campaign, oldest first: [type, data]. */
  const holdEvents = async (id: string) =>
    (await (stack.ctx.events as EventPublisherStore).recent(100, id))
      .filter((e) => e.type.startsWith('campaign.compliance.hold.'))
      .reverse()
      .map((e) => [e.type, e.data] as const);
  const activationHolds = async (id: string) =>
    (await trail(id)).filter(
      (r) => r.action === 'compliance_action' && r.details.kind === 'activation_withheld',
    );

  /**
   * An active campaign the window pauses at `closeIso`, its window job fired up to the open it plans
   * next: the open's time, undefined should none be planned.
   */
  const pausedByWindow = async (closeIso: string): Promise<{ id: string; open: number | undefined }> => {
    const { ctx, clock } = stack;
    const id = await stack.activeCampaign(config);
    await scheduleWindowEnforcement(ctx, id);
    await stack.fire(id, closeIso);
    const { pauseCommandId } = await getWindowState(ctx, id);
    expect((await stack.settled(pauseCommandId as string)).status).toBe('succeeded');
    let open: number | undefined;
    for (let firing = 0; firing < 4; firing++) {
      const job = await ctx.queues.compliance.getJob(windowJobId(id));
      const planned = job ? windowJobOf(job) : undefined;
      if (!planned) break;
      if (planned.kind === 'open') {
        open = planned.atMs;
        break;
      }
      await stack.fire(id, new Date(Math.max(planned.atMs, clock.now())).toISOString());
    }
    expect(status(id)).toBe('paused');
    return { id, open };
  };

  /**
   * The next call of `target[method]` whose arguments `matches` fails once, as on a Redis blip;
   * every other call goes through.
   */
  const failOnce = (target: object, method: string, matches: (args: unknown[]) => boolean) => {
    const host = target as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const original = host[method]!;
    const state = { failed: false };
    host[method] = function (this: unknown, ...args: unknown[]) {
      if (!state.failed && matches(args)) {
        state.failed = true;
        return Promise.reject(new Error('redis blip'));
      }
      return original.apply(this, args);
    };
    return {
      state,
      restore: () => {
        host[method] = original;
      },
    };
  };
  /** The next append of a `kind` compliance action to the campaign's log fails once (failOnce). */
  const failRecordOnce = (id: string, kind: string) => {
    const log = complianceKeys(stack.ctx.keys, id).log;
    return failOnce(
      stack.ctx.redis,
      'evalsha',
      (args) => args.includes(log) && args.some((a) => typeof a === 'string' && a.includes(`"${kind}"`)),
    );
  };
  /**
   * The events' stream unusable (a key of another type in its place) until the answer is called: an
   * event announced meanwhile cannot be written with its change, nor alone (its failure logged), while
   * the change is written all the same (event-script.ts). The stream's entries are kept aside.
   */
  const eventsUnusable = async () => {
    const { redis, keys } = stack.ctx;
    const stream = recentEventsKey(keys);
    const aside = `${stream}:aside`;
    const had = (await redis.exists(stream)) === 1;
    if (had) await redis.rename(stream, aside);
    await redis.set(stream, 'not a stream');
    return async () => {
      await redis.del(stream);
      if (had) await redis.rename(aside, stream);
    };
  };
  /**
   * An active campaign the window paused at Friday 21:00 EST, the clock at Saturday's 08:00 EST open,
   * and that open's firing, as the worker fires it (and its retries after it).
   */
  const pausedAtSaturdayOpen = async () => {
    await newToken(true);
    const { id } = await pausedByWindow('2026-03-07T02:00:00Z');
    const open = Date.parse('2026-03-07T13:00:00Z');
    stack.clock.set(open);
    return { id, open, firing: { campaignId: id, kind: 'open' as const, atMs: open } };
  };

  it('a launch due now is not activated: it fails naming the scope, its campaign cancelled', async () => {
    const { launchId } = await submitLaunch(stack.ctx, { config, actor: 'api:test' });
    const job = (await stack.ctx.queues.launch.getJob(launchId)) as Job;

    await expect(processLaunch(launchWorkerDeps(stack.ctx), job)).rejects.toThrow(STATS);

    // The provider knew before the activation left: this is the case under test, not a 403.
    expect((stack.ctx.cxone as CxoneClient).tokens.scopeShortfall()?.missingScopes).toEqual([STATS]);
    const launch = await createLaunchStore(stack.ctx).get(launchId);
    expect(launch).toMatchObject({ status: 'failed' });
    expect(launch?.error).toContain(
      `not activated: CXone did not grant this OAuth client the scope ${STATS}`,
    );
    expect(launch?.error).toContain('in CXone admin');
    const campaignId = launch?.campaignId as string;
    // Never active: the failed launch's cleanup cancelled the campaign it had scheduled.
    expect(status(campaignId)).toBe('cancelled');
    expect((await createCampaignStore(stack.ctx).get(campaignId))?.activationSent).toBeUndefined();
    const actions = (await trail(campaignId)).map((r) => r.action);
    expect(actions).not.toContain('campaign_launched');
    const failed = (await trail(campaignId)).find((r) => r.action === 'launch_failed');
    expect(JSON.stringify(failed?.details)).toContain(STATS);
  });

  it("a scheduled campaign's activation at its start is held, not given up: it stays scheduled, recorded once, and activates once the scope is back", async () => {
    const { created, launchId } = await scheduledCampaign();
    const held = () => activationHolds(created.id);

    const { job, delayedTo } = fakeActivationJob(created.id, launchId);
    const deps = launchWorkerDeps(stack.ctx);
    const heldAt = stack.clock.now();
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    // Nothing sent, nothing failed: the job looks again when the provider re-asks for a token.
    expect(status(created.id)).toBe('scheduled');
    expect(delayedTo).toEqual([heldAt + SCOPE_RECHECK_MS]);
    expect((await createLaunchStore(stack.ctx).get(launchId))?.activationError).toBeUndefined();
    expect((await trail(created.id)).map((r) => r.action)).not.toContain('launch_failed');
    const [record, ...more] = await held();
    expect(more).toEqual([]);
    expect(record?.details).toMatchObject({ rule: 'statistics-scope', missingScopes: [STATS] });
    expect(String(record?.details.reason)).toContain(`Grant ${STATS} to the client`);
    const heldSince = new Date(heldAt).toISOString();
    expect(await holdEvents(created.id)).toEqual([
      [
        'campaign.compliance.hold.placed',
        expect.objectContaining({ kind: 'activation_withheld', rule: 'statistics-scope', heldSince }),
      ],
    ]);

    // Still missing at the next look: held again, not recorded again.
    stack.clock.advance(SCOPE_RECHECK_MS);
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(delayedTo).toHaveLength(2);
    expect(status(created.id)).toBe('scheduled');
    expect(await held()).toHaveLength(1);
    expect(await holdEvents(created.id)).toHaveLength(1);

    // Granted: the next token has it (the provider asks for one after SCOPE_RECHECK_MS), and the start goes.
    await scriptFaults(stack.sandbox, { withholdScopes: [] });
    stack.clock.advance(SCOPE_RECHECK_MS);
    await newToken(false);
    try {
      await expect(processActivate(deps, job, 'token')).resolves.toMatchObject({ outcome: 'succeeded' });
      expect(status(created.id)).toBe('active');
      expect(delayedTo).toHaveLength(2);
      expect(await held()).toHaveLength(1);
      expect((await holdEvents(created.id)).map(([type]) => type)).toEqual([
        'campaign.compliance.hold.placed',
        'campaign.compliance.hold.lifted',
      ]);
      expect((await holdEvents(created.id))[1]![1]).toEqual({
        kind: 'activation_withheld',
        rule: 'statistics-scope',
        missingScopes: [STATS],
        heldSince,
        why: 'scope_granted',
      });
    } finally {
      await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
    }
  });

  it('a pause of a dialing campaign still goes through', async () => {
    const id = await stack.activeCampaign(config);
    const { commandId } = await enqueueCommand(stack.ctx, {
      campaignId: id,
      actor: 'api:ops',
      reason: 'operator',
      action: 'pause',
    });
    expect((await stack.settled(commandId)).status).toBe('succeeded');
    expect(status(id)).toBe('paused');
  });

  it("the calling window's resume at an open is held likewise, and goes once the scope is back", async () => {
    const { ctx, clock } = stack;
    await newToken(true);
    // Thursday 21:00 EST: the window pauses it.
    const { id } = await pausedByWindow('2026-03-05T02:00:00Z');
    const resumes = async () =>
      (await ctx.queues.adjust.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed'])).filter(
        (j) =>
          (j.data as { action?: string; campaignId?: string }).action === 'resume' &&
          j.data.campaignId === id,
      );
    const held = () => stack.complianceRecords(id, 'window_resume_withheld');

    // Thursday 08:00 EST, the open: no resume while the token lacks the scope.
    const open = Date.parse('2026-03-05T13:00:00Z');
    expect(await stack.fire(id, new Date(open).toISOString())).toMatchObject({
      kind: 'verify',
      atMs: open + SCOPE_RECHECK_MS,
    });
    expect(status(id)).toBe('paused');
    expect(await resumes()).toEqual([]);
    const [record, ...more] = await held();
    expect(more).toEqual([]);
    expect(record?.details).toMatchObject({ rule: 'statistics-scope', missingScopes: [STATS] });
    const heldSince = new Date(open).toISOString();
    expect(await holdEvents(id)).toEqual([
      [
        'campaign.compliance.hold.placed',
        expect.objectContaining({ kind: 'window_resume_withheld', rule: 'statistics-scope', heldSince }),
      ],
    ]);
    // Looked at again, still missing: still paused, not recorded again.
    expect(await stack.fire(id, new Date(open + SCOPE_RECHECK_MS).toISOString())).toMatchObject({
      kind: 'verify',
      atMs: open + 2 * SCOPE_RECHECK_MS,
    });
    expect(await resumes()).toEqual([]);
    expect(await held()).toHaveLength(1);
    expect(await holdEvents(id)).toHaveLength(1);

    // Granted: the next look's token has it, and the window resumes the campaign.
    await scriptFaults(stack.sandbox, { withholdScopes: [] });
    try {
      clock.set(open + 2 * SCOPE_RECHECK_MS);
      await newToken(false);
      await stack.fire(id, new Date(open + 2 * SCOPE_RECHECK_MS).toISOString());
      await eventually(async () => (status(id) === 'active' ? true : undefined), 15_000);
      const [resumed] = await stack.complianceRecords(id, 'window_resume');
      expect(resumed?.details.heldForScopeSince).toBe(new Date(open).toISOString());
      expect(await held()).toHaveLength(1);
      expect(await holdEvents(id)).toEqual([
        ['campaign.compliance.hold.placed', expect.objectContaining({ heldSince })],
        [
          'campaign.compliance.hold.lifted',
          {
            kind: 'window_resume_withheld',
            rule: 'statistics-scope',
            missingScopes: [STATS],
            heldSince,
            why: 'scope_granted',
          },
        ],
      ]);
    } finally {
      await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
    }
  });

  it("a scheduled start's hold whose record failed to write is recorded by the next run", async () => {
    const { created, launchId } = await scheduledCampaign();
    await newToken(true);
    const { job } = fakeActivationJob(created.id, launchId);
    const deps = launchWorkerDeps(stack.ctx);
    const blip = failRecordOnce(created.id, 'activation_withheld');
    try {
      const first = await processActivate(deps, job, 'token').catch((err: unknown) => err);
      expect(blip.state.failed).toBe(true);
      expect(first).not.toBeInstanceOf(DelayedError);
    } finally {
      blip.restore();
    }
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(status(created.id)).toBe('scheduled');
    expect(await activationHolds(created.id)).toHaveLength(1);
    // Announced once too: the retry's event goes by the id the hold names.
    expect((await holdEvents(created.id)).map(([type]) => type)).toEqual(['campaign.compliance.hold.placed']);
  });

  for (const told of ['by the next look', 'before its lift'] as const) {
    it(`a scheduled start's hold whose announcement failed is announced ${told}, once`, async () => {
      const { created, launchId } = await scheduledCampaign();
      await newToken(true);
      const { job } = fakeActivationJob(created.id, launchId);
      const deps = launchWorkerDeps(stack.ctx);
      const heldSince = new Date(stack.clock.now()).toISOString();
      const restore = await eventsUnusable();
      try {
        await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
      } finally {
        await restore();
      }
      // Recorded, the hold noted on the job; its announcement lost.
      expect(await activationHolds(created.id)).toHaveLength(1);
      expect(await holdEvents(created.id)).toEqual([]);
      const placed = [
        'campaign.compliance.hold.placed',
        expect.objectContaining({ kind: 'activation_withheld', heldSince }),
      ];
      if (told === 'by the next look') {
        stack.clock.advance(SCOPE_RECHECK_MS);
        await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
        expect(await holdEvents(created.id)).toEqual([placed]);
        // Told once: a later look finds it stored.
        stack.clock.advance(SCOPE_RECHECK_MS);
        await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
        expect(await holdEvents(created.id)).toEqual([placed]);
        expect(await activationHolds(created.id)).toHaveLength(1);
        return;
      }
      await scriptFaults(stack.sandbox, { withholdScopes: [] });
      stack.clock.advance(SCOPE_RECHECK_MS);
      await newToken(false);
      try {
        await expect(processActivate(deps, job, 'token')).resolves.toMatchObject({ outcome: 'succeeded' });
        expect(await holdEvents(created.id)).toEqual([
          placed,
          ['campaign.compliance.hold.lifted', expect.objectContaining({ heldSince, why: 'scope_granted' })],
        ]);
      } finally {
        await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
      }
    });
  }

  it("the window's hold whose announcement failed is announced by the next look at it, once", async () => {
    const { ctx } = stack;
    // The open holds the resume.
    const { id, open, firing } = await pausedAtSaturdayOpen();
    const restore = await eventsUnusable();
    try {
      await expect(enforceWindow(ctx, firing)).resolves.toMatchObject({ outcome: 'resume_withheld' });
    } finally {
      await restore();
    }
    expect(await stack.complianceRecords(id, 'window_resume_withheld')).toHaveLength(1);
    expect(await holdEvents(id)).toEqual([]);
    const placed = [
      'campaign.compliance.hold.placed',
      expect.objectContaining({ kind: 'window_resume_withheld', heldSince: new Date(open).toISOString() }),
    ];
    for (let look = 0; look < 2; look++) {
      await expect(enforceWindow(ctx, firing)).resolves.toMatchObject({ outcome: 'resume_withheld' });
      expect(await holdEvents(id)).toEqual([placed]);
    }
    expect(await stack.complianceRecords(id, 'window_resume_withheld')).toHaveLength(1);
  });

  it("the window's hold whose record failed to write is recorded by the firing's retry", async () => {
    const { ctx } = stack;
    const { id, firing } = await pausedAtSaturdayOpen();
    const blip = failRecordOnce(id, 'window_resume_withheld');
    try {
      await expect(enforceWindow(ctx, firing)).rejects.toThrow('redis blip');
    } finally {
      blip.restore();
    }
    expect(blip.state.failed).toBe(true);
    await expect(enforceWindow(ctx, firing)).resolves.toMatchObject({ outcome: 'resume_withheld' });
    await expect(enforceWindow(ctx, firing)).resolves.toMatchObject({ outcome: 'resume_withheld' });
    expect(status(id)).toBe('paused');
    const held = await stack.complianceRecords(id, 'window_resume_withheld');
    expect(held.map((r) => r.details.rule)).toEqual(['statistics-scope']);
    expect((await holdEvents(id)).map(([type]) => type)).toEqual(['campaign.compliance.hold.placed']);
  });

  it("the window's resume waits, unresumed, while no token comes in time to tell its scopes", async () => {
    const { ctx, clock } = stack;
    // Saturday 21:00 EST: the window pauses it.
    const { id, open } = await pausedByWindow('2026-03-08T02:00:00Z');
    if (open === undefined) throw new Error('no open planned');
    // The scope granted to the last token; the next one stuck (a limiter backlog, a slow endpoint).
    await scriptFaults(stack.sandbox, { withholdScopes: [] });
    const tokens = (ctx.cxone as CxoneClient).tokens as { getToken: () => Promise<string> };
    const getToken = tokens.getToken;
    try {
      await newToken(false);
      tokens.getToken = () => new Promise<string>(() => undefined);
      clock.set(open);
      const decided = await enforceWindow(ctx, { campaignId: id, kind: 'open', atMs: open });
      expect(decided).toEqual({
        outcome: 'resume_withheld',
        next: { campaignId: id, kind: 'verify', atMs: open + 30_000 },
      });
    } finally {
      tokens.getToken = getToken;
      await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
    }
    const resumes = (
      await ctx.queues.adjust.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed'])
    ).filter((j) => (j.data as { action?: string }).action === 'resume' && j.data.campaignId === id);
    expect(resumes).toEqual([]);
    expect(await stack.complianceRecords(id, 'window_resume_withheld')).toEqual([]);
    expect(status(id)).toBe('paused');
  });

  it("a scheduled start's hold that ended (the scope back, the start moved to the next open) and came again is recorded again, once", async () => {
    const { clock } = stack;
    const { created, launchId } = await scheduledCampaign();
    const held = () => activationHolds(created.id);
    const { job } = fakeActivationJob(created.id, launchId);
    const deps = launchWorkerDeps(stack.ctx);

    // Tuesday noon EDT, inside the window: held for the scope, recorded.
    const firstHold = Date.parse('2026-03-10T12:00:00-04:00');
    clock.set(firstHold);
    await newToken(true);
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(await held()).toHaveLength(1);

    // Granted, but the look comes at 22:00, after the window closed: the start moves to the next
    // open, and the hold has ended.
    await scriptFaults(stack.sandbox, { withholdScopes: [] });
    try {
      clock.set(Date.parse('2026-03-10T22:00:00-04:00'));
      await newToken(false);
      await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
      expect(status(created.id)).toBe('scheduled');
    } finally {
      await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
    }

    // Withheld again by Wednesday's 08:00 open: a second hold, recorded as the first was.
    const secondHold = Date.parse('2026-03-11T08:00:00-04:00');
    clock.set(secondHold);
    await newToken(true);
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(status(created.id)).toBe('scheduled');
    expect((await held()).map((r) => r.details.heldSince)).toEqual([
      new Date(firstHold).toISOString(),
      new Date(secondHold).toISOString(),
    ]);
    // Still missing at the next look: the same hold, not recorded again.
    clock.advance(SCOPE_RECHECK_MS);
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(await held()).toHaveLength(2);
  });

  it("the window's hold ended by someone else's pause (the window will not resume it) is announced lifted", async () => {
    await newToken(true);
    // Friday 21:00 EDT: the window pauses it; Saturday 08:00 EDT, the open, holds its resume.
    const { id } = await pausedByWindow('2026-03-14T01:00:00Z');
    const open = Date.parse('2026-03-14T12:00:00Z');
    await stack.fire(id, new Date(open).toISOString());
    const heldSince = new Date(open).toISOString();
    expect((await holdEvents(id)).map(([type]) => type)).toEqual(['campaign.compliance.hold.placed']);
    // An operator's pause of the held campaign ends the window's claim: no firing resumes it, nor
    // looks at the hold again.
    const { commandId } = await enqueueCommand(stack.ctx, {
      campaignId: id,
      actor: 'api:ops',
      reason: 'operator',
      action: 'pause',
    });
    expect((await stack.settled(commandId)).status).toBe('succeeded');
    await eventually(async () =>
      (await getWindowState(stack.ctx, id)).pausedAt === undefined ? true : undefined,
    );
    expect(await holdEvents(id)).toEqual([
      ['campaign.compliance.hold.placed', expect.objectContaining({ heldSince })],
      ['campaign.compliance.hold.lifted', expect.objectContaining({ heldSince, why: 'paused' })],
    ]);
  });

  it("the window's hold ended by someone else's resume, seen first by the close's firing, is announced lifted", async () => {
    const { ctx, clock } = stack;
    await newToken(true);
    // Saturday 21:00 EDT: the window pauses it; Sunday 08:00 EDT, the open, holds its resume.
    const { id } = await pausedByWindow('2026-03-15T01:00:00Z');
    const open = Date.parse('2026-03-15T12:00:00Z');
    await stack.fire(id, new Date(open).toISOString());
    const heldSince = new Date(open).toISOString();
    // An operator resumes it minutes before the close: the close's firing is the next to look.
    clock.set(Date.parse('2026-03-16T00:57:00Z'));
    const { commandId } = await enqueueCommand(ctx, {
      campaignId: id,
      actor: 'api:ops',
      reason: 'operator',
      action: 'resume',
    });
    expect((await stack.settled(commandId)).status).toBe('succeeded');
    expect(status(id)).toBe('active');
    const close = Date.parse('2026-03-16T01:00:00Z');
    clock.set(close);
    await expect(enforceWindow(ctx, { campaignId: id, kind: 'close', atMs: close })).resolves.toMatchObject({
      outcome: 'paused',
    });
    expect(await holdEvents(id)).toEqual([
      ['campaign.compliance.hold.placed', expect.objectContaining({ heldSince })],
      ['campaign.compliance.hold.lifted', expect.objectContaining({ heldSince, why: 'resumed' })],
    ]);
  });

  it("a scheduled start's hold ended by an operator's start in CXone's console is announced lifted", async () => {
    const { clock } = stack;
    const { created, launchId } = await scheduledCampaign();
    const held = Date.parse('2026-03-16T12:00:00-04:00');
    clock.set(held);
    await newToken(true);
    const { job } = fakeActivationJob(created.id, launchId);
    const deps = launchWorkerDeps(stack.ctx);
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    // Started in the console while held (the scope still missing): the job's next look takes it over.
    const now = await stack.ctx.cxone.getCampaign(created.id);
    await stack.ctx.cxone.updateCampaign(created.id, now.version, { status: 'active' });
    clock.advance(SCOPE_RECHECK_MS);
    await expect(processActivate(deps, job, 'token')).resolves.toMatchObject({ outcome: 'succeeded' });
    const heldSince = new Date(held).toISOString();
    expect(await holdEvents(created.id)).toEqual([
      ['campaign.compliance.hold.placed', expect.objectContaining({ heldSince })],
      ['campaign.compliance.hold.lifted', expect.objectContaining({ heldSince, why: 'started' })],
    ]);
  });

  it("a scheduled start's hold whose note failed after its record is recorded once by the next run", async () => {
    const { clock } = stack;
    const { created, launchId } = await scheduledCampaign();
    clock.set(Date.parse('2026-03-12T12:00:00-04:00'));
    await newToken(true);
    const { job } = fakeActivationJob(created.id, launchId);
    const deps = launchWorkerDeps(stack.ctx);
    const save = job.updateData.bind(job);
    let failed = false;
    // Only the note of the hold fails (the safe start's rate is saved before the write, too).
    job.updateData = async (data) => {
      if (!failed && (data as { scopeHeldSince?: string }).scopeHeldSince !== undefined) {
        failed = true;
        throw new Error('redis blip');
      }
      // Stored as BullMQ stores it, a copy: a later change to the run's object is not saved by it.
      await save(JSON.parse(JSON.stringify(data)) as unknown);
    };
    const first = await processActivate(deps, job, 'token').catch((err: unknown) => err);
    expect(failed).toBe(true);
    expect(first).not.toBeInstanceOf(DelayedError);
    // Retried later (BullMQ's backoff): the same hold, not a second one.
    clock.advance(60_000);
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(status(created.id)).toBe('scheduled');
    expect(await activationHolds(created.id)).toHaveLength(1);
    // Announced once too: the retry's event goes by the id the hold names.
    expect((await holdEvents(created.id)).map(([type]) => type)).toEqual(['campaign.compliance.hold.placed']);
    // The retry holds since the placement the receiver was told of, not since its own run: the lift
    // names that heldSince, so a receiver pairs the two.
    const heldSince = new Date(Date.parse('2026-03-12T12:00:00-04:00')).toISOString();
    expect((await activationHolds(created.id))[0]?.details.heldSince).toBe(heldSince);
    await scriptFaults(stack.sandbox, { withholdScopes: [] });
    try {
      clock.advance(SCOPE_RECHECK_MS);
      await newToken(false);
      await expect(processActivate(deps, job, 'token')).resolves.toMatchObject({ outcome: 'succeeded' });
    } finally {
      await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
    }
    expect(await holdEvents(created.id)).toEqual([
      ['campaign.compliance.hold.placed', expect.objectContaining({ heldSince })],
      ['campaign.compliance.hold.lifted', expect.objectContaining({ heldSince, why: 'scope_granted' })],
    ]);
  });

  // Last: the sandbox forgets every campaign (as a restarted one does), those of the tests above too.
  it("a scheduled start's hold whose campaign is gone from CXone at the next look is announced lifted as the activation gives up", async () => {
    const { created, launchId } = await scheduledCampaign();
    await newToken(true);
    const { job } = fakeActivationJob(created.id, launchId);
    const deps = launchWorkerDeps(stack.ctx);
    const heldSince = new Date(stack.clock.now()).toISOString();
    await expect(processActivate(deps, job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect((await fetch(`${stack.sandbox.url}/__sandbox/reset`, { method: 'POST' })).status).toBe(200);
    await scriptFaults(stack.sandbox, { withholdScopes: [STATS] });
    stack.clock.advance(SCOPE_RECHECK_MS);
    const given = await processActivate(deps, job, 'token').catch((err: unknown) => err);
    expect(given).not.toBeInstanceOf(DelayedError);
    expect(String(given)).toMatch(/no longer exists on CXone/);
    expect(await holdEvents(created.id)).toEqual([
      ['campaign.compliance.hold.placed', expect.objectContaining({ heldSince })],
      [
        'campaign.compliance.hold.lifted',
        expect.objectContaining({ kind: 'activation_withheld', heldSince, why: 'campaign_missing' }),
      ],
    ]);
  });
});
