import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import {
  BOARD_CONTENT_SECURITY_POLICY,
  adminCredentialsOk,
  boardServedMethods,
  CLEANABLE_STATUSES,
  cleanStatusProblem,
  isBullBoardPath,
  withoutExternalFonts,
} from '../../src/producers/bull-board.js';
import { QUEUES } from '../../src/shared/keys.js';
import { TEST_TOKEN, createOpsTestContext, type OpsTestContext } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('admin credentials (pure)', () => {
  it('accepts the API token as Bearer, or as the Basic password with any user name', () => {
    expect(adminCredentialsOk(`Bearer ${TEST_TOKEN}`, TEST_TOKEN)).toBe(true);
    expect(adminCredentialsOk(`bearer ${TEST_TOKEN}`, TEST_TOKEN)).toBe(true);
    expect(adminCredentialsOk(basic('ops', TEST_TOKEN), TEST_TOKEN)).toBe(true);
    expect(adminCredentialsOk(basic('', TEST_TOKEN), TEST_TOKEN)).toBe(true);
  });

  it('refuses everything else', () => {
    expect(adminCredentialsOk(undefined, TEST_TOKEN)).toBe(false);
    expect(adminCredentialsOk('Bearer wrong-token-xx', TEST_TOKEN)).toBe(false);
    expect(adminCredentialsOk(basic(TEST_TOKEN, 'wrong'), TEST_TOKEN)).toBe(false);
    expect(adminCredentialsOk(`Basic ${Buffer.from(TEST_TOKEN).toString('base64')}`, TEST_TOKEN)).toBe(false);
    expect(adminCredentialsOk(TEST_TOKEN, TEST_TOKEN)).toBe(false);
    expect(adminCredentialsOk(`Token ${TEST_TOKEN}`, TEST_TOKEN)).toBe(false);
  });

  it("takes the page's Google Fonts link out, and nothing else", () => {
    const page =
      '<head>\n    <link rel="icon" href="static/x.svg">\n' +
      '    <link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans:wght@400&display=swap" rel="stylesheet">\n' +
      '<link href="static/css/main.css" rel="stylesheet"></head>';
    expect(withoutExternalFonts(page)).toBe(
      '<head>\n    <link rel="icon" href="static/x.svg">\n    <link href="static/css/main.css" rel="stylesheet"></head>',
    );
    // Only this origin, whatever the page asks for.
    expect(BOARD_CONTENT_SECURITY_POLICY).toMatch(/^default-src 'self'; /);
    expect(BOARD_CONTENT_SECURITY_POLICY).not.toMatch(/https?:|\*/);
  });

  it("offers a read-only board's reads only, and leaves other paths and a writable board alone", () => {
    expect(boardServedMethods('/admin/queues/api/queues/pause', ['PUT'], true)).toEqual([]);
    expect(boardServedMethods('/admin/queues/api/queues/x/1', ['GET', 'HEAD', 'PUT'], true)).toEqual([
      'GET',
      'HEAD',
    ]);
    expect(boardServedMethods('/admin/queues/api/queues/pause', ['PUT'], false)).toEqual(['PUT']);
    expect(boardServedMethods('/v1/campaigns', ['GET', 'POST'], true)).toEqual(['GET', 'POST']);
    // As the router reads it: decoded segment by segment, a bad escape kept.
    expect(boardServedMethods('/%61dmin/queues/api/queues/pause', ['PUT'], true)).toEqual([]);
    expect(boardServedMethods('/admin/%71ueues/%zz', ['GET', 'PUT'], true)).toEqual(['GET']);
  });

  it('names the statuses a queue can be cleaned of, and refuses the rest', () => {
    for (const status of CLEANABLE_STATUSES) expect(cleanStatusProblem(status), status).toBeUndefined();
    expect(cleanStatusProblem('wait')).toBeUndefined();
    expect(cleanStatusProblem('waiting-children')).toMatch(/"waiting-children": one of completed/);
    expect(cleanStatusProblem('paused')).toMatch(/under waiting/);
    expect(cleanStatusProblem('')).toMatch(/""/);
  });

  it('recognises Bull Board paths only', () => {
    expect(isBullBoardPath('/admin/queues')).toBe(true);
    expect(isBullBoardPath('/admin/queues/api/queues?x=1')).toBe(true);
    expect(isBullBoardPath('/admin/queuesX')).toBe(false);
    expect(isBullBoardPath('/v1/campaigns')).toBe(false);
  });
});

