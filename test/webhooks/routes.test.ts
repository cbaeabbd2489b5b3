import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { toErrorResponse } from '../../src/producers/errors.js';
import { buildOpenApiDocument } from '../../src/producers/openapi.js';
import { apiDeadlineMs, registerRequestGuard } from '../../src/producers/request-guard.js';
import {
  registerWebhookRoutes,
  replayAllBudgetMs,
  REPLAY_ALL_BUDGET_MS,
  type WebhookRoutesOptions,
} from '../../src/producers/routes/webhooks.js';
import { deadLetter } from '../../src/shared/webhooks/store.js';
import { Receiver, startHarness, waitFor, type Harness, cleanupsAfterEach } from './harness.js';

const cleanups = cleanupsAfterEach();

/** The first 8 hex digits of the SHA-256 of the whole URL, as an operator computes them. */
const digest8 = (url: string): string => createHash('sha256').update(url).digest('hex').slice(0, 8);

async function setup(
  receiver: Receiver | undefined,
  opts: WebhookRoutesOptions = {},
  /** The request deadline of the API's request guard, when the routes should run behind it. */
  deadlineMs?: number,
  webhookUrl = receiver?.url,
): Promise<{ h: Harness; app: FastifyInstance }> {
  const h = await startHarness(webhookUrl);
  const app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    const r = toErrorResponse(err);
    void reply.code(r.status).send(r.body);
  });
  if (deadlineMs !== undefined) registerRequestGuard(app, h.ctx, deadlineMs);
  await registerWebhookRoutes(app, h.ctx, opts);
  await app.ready();
  cleanups.push(
    async () => receiver?.stop(),
    () => h.close(),
    () => app.close(),
  );
  return { h, app };
}

