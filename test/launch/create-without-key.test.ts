import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { launchJobSchema } from '../../src/shared/jobs.js';
import { CreateSentUnansweredError } from '../../src/shared/cxone/outcome-unknown.js';
import { findUnansweredCreate } from '../../src/workers/launch-cleanup.js';
import { createLaunchCampaign } from '../../src/workers/launch-create.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { launchAndWait, startStack, type Stack } from '../e2e/stack.js';
import { sandboxCampaigns, sandboxCounters } from '../support/sandbox-counters.js';
import { scriptFaults, type FaultScript } from '../support/sandbox-faults.js';
import {
  failingRecordCreated,
  launchDeps,
  lastAttemptLaunch,
  startingInAnHour,
  submitLaunchInAnHour,
} from './last-attempt.js';

/**
 * CXONE_CREATE_IDEMPOTENCY=none, against a sandbox that ignores Idempotency-Key
 * (SANDBOX_IDEMPOTENCY_KEYS=ignored), as a platform without the feature the v2 contract does not
 * promise: no create is ever sent twice for one launch, since CXone could not tell it from a new one —
 * a create whose outcome is unknown fails the launch naming the campaign to look for, never a second
 * campaign dialing the same list. Real Redis, the sandbox over HTTP with scripted faults.
 */
/** A stack whose fleet sends creates without a key, against a sandbox that ignores keys. */
const keylessStack = (opts: { api?: false; launchWorker?: true }) =>
  startStack({ ...opts, env: { CXONE_CREATE_IDEMPOTENCY: 'none' }, sandbox: { idempotencyKeys: false } });

/** The campaigns of that name the stack's sandbox holds. */
const campaignsNamed = async (stack: Stack, name: string) =>
  (await sandboxCampaigns(stack.sandbox)).filter((c) => c.name === name);

