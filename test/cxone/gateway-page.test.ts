import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CxoneCreateOutcomeUnknownError } from '../../src/shared/cxone/client.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { CxoneUnavailableError, type CxoneError } from '../../src/shared/errors.js';
import { campaignBody, startHarness, type Harness } from './harness.js';

/**
 * The load balancers in front of CXone answer a 502/504 with an HTML page of their own (or nothing),
 * sometimes after CXone committed the request. Met over real HTTP through the sandbox's scripted
 * gateway faults: the client must classify it as the JSON 5xx, and keep no more of the page than a
 * short excerpt in its errors and in what they log.
 */
describe('CXone client facing a gateway HTML error page (sandbox over real HTTP)', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  async function script(h: Harness, fault: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${h.sandbox.url}/__sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fault),
    });
    expect(res.status).toBe(200);
  }

  /** What a pino logger writes for `{ err }`, as the workers log a failed call. */
  function logged(err: unknown): string {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    logger.error({ err }, 'CXone call failed');
    return lines.join('');
  }

  function expectNoPage(err: CxoneError): void {
    const everything = [err.message, JSON.stringify(err.body ?? null), JSON.stringify(err), logged(err)];
    for (const text of everything) {
      expect(text).not.toMatch(/<|DOCTYPE|font-family|<style|&lt;/i);
    }
    // The excerpt is short: a title, not the document (about 1.5 kB).
    expect(JSON.stringify(err.body ?? null).length).toBeLessThan(200);
    expect(err.message.length).toBeLessThan(300);
  }

  it('reads a 502 HTML page as CXone unavailable, retryable like the JSON 503, naming endpoint, status, campaign and attempt', async () => {
    harness = await startHarness({ tag: 'gw-html' });
    const created = await harness.client.createCampaign(campaignBody());
    await script(harness, { failNext: 1, status: 503, endpoint: CXONE_ENDPOINTS.getCampaign });
    const json = (await harness.client
      .getCampaign(created.id, { attempt: 2 })
      .catch((e: unknown) => e)) as CxoneError;
    await script(harness, { failNext: 1, status: 502, body: 'html', endpoint: CXONE_ENDPOINTS.getCampaign });
    const html = (await harness.client
      .getCampaign(created.id, { attempt: 3 })
      .catch((e: unknown) => e)) as CxoneError;

    expect(json).toBeInstanceOf(CxoneUnavailableError);
    expect(html).toBeInstanceOf(CxoneUnavailableError);
    expect({ kind: html.kind, retryable: html.retryable }).toEqual({
      kind: json.kind,
      retryable: json.retryable,
    });
    expect(html).toMatchObject({
      retryable: true,
      status: 502,
      endpoint: CXONE_ENDPOINTS.getCampaign,
      campaignId: created.id,
      attempt: 3,
    });
    expect(html.toJSON()).toMatchObject({ status: 502, endpoint: CXONE_ENDPOINTS.getCampaign, attempt: 3 });
    expect(html.message).toContain(`502 to ${CXONE_ENDPOINTS.getCampaign}`);
    // What the operator can use of the page: its title.
    expect(html.message).toContain('502 Bad Gateway');
    expect(logged(html)).toContain('502 Bad Gateway');
    expectNoPage(html);
    // And the call after it goes through.
    expect((await harness.client.getCampaign(created.id)).id).toBe(created.id);
  });

  it('reads a 504 with no body as CXone unavailable, saying the body was empty', async () => {
    harness = await startHarness({ tag: 'gw-empty' });
    const created = await harness.client.createCampaign(campaignBody());
    await script(harness, { failNext: 1, status: 504, body: 'empty', endpoint: CXONE_ENDPOINTS.getStats });
    const err = (await harness.client
      .getStats(created.id, { attempt: 1 })
      .catch((e: unknown) => e)) as CxoneError;
    expect(err).toBeInstanceOf(CxoneUnavailableError);
    expect(err).toMatchObject({
      retryable: true,
      status: 504,
      endpoint: CXONE_ENDPOINTS.getStats,
      campaignId: created.id,
      attempt: 1,
    });
    expect(err.message).toBe(`CXone answered 504 to ${CXONE_ENDPOINTS.getStats} with an empty body`);
    expectNoPage(err);
  });

  it('a PATCH answered 504 with the page after it was written: retryable, and the re-read shows the write', async () => {
    harness = await startHarness({ tag: 'gw-patch' });
    const created = await harness.client.createCampaign(campaignBody());
    await script(harness, {
      failNext: 1,
      status: 504,
      body: 'html',
      applied: true,
      endpoint: CXONE_ENDPOINTS.updateCampaign,
    });
    const err = (await harness.client
      .updateCampaign(created.id, created.version, { status: 'scheduled' }, { attempt: 2 })
      .catch((e: unknown) => e)) as CxoneError;
    expect(err).toBeInstanceOf(CxoneUnavailableError);
    expect(err).toMatchObject({ retryable: true, status: 504, attempt: 2, campaignId: created.id });
    expect(err.message).toContain('504 Gateway Timeout');
    expectNoPage(err);
    expect(await harness.client.getCampaign(created.id)).toMatchObject({
      status: 'scheduled',
      version: created.version + 1,
    });
  });

  it('a create answered 502 with the page after it was made: replayed by its key, or an outcome unknown without one', async () => {
    harness = await startHarness({ tag: 'gw-create' });
    const fault = {
      failNext: 1,
      status: 502,
      body: 'html',
      applied: true,
      endpoint: CXONE_ENDPOINTS.createCampaign,
    };
    await script(harness, fault);
    const body = campaignBody();
    const keyed = (await harness.client
      .createCampaign(body, { idempotencyKey: 'gw-create-1', attempt: 1 })
      .catch((e: unknown) => e)) as CxoneError;
    expect(keyed).toBeInstanceOf(CxoneUnavailableError);
    expect(keyed).toMatchObject({ retryable: true, status: 502, attempt: 1 });
    expectNoPage(keyed);
    expect(harness.sandbox.campaignCount()).toBe(1);
    const replayed = await harness.client.createCampaign(body, { idempotencyKey: 'gw-create-1', attempt: 2 });
    expect(harness.sandbox.campaignCount()).toBe(1);
    expect(replayed.version).toBe(1);

    await script(harness, fault);
    const unkeyed = (await harness.client
      .createCampaign(campaignBody({ name: 'No key' }))
      .catch((e: unknown) => e)) as CxoneError;
    expect(unkeyed).toBeInstanceOf(CxoneCreateOutcomeUnknownError);
    expect(unkeyed).toMatchObject({ retryable: false, status: 502 });
    expectNoPage(unkeyed);
  });

  it('a token request answered with the page is the same retryable error, for the call that needed it', async () => {
    harness = await startHarness({ tag: 'gw-token' });
    await script(harness, { failNext: 1, status: 502, body: 'html', endpoint: CXONE_ENDPOINTS.token });
    const err = (await harness.client
      .getCampaign('c-1', { attempt: 4 })
      .catch((e: unknown) => e)) as CxoneError;
    expect(err).toBeInstanceOf(CxoneUnavailableError);
    expect(err).toMatchObject({
      retryable: true,
      status: 502,
      endpoint: CXONE_ENDPOINTS.token,
      campaignId: 'c-1',
      attempt: 4,
    });
    expectNoPage(err);
  });
});
