import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { FRAME_DENYING_HEADERS, isCrossSiteRequest } from '../../src/producers/bull-board.js';
import { QUEUES } from '../../src/shared/keys.js';
import { TEST_TOKEN, createOpsTestContext, type OpsTestContext } from './helpers.js';

/**
 * A browser logged in to Bull Board with Basic may attach the cached credentials to requests that
 * another site's page makes: `POST /admin/queues/api/queues/<queue>/add` takes no body, so needs no
 * preflight, and put a job into a queue from any page the operator opened. The board takes changes
 * from its own page (or from clients that are not browser pages) only.
 */
const CHROMIUM = '/usr/bin/chromium';
const basic = `Basic ${Buffer.from(`ops:${TEST_TOKEN}`).toString('base64')}`;

describe('isCrossSiteRequest (pure)', () => {
  it("trusts the browser's Sec-Fetch-Site first", () => {
    expect(isCrossSiteRequest({ 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' })).toBe(
      false,
    );
    expect(isCrossSiteRequest({ 'sec-fetch-site': 'none' })).toBe(false);
    expect(isCrossSiteRequest({ 'sec-fetch-site': 'cross-site', host: 'ops.example' })).toBe(true);
    // Another origin of the same site (a sibling sub-domain) is another page too.
    expect(isCrossSiteRequest({ 'sec-fetch-site': 'same-site' })).toBe(true);
  });

  it('compares Origin with Host (or X-Forwarded-Host) without Sec-Fetch-Site', () => {
    expect(isCrossSiteRequest({ origin: 'http://ops.example:3000', host: 'ops.example:3000' })).toBe(false);
    expect(isCrossSiteRequest({ origin: 'http://OPS.example:3000', host: 'ops.example:3000' })).toBe(false);
    expect(
      isCrossSiteRequest({
        origin: 'https://ops.example',
        host: '127.0.0.1:3000',
        'x-forwarded-host': 'ops.example',
      }),
    ).toBe(false);
    expect(isCrossSiteRequest({ origin: 'https://evil.example', host: 'ops.example' })).toBe(true);
    expect(isCrossSiteRequest({ origin: 'null', host: 'ops.example' })).toBe(true);
  });

  it('lets a client that is not a browser page through (curl, scripts)', () => {
    expect(isCrossSiteRequest({ host: 'ops.example' })).toBe(false);
    expect(isCrossSiteRequest({})).toBe(false);
  });
});

describe('a Bull Board that takes changes (real Redis queues)', () => {
  let ctx: OpsTestContext;
  let app: FastifyInstance;
  let baseUrl: string;

  beforeAll(async () => {
    ctx = createOpsTestContext(
      { tokens: { getToken: async () => 'token' } },
      { BULL_BOARD_READ_ONLY: 'false' },
    );
    app = await buildApiApp(ctx);
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    await ctx?.close();
  });

  const waiting = async () => (await ctx.queues.audit.getJobCounts('waiting')).waiting ?? 0;

  it("refuses a change another site's page sends with the cached Basic login, and adds nothing", async () => {
    const before = await waiting();
    const crossSite: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      { origin: 'https://evil.example' },
      { origin: 'null' },
    ];
    for (const headers of crossSite) {
      const res = await fetch(`${baseUrl}/admin/queues/api/queues/${QUEUES.audit}/add`, {
        method: 'POST',
        headers: { authorization: basic, ...headers },
      });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(await res.json()).toMatchObject({
        error: { key: 'ERRORS.CROSS_SITE_REQUEST' },
        message: expect.stringMatching(/another site/) as unknown,
      });
    }
    const pause = await fetch(`${baseUrl}/admin/queues/api/queues/${QUEUES.poll}/pause`, {
      method: 'PUT',
      headers: { authorization: basic, 'sec-fetch-site': 'cross-site' },
    });
    expect(pause.status).toBe(403);
    expect(await waiting()).toBe(before);
    expect(await ctx.queues.poll.isPaused()).toBe(false);
  });

  it('still takes changes from its own page and from scripts, and reads from anywhere', async () => {
    const before = await waiting();
    const ownPageOrScript: Record<string, string>[] = [
      { 'sec-fetch-site': 'same-origin', origin: baseUrl },
      { origin: baseUrl },
      {},
    ];
    for (const headers of ownPageOrScript) {
      const res = await fetch(`${baseUrl}/admin/queues/api/queues/${QUEUES.audit}/add`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name: 'cross-site-test', data: {} }),
      });
      expect(res.status, JSON.stringify(headers)).toBe(200);
    }
    expect(await waiting()).toBe(before + 3);
    const read = await fetch(`${baseUrl}/admin/queues/api/queues`, {
      headers: { authorization: basic, 'sec-fetch-site': 'cross-site' },
    });
    expect(read.status).toBe(200);
  });

  it("answers a body it cannot read as the client's mistake, in the board's shape, and changes nothing", async () => {
    // Bull Board's own handler answered these 500 (the app's parser refused the body before the
    // board's route ran), and each was logged as a failed request with its stack.
    const before = await waiting();
    for (const [contentType, body, status, key, message] of [
      ['application/json', '{', 400, 'ERRORS.INVALID_JSON', /not valid JSON/],
      ['application/json', '{"__proto__":{"a":1}}', 400, 'ERRORS.INVALID_JSON', /__proto__|prototype/],
      ['text/plain', 'xx', 415, 'ERRORS.UNSUPPORTED_MEDIA_TYPE', /application\/json/],
    ] as const) {
      const res = await fetch(`${baseUrl}/admin/queues/api/queues/${QUEUES.audit}/add`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': contentType },
        body,
      });
      expect(res.status, body).toBe(status);
      expect(await res.json(), body).toEqual({ error: { key }, message: expect.stringMatching(message) });
    }
    const pause = await fetch(`${baseUrl}/admin/queues/api/queues/${QUEUES.poll}/pause`, {
      method: 'PUT',
      headers: { authorization: basic, 'content-type': 'application/json' },
      body: '{',
    });
    expect(pause.status).toBe(400);
    expect(await waiting()).toBe(before);
    expect(await ctx.queues.poll.isPaused()).toBe(false);
  });

  it('refuses to clean a status jobs are not kept in, and cleans one they are', async () => {
    const clean = (status: string) =>
      fetch(`${baseUrl}/admin/queues/api/queues/${QUEUES.audit}/clean/${status}`, {
        method: 'PUT',
        headers: { authorization: basic },
      });
    await ctx.queues.audit.add('clean-test', {});
    const before = await waiting();
    expect(before).toBeGreaterThan(0);
    // BullMQ was handed these and answered 200, a list that does not exist cleaned.
    for (const [status, message] of [
      ['bogus', /"bogus".*completed, failed/],
      ['paused', /paused queue's jobs are under waiting/],
      ['latest', /"latest"/],
    ] as const) {
      const res = await clean(status);
      expect(res.status, status).toBe(400);
      expect(await res.json(), status).toEqual({
        error: { key: 'ERRORS.STATUS_NOT_CLEANABLE' },
        message: expect.stringMatching(message),
      });
    }
    expect(await waiting()).toBe(before);
    // Bull Board cleans what is older than its grace time (5 s): a known status is taken, as before.
    expect((await clean('waiting')).status).toBe(200);
  });

  it('tells browsers never to show any of its answers inside a frame', async () => {
    for (const [path, authorization] of [
      ['/admin/queues', basic],
      ['/admin/queues/api/queues', basic],
      ['/admin/queues/api/queues', undefined],
    ] as const) {
      const res = await fetch(`${baseUrl}${path}`, authorization ? { headers: { authorization } } : {});
      expect(res.status, path).toBe(authorization ? 200 : 401);
      for (const [name, value] of Object.entries(FRAME_DENYING_HEADERS))
        expect(res.headers.get(name), `${path} ${name}`).toBe(value);
    }
    expect(FRAME_DENYING_HEADERS).toMatchObject({
      'x-frame-options': 'DENY',
      'content-security-policy': expect.stringContaining("frame-ancestors 'none'"),
    });
  });

  it.skipIf(!existsSync(CHROMIUM))(
    "a headless browser logged in to the board does not show it in another site's frame",
    async () => {
      let browser: Browser | undefined;
      let other: Server | undefined;
      try {
        other = createServer((_req, res) => {
          res.setHeader('content-type', 'text/html');
          res.end(`<iframe name="board" src="${baseUrl}/admin/queues"></iframe>`);
        });
        await new Promise<void>((resolve) => other!.listen(0, '127.0.0.1', resolve));
        // `localhost` is another site than `127.0.0.1`.
        const otherUrl = `http://localhost:${(other.address() as AddressInfo).port}/`;
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        });
        const context = await browser.newContext({
          httpCredentials: { username: 'ops', password: TEST_TOKEN },
        });
        const page = await context.newPage();
        await page.goto(`${baseUrl}/admin/queues`, { waitUntil: 'domcontentloaded' });
        await page.goto(otherUrl, { waitUntil: 'load' });
        const frame = page.frame({ name: 'board' });
        // Given the time the board takes to list its queues where it is shown (the other test's wait).
        await page.waitForTimeout(3_000);
        const shown = frame
          ? await frame
              .locator('body')
              .innerText({ timeout: 1_000 })
              .catch(() => '')
          : '';
        expect(shown).not.toContain(QUEUES.launch);
        expect(frame?.url() ?? '').not.toBe(`${baseUrl}/admin/queues`);
      } finally {
        await browser?.close();
        other?.close();
      }
    },
  );

  it.skipIf(!existsSync(CHROMIUM))(
    "a headless browser on the board's own page still pauses and resumes a queue",
    async () => {
      let browser: Browser | undefined;
      try {
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        });
        const context = await browser.newContext({
          httpCredentials: { username: 'ops', password: TEST_TOKEN },
        });
        const page = await context.newPage();
        expect(
          (await page.goto(`${baseUrl}/admin/queues`, { waitUntil: 'domcontentloaded' }))?.status(),
        ).toBe(200);
        // The board's own page sends its changes as this fetch does: same origin, Origin set.
        const statuses = await page.evaluate(async (queue) => {
          const pause = await fetch(`/admin/queues/api/queues/${queue}/pause`, { method: 'PUT' });
          const resume = await fetch(`/admin/queues/api/queues/${queue}/resume`, { method: 'PUT' });
          return [pause.status, resume.status];
        }, QUEUES.poll);
        expect(statuses).toEqual([200, 200]);
        expect(await ctx.queues.poll.isPaused()).toBe(false);
      } finally {
        await browser?.close();
      }
    },
  );
});