describe('webhook routes', () => {
  it('replays one event and all dead letters over HTTP, reporting each event state', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 422, body: 'schema mismatch' });
    const { h, app } = await setup(receiver);
    const a = await h.events.publish('campaign.state.changed', 'camp-1', { to: 'paused' });
    const b = await h.events.publish('campaign.state.changed', 'camp-2', { to: 'active' });
    await waitFor(
      async () => (await h.redis.zcard(h.keys.webhookDeadLetters())) === 2,
      10_000,
      'dead letters',
    );

    const list = await app.inject({ method: 'GET', url: '/v1/webhooks/dead-letters' });
    expect(list.json()).toMatchObject({ total: 2 });
    const status = await app.inject({ method: 'GET', url: `/v1/webhooks/events/${a.id}` });
    expect(status.json()).toMatchObject({
      event: { id: a.id, campaignId: 'camp-1' },
      delivery: {
        state: 'dead',
        attempts: 1,
        lastStatus: 422,
        deadLetter: { reason: 'rejected', status: 422 },
      },
    });

    receiver.respond = () => ({ status: 200 });
    const one = await app.inject({ method: 'POST', url: `/v1/webhooks/${a.id}/replay` });
    expect(one.statusCode).toBe(202);
    expect(one.json()).toEqual({ eventId: a.id, status: 'queued' });
    await waitFor(async () => (await h.redis.zscore(h.keys.webhookDelivered(), a.id)) !== null, 10_000, 'a');
    const all = await app.inject({ method: 'POST', url: '/v1/webhooks/dead-letters/replay' });
    expect(all.statusCode).toBe(202);
    expect(all.json()).toEqual({ queued: [b.id], alreadyQueued: [], notFound: [], remaining: 0 });
    await waitFor(async () => (await h.redis.zcard(h.keys.webhookDelivered())) === 2, 10_000, 'b');
    const delivered = await app.inject({ method: 'GET', url: `/v1/webhooks/events/${b.id}` });
    expect(delivered.json()).toMatchObject({ delivery: { state: 'delivered', lastStatus: 200 } });
    expect(delivered.json().delivery.deliveredAt).toEqual(expect.any(String));

    expect(
      (await app.inject({ method: 'POST', url: '/v1/webhooks/evt_doesnotexist/replay' })).statusCode,
    ).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/v1/webhooks/not-an-event/replay' })).statusCode).toBe(
      400,
    );
  });

  it('replays a backlog of dead letters over several calls, each within its time budget', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 422 });
    // No time to spare: each call replays one dead letter and says how many it left.
    const { h, app } = await setup(receiver, { replayAllBudgetMs: 0 });
    const ids: string[] = [];
    for (const c of ['camp-r1', 'camp-r2', 'camp-r3'])
      ids.push((await h.events.publish('campaign.state.changed', c, { to: 'paused' })).id);
    await waitFor(
      async () => (await h.redis.zcard(h.keys.webhookDeadLetters())) === 3,
      10_000,
      'dead letters',
    );
    receiver.respond = () => ({ status: 200 });
    const answers = [];
    for (let call = 0; call < 3; call++) {
      const res = await app.inject({ method: 'POST', url: '/v1/webhooks/dead-letters/replay' });
      expect(res.statusCode).toBe(202);
      answers.push(res.json());
    }
    expect(answers.map((a) => [a.queued.length, a.remaining])).toEqual([
      [1, 2],
      [1, 1],
      [1, 0],
    ]);
    expect(answers.flatMap((a) => a.queued).sort()).toEqual([...ids].sort());
    await waitFor(async () => (await h.redis.zcard(h.keys.webhookDelivered())) === 3, 10_000, 'delivered');
  });

  it("sizes a replay of every dead letter by its request's deadline: a third of it, at most 5 s", async () => {
    // The shortest CXONE_TIMEOUT_MS (100 ms) gives a 5.1 s deadline: a fixed 5 s budget left 0.1 s.
    expect(replayAllBudgetMs(apiDeadlineMs(100))).toBe(1_700);
    expect(replayAllBudgetMs(apiDeadlineMs(10_000))).toBe(REPLAY_ALL_BUDGET_MS);
    expect(replayAllBudgetMs(apiDeadlineMs(600_000))).toBe(REPLAY_ALL_BUDGET_MS);
    expect(replayAllBudgetMs(undefined)).toBe(REPLAY_ALL_BUDGET_MS);

    // Through the route, behind the request guard: a clock that moves 1 s each time it is read (once
    // to start, then before every replay after the first) replays 2 of 6 in 1.7 s, 5 of 6 in 5 s.
    const replayed: Array<[number, number]> = [];
    for (const cxoneTimeoutMs of [100, 10_000]) {
      const receiver = await new Receiver().start();
      receiver.respond = () => ({ status: 422 });
      let clock = 0;
      const { h, app } = await setup(
        receiver,
        { now: () => (clock += 1_000) },
        apiDeadlineMs(cxoneTimeoutMs),
      );
      for (let i = 0; i < 6; i++)
        await h.events.publish('campaign.state.changed', `camp-b${i}`, { to: 'paused' });
      await waitFor(
        async () => (await h.redis.zcard(h.keys.webhookDeadLetters())) === 6,
        10_000,
        'dead letters',
      );
      receiver.respond = () => ({ status: 200 });
      const res = await app.inject({ method: 'POST', url: '/v1/webhooks/dead-letters/replay' });
      expect(res.statusCode).toBe(202);
      const body = res.json<{ queued: string[]; remaining: number }>();
      replayed.push([body.queued.length, body.remaining]);
    }
    expect(replayed).toEqual([
      [2, 4],
      [5, 1],
    ]);
  });

  it('documents the replay of every dead letter as replaying a share of them, saying what `remaining` is', () => {
    // As the running app lists the route (ops.ts collects every route it registers).
    const doc = buildOpenApiDocument({
      extraRoutes: [{ method: 'POST', path: '/v1/webhooks/dead-letters/replay' }],
    }) as { paths: Record<string, Record<string, { summary?: string }>> };
    const op = doc.paths['/v1/webhooks/dead-letters/replay']?.post;
    // One call may replay only part of the backlog: "every" would promise what one call does not do.
    expect(op?.summary).not.toMatch(/\bevery\b/i);
    expect(op?.summary).toMatch(/`remaining`/);
  });

  it('re-enables a destination disabled by 410 through the admin endpoint', async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 410 });
    const { h, app } = await setup(receiver);
    await h.events.publish('campaign.launch.succeeded', 'camp-3', {});
    await waitFor(
      async () => (await h.redis.zcard(h.keys.webhookDeadLetters())) === 1,
      10_000,
      'dead letter',
    );
    const disabled = await app.inject({ method: 'GET', url: '/admin/webhooks/destination' });
    expect(disabled.json()).toMatchObject({
      configured: true,
      enabled: false,
      status: 410,
      destination: `http://127.0.0.1:${receiver.port} (#${digest8(receiver.url)})`,
      pathOrQueryHidden: true,
    });

    const enable = await app.inject({ method: 'POST', url: '/admin/webhooks/destination/enable' });
    expect(enable.json()).toMatchObject({ enabled: true, wasEnabled: false });
    const after = await app.inject({ method: 'GET', url: '/admin/webhooks/destination' });
    expect(after.json()).toMatchObject({ enabled: true });
  });

  it("never answers WEBHOOK_URL's path or query, where receivers keep a token, disabled or enabled", async () => {
    const receiver = await new Receiver().start();
    receiver.respond = () => ({ status: 410 });
    const url = `http://127.0.0.1:${receiver.port}/services/T0/B0/s3cr3tpath?token=s3cr3tquery`;
    const { h, app } = await setup(receiver, {}, undefined, url);
    const origin = `http://127.0.0.1:${receiver.port}`;
    const shown = { destination: `${origin} (#${digest8(url)})`, pathOrQueryHidden: true };
    const secretFree = (body: string): void => {
      expect(body).not.toMatch(/s3cr3t|token|services/);
      expect(body).toContain(origin);
      expect(body).toContain(digest8(url));
    };

    const before = await app.inject({ method: 'GET', url: '/admin/webhooks/destination' });
    expect(before.json()).toEqual({ configured: true, ...shown, enabled: true });
    secretFree(before.body);

    // Disabled by a 410 from that URL: the state names the destination the same way.
    await h.events.publish('campaign.launch.succeeded', 'camp-secret', {});
    await waitFor(
      async () => (await h.redis.zcard(h.keys.webhookDeadLetters())) === 1,
      10_000,
      'dead letter',
    );
    expect(receiver.received).toHaveLength(1);
    const disabled = await app.inject({ method: 'GET', url: '/admin/webhooks/destination' });
    expect(disabled.json()).toMatchObject({ configured: true, ...shown, enabled: false, status: 410 });
    secretFree(disabled.body);

    const enable = await app.inject({ method: 'POST', url: '/admin/webhooks/destination/enable' });
    expect(enable.json()).toEqual({ configured: true, ...shown, enabled: true, wasEnabled: false });
    secretFree(enable.body);
    const deadLetters = await app.inject({ method: 'GET', url: '/v1/webhooks/dead-letters' });
    expect(deadLetters.body).not.toMatch(/s3cr3t|token|services/);
  });

  it("keeps WEBHOOK_URL's path and query out of the receiver's answer as dead letters and the trail keep it", async () => {
    const receiver = await new Receiver().start();
    const path = '/services/T0/B0/s3cr3tpath-0123';
    const url = `http://127.0.0.1:${receiver.port}${path}?token=s3cr3tquery-4567`;
    // What receivers answer to a path they do not serve: Express's 404 page names it, others echo
    // the whole URL, or only the token.
    receiver.respond = (req) => ({
      status: 404,
      body:
        `<pre>Cannot POST ${req.url ?? ''}</pre> ${JSON.stringify({ url })} ` +
        `unknown hook s3cr3tpath-0123 (token s3cr3tquery-4567) at ${decodeURIComponent(path)}`,
    });
    const { h, app } = await setup(receiver, {}, undefined, url);
    await h.events.publish('campaign.state.changed', 'camp-excerpt', {});
    await waitFor(
      async () => (await h.redis.zcard(h.keys.webhookDeadLetters())) === 1,
      10_000,
      'dead letter',
    );
    await waitFor(async () => (await h.audit.list('camp-excerpt')).length === 1, 10_000, 'audit record');
    expect(receiver.received).toHaveLength(1);

    const deadLetters = await app.inject({ method: 'GET', url: '/v1/webhooks/dead-letters' });
    const [letter] = (deadLetters.json() as { deadLetters: Array<{ status: number; bodyExcerpt: string }> })
      .deadLetters;
    expect(letter?.status).toBe(404);
    // The answer is still there to read, with the destination's label in place of the URL.
    expect(letter?.bodyExcerpt).toContain('Cannot POST');
    expect(letter?.bodyExcerpt).toContain(`http://127.0.0.1:${receiver.port} (#${digest8(url)})`);
    expect(deadLetters.body).not.toMatch(/s3cr3t/);
    expect(JSON.stringify(await h.audit.list('camp-excerpt'))).not.toMatch(/s3cr3t/);
  });

  it('reads an empty ?limit= as not given, and still refuses a bad one', async () => {
    const { h, app } = await setup(await new Receiver().start());
    // One more than the default page (100), so that a default that is not applied shows.
    const at = Date.now();
    for (let i = 0; i < 101; i++) {
      const eventId = `evt-listed-${i}`;
      await h.redis.hset(h.keys.webhookEvent(eventId), { body: '{}', type: 'campaign.state.changed' });
      await deadLetter(h, { eventId, reason: 'exhausted', attempts: 9, at: new Date(at + i).toISOString() });
    }
    for (const url of ['/v1/webhooks/dead-letters?limit=', '/v1/webhooks/dead-letters']) {
      const page = await app.inject({ method: 'GET', url });
      expect(page.statusCode, url).toBe(200);
      const body = page.json() as { total: number; deadLetters: { eventId: string }[] };
      expect(body.total, url).toBe(101);
      expect(body.deadLetters, url).toHaveLength(100);
      expect(body.deadLetters[0]?.eventId, url).toBe('evt-listed-100');
    }
    expect((await app.inject({ method: 'GET', url: '/v1/webhooks/dead-letters?limit=0' })).statusCode).toBe(
      400,
    );
    expect((await app.inject({ method: 'GET', url: '/v1/webhooks/dead-letters?limit=x' })).statusCode).toBe(
      400,
    );
  });

  it('shows when a delivered event was delivered again by a replay, and counts each send', async () => {
    const receiver = await new Receiver().start();
    const { h, app } = await setup(receiver);
    const e = await h.events.publish('campaign.state.changed', 'camp-re', { to: 'paused' });
    await waitFor(async () => (await h.queue.getJob(e.id).then((j) => j?.getState())) === 'completed');
    expect((await app.inject({ method: 'POST', url: `/v1/webhooks/${e.id}/replay` })).statusCode).toBe(202);
    await waitFor(() => receiver.received.length === 2, 10_000, 'redelivery');
    await waitFor(async () => (await h.redis.hget(h.keys.webhookEvent(e.id), 'redeliveredAt')) !== null);
    const status = (await app.inject({ method: 'GET', url: `/v1/webhooks/events/${e.id}` })).json();
    expect(status.delivery).toMatchObject({
      state: 'delivered',
      attempts: 2,
      lastStatus: 200,
      deliveredAt: expect.any(String),
      redeliveredAt: expect.any(String),
    });
    expect(Date.parse(status.delivery.redeliveredAt)).toBeGreaterThanOrEqual(
      Date.parse(status.delivery.deliveredAt),
    );
  });

  it('answers 409 to replays when no webhook destination is configured', async () => {
    const { app } = await setup(undefined);
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks/dead-letters/replay' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: 'webhooks_disabled' });
    expect((await app.inject({ method: 'GET', url: '/admin/webhooks/destination' })).json()).toEqual({
      configured: false,
    });
  });
});
