import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { buildApiApp } from '../../src/producers/app.js';
import { commandFingerprint } from '../../src/producers/command-idempotency.js';
import { ALICE, adjustJobCount, startCommandApi, type CommandApi } from './command-api.js';
import type { Harness } from './harness.js';

/**
 * Idempotency-Key on PATCH /v1/campaigns/:id and POST …/actions, end to end: producer app → adjust
 * queue → worker → sandbox over real HTTP and real Redis. A client that lost the answer to a command
 * retries it with the same key and is told the command it made, not handed a second one.
 */
let h: Harness;
let app: FastifyInstance;
let api: CommandApi | undefined;
/** The same API over a context whose adjust queue refuses its next `refuseAdds` adds. */
let failingApp: FastifyInstance | undefined;
let refuseAdds = 0;

beforeAll(async () => {
  api = await startCommandApi();
  ({ h, app } = api);
  const adjust = h.ctx.queues.adjust;
  failingApp = await buildApiApp({
    ...h.ctx,
    queues: {
      ...h.ctx.queues,
      adjust: Object.assign(Object.create(adjust) as Queue, {
        add: async (...args: Parameters<Queue['add']>) => {
          if (refuseAdds > 0) {
            refuseAdds -= 1;
            throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
          }
          return adjust.add(...args);
        },
      }),
    },
  });
});

afterAll(async () => {
  await failingApp?.close();
  await api?.close();
});

const key = () => `cmd-key-${randomUUID()}`;

