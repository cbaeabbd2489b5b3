import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CAMPAIGN_VIEW_MAX_AGE_MS,
  COMMAND_AT_WORK_STALE_REASON,
  staleReasonOf,
} from '../../src/producers/routes/campaigns.js';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import {
  CxoneAuthError,
  CxoneForbiddenError,
  CxoneMalformedResponseError,
  CxoneRateLimitError,
  CxoneUnavailableError,
  FleetBudgetBusyError,
} from '../../src/shared/errors.js';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { LimiterUnavailableError, LimiterWaitExceededError } from '../../src/shared/limiter/types.js';
import { api, campaignConfig, launchAndWait, patchOnSandbox, startStack, type Stack } from '../e2e/stack.js';
import { holdAsCommand } from '../support/campaign-lock.js';
import { sandboxCounters } from '../support/sandbox-counters.js';

describe('why a campaign view is cached (pure)', () => {
  const ctx = { endpoint: CXONE_ENDPOINTS.getCampaign, campaignId: 'c-1' };
  it('names the cause, never the error text', () => {
    expect(
      staleReasonOf(new CxoneAuthError('invalid_client at https://x/oauth2/token', { ...ctx, status: 401 })),
    ).toBe("CXone refused the orchestrator's credentials");
    expect(staleReasonOf(new CxoneForbiddenError({ ...ctx, status: 403 }))).toMatch(/403/);
    expect(staleReasonOf(new CxoneRateLimitError({ ...ctx, status: 429 }, 1000))).toMatch(/429/);
    expect(staleReasonOf(new LimiterWaitExceededError(ctx.endpoint, 5000, 4000, 'budget'))).toMatch(
      /rate budget/,
    );
    // What the CXone client turns a refused bounded wait into (the refresh sees only these): the
    // fleet's own busy budget is no 429 from CXone; a penalty still running after one is.
    expect(staleReasonOf(new FleetBudgetBusyError(ctx, 1000, 3000))).toBe(
      "the fleet's CXone rate budget had no room in time",
    );
    expect(staleReasonOf(CxoneRateLimitError.penaltyRunning(ctx, 90_000))).toMatch(/429/);
    expect(staleReasonOf(new LimiterUnavailableError(ctx.endpoint))).toMatch(/Redis/);
    expect(staleReasonOf(new CxoneUnavailableError('boom', { ...ctx, status: 502 }))).toBe(
      'CXone answered 502',
    );
    expect(staleReasonOf(new CxoneUnavailableError('ECONNRESET', { ...ctx, status: undefined }))).toMatch(
      /did not answer/,
    );
    expect(staleReasonOf(new CxoneMalformedResponseError(['x'], { ...ctx, status: 200 }))).toMatch(
      /not a campaign/,
    );
    expect(staleReasonOf(new Error('secret-ish detail'))).toBe('an unexpected error (see the API log)');
  });
});