describe('Bull Board in the producer API (real Redis queues)', () => {
  let ctx: OpsTestContext;
  let app: FastifyInstance;
  let baseUrl: string;

  beforeAll(async () => {
    ctx = createOpsTestContext(
      { tokens: { getToken: async () => 'token' } },
      { BULL_BOARD_READ_ONLY: 'true' },
    );
    app = await buildApiApp(ctx);
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await ctx.queues.launch.add('launch', { demo: true });
  });

  afterAll(async () => {
    await app?.close();
    await ctx?.close();
  });

  it('answers 401 with a Basic challenge and a JSON body without credentials', async () => {
    const res = await fetch(`${baseUrl}/admin/queues`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    const wrong = await fetch(`${baseUrl}/admin/queues/api/queues`, {
      headers: { authorization: basic('x', 'not-the-token') },
    });
    expect(wrong.status).toBe(401);
  });

  it("answers the board's Basic login under its whole path, on URLs and methods it does not serve too", async () => {
    for (const [method, path] of [
      ['GET', '/admin/queues/api/nothing'],
      ['GET', '/admin/queues/static/'],
      ['DELETE', '/admin/queues'],
    ] as const) {
      const loggedIn = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: basic('ops', TEST_TOKEN) },
      });
      expect(loggedIn.status, `${method} ${path}`).toBe(method === 'DELETE' ? 405 : 404);
      const anonymous = await fetch(`${baseUrl}${path}`, { method });
      expect(anonymous.status, `${method} ${path}`).toBe(401);
      // The browser's login prompt, as on the board's own pages.
      expect(anonymous.headers.get('www-authenticate'), `${method} ${path}`).toMatch(/^Basic realm=/);
      const wrong = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: basic('ops', 'nope') },
      });
      expect(wrong.status, `${method} ${path}`).toBe(401);
    }
    // Elsewhere under /admin the token is a Bearer token only.
    const webhooks = await fetch(`${baseUrl}/admin/webhooks/destination`, {
      headers: { authorization: basic('ops', TEST_TOKEN) },
    });
    expect([webhooks.status, webhooks.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
  });

  it('lists every queue, read-only, to Bearer and to Basic', async () => {
    for (const authorization of [`Bearer ${TEST_TOKEN}`, basic('ops', TEST_TOKEN)]) {
      const res = await fetch(`${baseUrl}/admin/queues/api/queues`, { headers: { authorization } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
      expect(body.queues.map((q) => q.name).sort()).toEqual(Object.values(QUEUES).sort());
      expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
    }
  });

  it("keeps Bull Board's error key for its UI and adds a message an operator can read", async () => {
    const headers = { authorization: `Bearer ${TEST_TOKEN}` };
    const pause = await fetch(`${baseUrl}/admin/queues/api/queues/${QUEUES.launch}/pause`, {
      method: 'PUT',
      headers,
    });
    expect(pause.status).toBe(405);
    expect(await pause.json()).toEqual({
      error: { key: 'ERRORS.QUEUE_READ_ONLY' },
      message: expect.stringMatching(/read-only here \(BULL_BOARD_READ_ONLY=true\)/),
    });
    const missing = await fetch(`${baseUrl}/admin/queues/api/queues/nope/x`, { headers });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      error: { key: 'ERRORS.QUEUE_NOT_FOUND' },
      message: 'Bull Board: queue not found',
    });
    expect(await ctx.queues.launch.isPaused()).toBe(false);
  });

  it('refuses every change through its API, pausing or resuming all queues included', async () => {
    const headers = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' };
    // Each 405 names in Allow what its path still serves read-only (RFC 9110): its reads, or nothing
    // on a path that takes changes only.
    for (const [method, path, allow] of [
      ['PUT', '/admin/queues/api/queues/pause', ''],
      ['PUT', '/admin/queues/api/queues/resume', ''],
      // Served to GET as well: its limit can still be read.
      ['PUT', `/admin/queues/api/queues/${QUEUES.launch}/rate-limit`, 'GET, HEAD'],
      // A GET of these paths is served too, as the job route's (`:queueName/:jobId`, job `empty`).
      ['PUT', `/admin/queues/api/queues/${QUEUES.poll}/empty`, 'GET, HEAD'],
      ['POST', `/admin/queues/api/queues/${QUEUES.launch}/add`, 'GET, HEAD'],
      // The router decodes the path: /%61pi/ is /api/.
      ['PUT', '/admin/queues/%61pi/queues/pause', ''],
      ['PUT', `/admin/queues/%61pi/queues/${QUEUES.launch}/rate-limit`, 'GET, HEAD'],
      ['PUT', '/admin/queues/%61pi/queues/resume', ''],
    ] as const) {
      const res = await fetch(`${baseUrl}${path}`, { method, headers, body: '{}' });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect(await res.json()).toMatchObject({ error: { key: 'ERRORS.QUEUE_READ_ONLY' } });
    }
    // A read of a path that takes changes only is no route of the board's at all: the app's 405, whose
    // Allow must not offer the change the read-only board refuses.
    // The router decodes the path (`/%61dmin/` is `/admin/`): the board's path however it is spelled.
    for (const path of [
      '/admin/queues/api/queues/pause',
      '/admin/queues/api/queues/resume',
      '/%61dmin/queues/api/queues/pause',
      '/admin/%71ueues/api/queues/resume',
    ]) {
      const res = await fetch(`${baseUrl}${path}`, { headers });
      expect(res.status, `GET ${path}`).toBe(405);
      expect(res.headers.get('allow'), `GET ${path}`).toBe('');
      expect(await res.json()).toMatchObject({ error: 'method_not_allowed', allowed: [] });
    }
    // What Allow names is served: reading the limit is not refused.
    const limit = await fetch(`${baseUrl}/admin/queues/api/queues/${QUEUES.launch}/rate-limit`, { headers });
    expect(limit.status).not.toBe(405);
    for (const queue of Object.values(ctx.queues)) expect(await queue.isPaused()).toBe(false);
  });

  it.skipIf(!hasChromium)(
    'a headless browser logs in with Basic credentials and sees every queue',
    async () => {
      let browser: Browser | undefined;
      try {
        browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        });
        const context = await browser.newContext({
          httpCredentials: { username: 'ops', password: TEST_TOKEN },
        });
        const page = await context.newPage();
        // The page loads from this server only (no Google Fonts), and its policy blocks nothing it needs.
        const elsewhere: string[] = [];
        page.on('request', (req) => {
          if (!req.url().startsWith(`${baseUrl}/`)) elsewhere.push(req.url());
        });
        const refused: string[] = [];
        page.on('console', (msg) => {
          if (/Content Security Policy/i.test(msg.text())) refused.push(msg.text());
        });
        const response = await page.goto(`${baseUrl}/admin/queues`, { waitUntil: 'domcontentloaded' });
        expect(response?.status()).toBe(200);
        expect(response?.headers()['content-security-policy']).toBe(BOARD_CONTENT_SECURITY_POLICY);
        expect(await response?.text()).not.toContain('fonts.googleapis.com');
        for (const name of Object.values(QUEUES)) {
          await page.getByText(name, { exact: true }).first().waitFor({ state: 'visible', timeout: 15_000 });
        }
        const text = await page.locator('body').innerText();
        for (const name of Object.values(QUEUES)) expect(text).toContain(name);
        expect(elsewhere).toEqual([]);
        expect(refused).toEqual([]);
      } finally {
        await browser?.close();
      }
    },
  );

  if (!hasChromium) {
    it('browser check skipped', () => {
      console.warn(
        `skipping the Bull Board browser test: ${CHROMIUM} is missing (apt-get install -y chromium)`,
      );
    });
  }
});