describe('a launch whose creates carry no Idempotency-Key', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await keylessStack({ api: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const script = (body: FaultScript) =>
    scriptFaults(stack.sandbox, { endpoint: CXONE_ENDPOINTS.createCampaign, ...body });
  const creates = async () => (await sandboxCounters(stack.sandbox))[CXONE_ENDPOINTS.createCampaign];

  /** A launch starting in an hour, its job as its first run sees it. */
  const firstAttemptLaunch = (name: string) => submitLaunchInAnHour(stack.ctx, { name });

  it('creates without a key, marks the create before it leaves, and schedules the campaign', async () => {
    const { launchId, job } = await firstAttemptLaunch('No key 1');
    const deps = launchDeps(stack.ctx);
    await expect(processLaunch(deps, job)).resolves.toMatchObject({ outcome: 'succeeded' });
    const made = await campaignsNamed(stack, 'No key 1');
    expect(made).toHaveLength(1);
    expect(await deps.launches.get(launchId)).toMatchObject({
      status: 'succeeded',
      campaignId: made[0]!.id,
      createSentAt: expect.any(String),
    });
  });

  it('fails a launch whose create CXone carried out but whose answer was lost, sending no second create', async () => {
    const { launchId, job } = await firstAttemptLaunch('No key 2');
    const deps = launchDeps(stack.ctx);
    await script({ failNext: 1, status: 502, applied: true });

    await expect(processLaunch(deps, job)).rejects.toThrow();

    // The one campaign the lost answer made, and no other: a retry would have made a second.
    expect(await campaignsNamed(stack, 'No key 2')).toHaveLength(1);
    const record = await deps.launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed' });
    expect(record?.campaignId).toBeUndefined();
    expect(record?.error).toMatch(/may have been created on CXone.*no Idempotency-Key/);
  });

  it('sends nothing for a launch whose earlier run died with its create in flight, and says what to look for', async () => {
    const { launchId, job } = await firstAttemptLaunch('No key 3');
    const deps = launchDeps(stack.ctx);
    // What a run leaves that marked its create and died before CXone's answer was recorded.
    expect(await deps.launches.update(launchId, { createSentAt: '2026-03-04T12:00:00.000Z' })).toBe(true);
    const before = await creates();

    await expect(processLaunch(deps, job)).rejects.toThrow(/sent its create at 2026-03-04T12:00:00.000Z/);

    expect(await creates()).toEqual(before);
    expect(await campaignsNamed(stack, 'No key 3')).toEqual([]);
    const record = await deps.launches.get(launchId);
    expect(record).toMatchObject({ status: 'failed' });
    expect(record?.error).toContain('CXONE_CREATE_IDEMPOTENCY=none');
    expect(record?.error).toContain('"No key 3"');
  });

  it('takes the mark back when CXone refused the create, and the retry makes the one campaign', async () => {
    const { launchId, job } = await firstAttemptLaunch('No key 4');
    const deps = launchDeps(stack.ctx);
    await script({ failNext: 1, status: 429, retryAfterSeconds: 1 });

    // Re-queued as BullMQ's rate-limit error, after the fleet-wide penalty.
    await expect(processLaunch(deps, job)).rejects.toThrow('bullmq:rateLimitExceeded');
    expect((await deps.launches.get(launchId))?.createSentAt).toBeUndefined();
    expect(await campaignsNamed(stack, 'No key 4')).toEqual([]);

    await expect(processLaunch(deps, job)).resolves.toMatchObject({ outcome: 'succeeded' });
    expect(await campaignsNamed(stack, 'No key 4')).toHaveLength(1);
  });

  it('sends no second create when another run of the launch marked its own after this run began', async () => {
    const { launchId, job } = await firstAttemptLaunch('No key 7');
    const deps = launchDeps(stack.ctx);
    // This run read the launch unmarked; the other run (it lost the job's lock to this one, or this
    // one to it) marked its create since, and its create is in flight.
    expect(await deps.launches.markCreateSent(launchId, 'other-run')).toEqual({ kind: 'marked' });
    const before = await creates();

    await expect(
      createLaunchCampaign(deps, launchJobSchema.parse(job.data), 1, { createSentAt: undefined }),
    ).rejects.toBeInstanceOf(CreateSentUnansweredError);

    expect(await creates()).toEqual(before);
    // Nor can this run take the other's mark back.
    expect(await deps.launches.forgetCreateSent(launchId, 'this-run')).toBe(false);
    expect((await deps.launches.get(launchId))?.createSentAt).toEqual(expect.any(String));
    expect(await deps.launches.forgetCreateSent(launchId, 'other-run')).toBe(true);
    expect((await deps.launches.get(launchId))?.createSentAt).toBeUndefined();
  });

  it('names the campaign to cancel in the log when CXone created it and the launch could not record it', async () => {
    const { launchId, job } = await firstAttemptLaunch('No key 8');
    const base = launchDeps(stack.ctx);
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    // CXone answers the create; writing it on the launch fails (a Redis blip).
    const launches = failingRecordCreated(base.launches);
    const ctx = Object.assign(Object.create(stack.ctx) as typeof stack.ctx, { logger });

    await expect(processLaunch({ ...base, ctx, launches }, job)).rejects.toThrow('Connection is closed.');

    const made = await campaignsNamed(stack, 'No key 8');
    expect(made).toHaveLength(1);
    expect(lines.filter((l) => l.campaignId === made[0]!.id)).toEqual([
      expect.objectContaining({ msg: expect.stringMatching(/cancel this campaign in CXone/) }),
    ]);
    // Its retry sends nothing, and fails the launch naming the campaign to look for.
    await expect(processLaunch(base, job)).rejects.toThrow(/look for one named "No key 8"/);
    expect(await campaignsNamed(stack, 'No key 8')).toHaveLength(1);
    expect(await base.launches.get(launchId)).toMatchObject({ status: 'failed' });
  });

  it("a given-up launch's cleanup names the create it cannot ask for again, and sends nothing", async () => {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx, {}, { name: 'No key 5' });
    const deps = launchDeps(stack.ctx);
    await deps.launches.update(launchId, { createSentAt: '2026-03-04T12:00:00.000Z' });
    const before = await creates();

    const said = await findUnansweredCreate(deps, launchJobSchema.parse(job.data), 1);

    expect(said).toContain('CXone may have created the campaign');
    expect(said).toContain('"No key 5"');
    expect(await creates()).toEqual(before);
    // Without the mark, no create of this launch may have been carried out: nothing to find.
    const other = await lastAttemptLaunch(stack.ctx, {}, { name: 'No key 6' });
    await expect(
      findUnansweredCreate(deps, launchJobSchema.parse(other.job.data), 1),
    ).resolves.toBeUndefined();
    expect(await creates()).toEqual(before);
  });
});

describe('launching through the API and the launch worker, with creates that carry no Idempotency-Key', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await keylessStack({ launchWorker: true });
  });
  afterAll(async () => {
    await stack?.close();
  });
  const config = (name: string) => startingInAnHour({ name });

  it('launches a campaign once, and the launch shows no internal mark', async () => {
    const launch = await launchAndWait(stack, config('No key API 1'));
    const made = await campaignsNamed(stack, 'No key API 1');
    expect(made).toHaveLength(1);
    expect(launch).toMatchObject({ status: 'succeeded', campaignId: made[0]!.id });
    expect(launch).not.toHaveProperty('createSentAt');
  });

  it('fails a launch whose create answer was lost without retrying it, telling the caller what to look for', async () => {
    await scriptFaults(stack.sandbox, {
      endpoint: CXONE_ENDPOINTS.createCampaign,
      failNext: 1,
      status: 504,
      applied: true,
    });
    const launch = await launchAndWait(stack, config('No key API 2'));
    expect(await campaignsNamed(stack, 'No key API 2')).toHaveLength(1);
    expect(launch).toMatchObject({ status: 'failed' });
    expect(launch).not.toHaveProperty('campaignId');
    expect(String(launch.error)).toMatch(/may have been created on CXone/);
  });
});