/** Real Redis, the sandbox over HTTP with a scripted 503, the API and the launch worker. */
describe('GET /v1/campaigns/{id} while CXone fails or is slow', () => {
  let stack: Stack;
  /** How far the fleet's clock is ahead of the wall clock: ages the cached view past its limit. */
  let aheadMs = 0;
  /** Runs once, while the next CXone read of a campaign is in flight. */
  let duringRead: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    stack = await startStack({
      launchWorker: true,
      ctxOverrides: (ctx) => ({
        clock: { now: () => Date.now() + aheadMs },
        cxone: {
          ...ctx.cxone,
          getCampaign: async (...args: Parameters<CxoneApi['getCampaign']>) => {
            const read = await ctx.cxone.getCampaign(...args);
            const during = duringRead;
            duringRead = undefined;
            await during?.();
            return read;
          },
        } as CxoneApi,
      }),
    });
  });

  it("keeps a pacing change a command stored while the view's CXone read was in flight", async () => {
    aheadMs = 0;
    const launch = await launchAndWait(stack, campaignConfig({ name: 'Refreshed' }));
    const campaignId = String(launch.campaignId);
    const store = createCampaignStore(stack.ctx);
    const before = await store.get(campaignId);
    const changed = { ...before!.config.pacing!, targetAbandonment: 0.02 } as CampaignConfig['pacing'];
    duringRead = async () => {
      await store.updateLocalConfig(before!.cxone, { pacing: changed });
    };
    aheadMs = CAMPAIGN_VIEW_MAX_AGE_MS + 1_000;
    const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
    expect(view.status).toBe(200);
    expect(view.body.stale).toBeUndefined();
    expect((await store.get(campaignId))?.config.pacing).toEqual(changed);
    aheadMs = 0;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('reads CXone once for requests that find one campaign stale at the same time', async () => {
    aheadMs = 0;
    const launch = await launchAndWait(stack, campaignConfig({ name: 'Watched' }));
    aheadMs = CAMPAIGN_VIEW_MAX_AGE_MS + 1_000;
    const reads = async () =>
      (await sandboxCounters(stack.sandbox))[CXONE_ENDPOINTS.getCampaign]?.requests ?? 0;
    const before = await reads();
    try {
      const views = await Promise.all(
        Array.from({ length: 5 }, () => api(stack, 'GET', `/v1/campaigns/${String(launch.campaignId)}`)),
      );
      for (const view of views) {
        expect(view.status).toBe(200);
        expect(view.body.stale).toBeUndefined();
      }
      expect((await reads()) - before).toBe(1);
    } finally {
      aheadMs = 0;
    }
  });

  it("leaves a newer version to the command at work on the campaign: not told as a console's, the view marked stale", async () => {
    aheadMs = 0;
    const launch = await launchAndWait(stack, campaignConfig({ name: 'Commanded' }));
    const campaignId = String(launch.campaignId);
    const store = createCampaignStore(stack.ctx);
    const known = (await store.get(campaignId))!.cxone.version;
    // A command holds the campaign and CXone took its write; the command has not synced it yet.
    const command = await holdAsCommand(stack.ctx, campaignId);
    const written = await patchOnSandbox(stack.sandbox, campaignId, { dialerSettings: { callRate: 0.5 } });
    expect(written.status).toBe(200);
    const outside = async () =>
      (await (stack.ctx.events as EventPublisherStore).recent(20, campaignId)).filter(
        (e) => e.data['reason'] === 'outside',
      );
    aheadMs = CAMPAIGN_VIEW_MAX_AGE_MS + 1_000;
    try {
      const view = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
      expect(view.status).toBe(200);
      expect(view.body).toMatchObject({ stale: true, staleReason: COMMAND_AT_WORK_STALE_REASON });
      expect(await outside()).toEqual([]);
      expect((await store.get(campaignId))?.cxone.version).toBe(known);
      // Once no command holds it, the same newer version is one made outside: told, and synced.
      await command.release();
      const refreshed = await api(stack, 'GET', `/v1/campaigns/${campaignId}`);
      expect(refreshed.body.stale).toBeUndefined();
      expect((await outside()).map((e) => e.type)).toEqual(['campaign.settings.changed']);
      expect((await store.get(campaignId))?.cxone.version).toBe(Number(written.body['version']));
    } finally {
      aheadMs = 0;
      await command.release();
    }
  });

  it('serves the cached view, marked stale, saying why', async () => {
    const launch = await launchAndWait(stack, campaignConfig({ name: 'Cached' }));
    aheadMs = CAMPAIGN_VIEW_MAX_AGE_MS + 1_000;
    await fetch(`${stack.sandbox.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ failNext: 10, status: 503, endpoint: CXONE_ENDPOINTS.getCampaign }),
    });
    const view = await api(stack, 'GET', `/v1/campaigns/${String(launch.campaignId)}`);
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      campaignId: launch.campaignId,
      stale: true,
      staleReason: 'CXone answered 503',
    });
    await fetch(`${stack.sandbox.url}/__sandbox/faults`, { method: 'DELETE' });
  });
});
