import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { createLaunchStore } from '../../src/shared/launch-store.js';
import { processLaunch } from '../../src/workers/launch-worker.js';
import { api, campaignConfig, sandboxStatus, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { sandboxFaults, scriptFaults, type FaultScript } from '../support/sandbox-faults.js';
import { lastAttemptLaunch } from './last-attempt.js';

/** Markup, styles or the page's doctype: what must never reach a launch record, a job or an error. */
const PAGE_MARKUP = /<|DOCTYPE|font-family/i;

const script = (stack: Stack, fault: FaultScript): Promise<void> => scriptFaults(stack.sandbox, fault);

/**
 * A launch through the fleet (API → Redis/BullMQ → launch worker → sandbox over real HTTP) whose
 * CXone calls meet the load balancer's answers: a 502/504 HTML page or no body, some after CXone
 * carried the request out. It must end as under CXone's JSON 5xx: one campaign, launched, or failed
 * and cancelled — never a second campaign, never one left half-launched — and no page in what it
 * records.
 */
describe('a launch facing gateway error pages', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ launchWorker: true });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('rides out pages on the create and the schedule, some answered after they were applied: one campaign, active', async () => {
    // The create is made, then answered with the page; its re-send with the launch's key gets it back.
    await script(stack, {
      failNext: 1,
      status: 502,
      body: 'html',
      applied: true,
      endpoint: CXONE_ENDPOINTS.createCampaign,
    });
    // The schedule is written, then answered with the page (the version moved under the launch);
    // the next PATCH finds no body at all.
    await script(stack, {
      failNext: 1,
      status: 504,
      body: 'html',
      applied: true,
      endpoint: CXONE_ENDPOINTS.updateCampaign,
    });
    await script(stack, {
      failNext: 1,
      status: 502,
      body: 'empty',
      endpoint: CXONE_ENDPOINTS.updateCampaign,
    });
    const before = stack.sandbox.campaignCount();

    const reply = await api(stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Behind a gateway' }),
    });
    expect(reply.status).toBe(202);
    const launchId = String(reply.body.launchId);
    const errors = new Set<string>();
    const launch = await waitFor(
      'the launch to finish',
      async () => {
        const now = (await api(stack, 'GET', `/v1/launches/${launchId}`)).body;
        if (typeof now.lastError === 'string') errors.add(now.lastError);
        return now.status === 'succeeded' || now.status === 'failed' ? now : undefined;
      },
      30_000,
      20,
    );

    expect(launch).toMatchObject({ status: 'succeeded', campaignStatus: 'active' });
    expect(stack.sandbox.campaignCount()).toBe(before + 1);
    expect(sandboxStatus(stack.sandbox, String(launch.campaignId))).toBe('active');
    const faults = await sandboxFaults(stack.sandbox);
    expect(faults.scripted).toEqual([]);
    // The retries it showed named the status, never the page.
    for (const error of errors) {
      expect(error).toMatch(/^attempt \d+: CXone answered 50[24] to /);
      expect(error).not.toMatch(PAGE_MARKUP);
    }
    const job = await stack.ctx.queues.launch.getJob(launchId);
    expect(job?.attemptsMade).toBeGreaterThan(0);
    expect(JSON.stringify(job?.stacktrace ?? [])).not.toMatch(PAGE_MARKUP);
    expect(JSON.stringify(launch)).not.toMatch(PAGE_MARKUP);
  });
});

/**
 * The same on a launch's last attempt, run by hand (no launch worker, so that nothing else picks the
 * job up): a page there is final, and what the launch leaves on CXone must still be whole.
 */
describe('a launch on its last attempt facing a gateway error page', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ api: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A launch on its last attempt (any failure is final) run once, its schedule PATCH meeting `fault`. */
  async function lastAttemptFacing(fault: Record<string, unknown>) {
    const { launchId, job } = await lastAttemptLaunch(stack.ctx);
    await script(stack, { failNext: 1, endpoint: CXONE_ENDPOINTS.updateCampaign, ...fault });
    const before = stack.sandbox.campaignCount();
    const launches = createLaunchStore(stack.ctx);
    const thrown = await processLaunch(
      { ctx: stack.ctx, launches, campaigns: createCampaignStore(stack.ctx), lockMs: 30_000 },
      job,
    ).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    const record = await launches.get(launchId);
    expect(stack.sandbox.campaignCount()).toBe(before + 1);
    expect(JSON.stringify(record)).not.toMatch(PAGE_MARKUP);
    return { thrown, record, campaignId: String(record?.campaignId) };
  }

  it('on its last attempt, a schedule written then answered with the page fails the launch and cancels what the page hid', async () => {
    const { thrown, record, campaignId } = await lastAttemptFacing({
      status: 504,
      body: 'html',
      applied: true,
    });
    expect(thrown?.message).toMatch(
      /504 to PATCH \/api\/v2\/campaigns\/:id with a markup page: "504 Gateway Timeout"/,
    );
    expect(thrown?.message).not.toMatch(PAGE_MARKUP);
    // CXone scheduled it (version 2) behind the page: the cancel is made on top of that write, not
    // refused as a conflict and left scheduled.
    expect(record).toMatchObject({
      status: 'failed',
      cancelled: true,
      campaignStatus: 'cancelled',
      cxoneVersion: 3,
    });
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
  });

  it('on its last attempt, a schedule refused with the page fails the launch and cancels its campaign', async () => {
    const { thrown, record, campaignId } = await lastAttemptFacing({ status: 502, body: 'html' });
    expect(thrown?.message).toMatch(
      /502 to PATCH \/api\/v2\/campaigns\/:id with a markup page: "502 Bad Gateway"/,
    );
    expect(thrown?.message).not.toMatch(PAGE_MARKUP);
    expect(record).toMatchObject({ status: 'failed', cancelled: true, campaignStatus: 'cancelled' });
    expect(String(record?.error)).toMatch(/502 Bad Gateway/);
    expect(sandboxStatus(stack.sandbox, campaignId)).toBe('cancelled');
  });
});