function act(id: string, body: Record<string, unknown>, idempotencyKey?: string, via = app) {
  return via.inject({
    method: 'POST',
    url: `/v1/campaigns/${id}/actions`,
    headers: { ...ALICE, ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
    payload: body,
  });
}

function patch(id: string, body: Record<string, unknown>, idempotencyKey: string) {
  return app.inject({
    method: 'PATCH',
    url: `/v1/campaigns/${id}`,
    headers: { ...ALICE, 'idempotency-key': idempotencyKey },
    payload: body,
  });
}

describe('Idempotency-Key on campaign commands', () => {
  it('answers a retried stop with the stop it made, where a second stop is refused', async () => {
    const campaign = await h.campaign('active');
    const k = key();
    const first = await act(campaign.id, { action: 'stop' }, k);
    expect(first.statusCode).toBe(202);
    const { commandId } = first.json() as { commandId: string };
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    await h.waitForCommand(commandId);
    const jobs = await adjustJobCount(h);

    const retry = await act(campaign.id, { action: 'stop' }, k);
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.headers.location).toBe(`/v1/commands/${commandId}`);
    expect(retry.json()).toEqual({ commandId, campaignId: campaign.id, status: 'succeeded' });
    expect(await adjustJobCount(h)).toBe(jobs);

    // Without the key the same request is a new command, which the stopped campaign refuses.
    const unkeyed = await act(campaign.id, { action: 'stop' });
    expect(unkeyed.statusCode).toBe(409);
    expect(unkeyed.json()).toMatchObject({ error: 'invalid_state' });
  });

  it('takes a PATCH with the same fields in another order as the same request', async () => {
    const campaign = await h.campaign('active');
    const k = key();
    const first = await patch(campaign.id, { dialerStrategy: { callRate: 0.4, agentCapacity: 7 } }, k);
    expect(first.statusCode).toBe(202);
    const { commandId } = first.json() as { commandId: string };
    const jobs = await adjustJobCount(h);
    const retry = await patch(campaign.id, { dialerStrategy: { agentCapacity: 7, callRate: 0.4 } }, k);
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toMatchObject({ commandId, campaignId: campaign.id });
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(await adjustJobCount(h)).toBe(jobs);
    await h.waitForCommand(commandId);
  });

  it('refuses a key used for another command, naming that command, and queues nothing', async () => {
    const campaign = await h.campaign('active');
    const k = key();
    const first = await patch(campaign.id, { dialerStrategy: { callRate: 0.5 } }, k);
    const { commandId } = first.json() as { commandId: string };
    await h.waitForCommand(commandId);
    const jobs = await adjustJobCount(h);

    const other = await patch(campaign.id, { dialerStrategy: { callRate: 0.6 } }, k);
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({
      error: 'idempotency_key_reused',
      commandId,
      campaignId: campaign.id,
    });
    // The same body on another campaign is another command too.
    const elsewhere = await h.campaign('active');
    const moved = await patch(elsewhere.id, { dialerStrategy: { callRate: 0.5 } }, k);
    expect(moved.statusCode).toBe(422);
    expect(await adjustJobCount(h)).toBe(jobs);
  });

  it('claims no key for a refused command: the key is free for the request that is accepted', async () => {
    const stopped = await h.campaign('active');
    const stop = await act(stopped.id, { action: 'stop' });
    await h.waitForCommand((stop.json() as { commandId: string }).commandId);
    const k = key();
    const refused = await act(stopped.id, { action: 'stop' }, k);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: 'invalid_state' });
    // Were the refusal holding the key, this other request with it would be a 422.
    const active = await h.campaign('active');
    const pause = await act(active.id, { action: 'pause' }, k);
    expect(pause.statusCode).toBe(202);
    expect(pause.headers['idempotent-replayed']).toBeUndefined();
    await h.waitForCommand((pause.json() as { commandId: string }).commandId);
  });

  it('refuses an unusable key before anything is queued', async () => {
    const campaign = await h.campaign('active');
    const jobs = await adjustJobCount(h);
    const res = await act(campaign.id, { action: 'pause' }, 'has a space');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_idempotency_key' });
    expect(await adjustJobCount(h)).toBe(jobs);
  });

  it('tells a retry to wait while the first request holds the key, and takes over a claim left dead', async () => {
    const campaign = await h.campaign('active');
    const k = key();
    const body = { action: 'pause' };
    // The first request's claim, written the moment before its command: what a retry racing it sees.
    const first = await act(campaign.id, body, k);
    const { commandId } = first.json() as { commandId: string };
    await h.waitForCommand(commandId);
    const claimKey = h.ctx.keys.custom('command-idem', k);
    const claim = JSON.parse((await h.ctx.redis.get(claimKey))!) as Record<string, unknown>;
    const missing = `cmd_${randomUUID()}`;
    await h.ctx.redis.set(
      claimKey,
      JSON.stringify({ ...claim, commandId: missing, claimedAtMs: h.ctx.clock.now() }),
    );

    const busy = await act(campaign.id, body, k);
    expect(busy.statusCode).toBe(409);
    expect(busy.json()).toMatchObject({ error: 'idempotency_key_in_use', commandId: missing });
    expect(busy.headers['retry-after']).toBe('2');

    // The same claim an hour old: its request died between the claim and the command. The retry is
    // judged and queued afresh, under the key, as a command of its own.
    await h.ctx.redis.set(claimKey, JSON.stringify({ ...claim, commandId: missing, claimedAtMs: 0 }));
    const afresh = await act(campaign.id, body, k);
    expect(afresh.statusCode).toBe(202);
    expect(afresh.headers['idempotent-replayed']).toBeUndefined();
    const retried = (afresh.json() as { commandId: string }).commandId;
    expect([commandId, missing]).not.toContain(retried);
    await h.waitForCommand(retried);
    const replay = await act(campaign.id, body, k);
    expect(replay.json()).toMatchObject({ commandId: retried });
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('frees the key of a command whose enqueue failed, so the retry with it is queued once', async () => {
    const campaign = await h.campaign('active');
    const k = key();
    refuseAdds = 1;
    const failed = await act(campaign.id, { action: 'pause' }, k, failingApp);
    expect(failed.statusCode).toBeGreaterThanOrEqual(500);
    const jobs = await adjustJobCount(h);

    const retry = await act(campaign.id, { action: 'pause' }, k, failingApp);
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const { commandId } = retry.json() as { commandId: string };
    expect(await adjustJobCount(h)).toBe(jobs + 1);
    await h.waitForCommand(commandId);
    const again = await act(campaign.id, { action: 'pause' }, k, failingApp);
    expect(again.json()).toMatchObject({ commandId, status: 'succeeded' });
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('takes a key whose command was never queued as free, should freeing it have failed', async () => {
    const campaign = await h.campaign('active');
    const k = key();
    refuseAdds = 1;
    const failed = await act(campaign.id, { action: 'pause' }, k, failingApp);
    expect(failed.statusCode).toBeGreaterThanOrEqual(500);
    // The command the failed request recorded, closed as never queued.
    let notQueued: { commandId: string; error?: { kind?: string } } | undefined;
    for await (const batch of h.ctx.redis.scanStream({
      match: h.ctx.keys.command('*'),
      count: 500,
    }) as AsyncIterable<string[]>) {
      for (const commandKey of batch) {
        const record = JSON.parse((await h.ctx.redis.get(commandKey)) ?? 'null') as {
          commandId: string;
          campaignId: string;
          status: string;
          error?: { kind?: string };
        } | null;
        if (record?.campaignId === campaign.id && record.status === 'failed') notQueued = record;
      }
    }
    expect(notQueued?.error?.kind).toBe('not_queued');
    // Its claim back, as if the release had failed with Redis refusing writes.
    await h.ctx.redis.set(
      h.ctx.keys.custom('command-idem', k),
      JSON.stringify({
        commandId: notQueued!.commandId,
        campaignId: campaign.id,
        fingerprint: commandFingerprint(campaign.id, { action: 'pause' }),
        claimedAtMs: h.ctx.clock.now(),
      }),
    );
    const retry = await act(campaign.id, { action: 'pause' }, k);
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    const { commandId } = retry.json() as { commandId: string };
    expect(commandId).not.toBe(notQueued!.commandId);
    expect((await h.waitForCommand(commandId)).status).toBe('succeeded');
  });

  it('queues one command for two requests with one key sent at once', async () => {
    const campaign = await h.campaign('active');
    const k = key();
    const jobs = await adjustJobCount(h);
    const answers = await Promise.all([
      patch(campaign.id, { dialerStrategy: { callRate: 0.3 } }, k),
      patch(campaign.id, { dialerStrategy: { callRate: 0.3 } }, k),
    ]);
    expect(await adjustJobCount(h)).toBe(jobs + 1);
    const accepted = answers.filter((a) => a.statusCode === 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    const ids = new Set(accepted.map((a) => (a.json() as { commandId: string }).commandId));
    expect(ids.size).toBe(1);
    // The other is the same command replayed, or told to retry while the first is still queueing it.
    for (const answer of answers.filter((a) => a.statusCode !== 202)) {
      expect(answer.statusCode).toBe(409);
      expect(answer.json()).toMatchObject({ error: 'idempotency_key_in_use' });
    }
    await h.waitForCommand([...ids][0]!);
  });
});
