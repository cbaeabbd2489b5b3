import net from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_BODY } from '../../src/producers/no-body.js';
import { api, API_TOKEN, startStack, waitFor, type Stack } from '../e2e/stack.js';
import { rawExchange } from '../support/raw-http.js';

/**
 * A POST that reads no body (what it does is named by its path) used to parse a JSON body and ignore
 * it: `POST /v1/webhooks/dead-letters/replay {"eventIds": ["evt_1"]}` replayed every dead letter,
 * not the one its sender named. A body with something in it is now refused, naming each field, and
 * one of another type is told the route reads none rather than to "send the body as application/json".
 * An empty body, or `{}` (what many clients send for "nothing"), is still the bare POST.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

const routes = [
  '/v1/webhooks/evt_abc123/replay',
  '/v1/webhooks/dead-letters/replay',
  '/admin/webhooks/destination/enable',
  '/v1/campaigns/unknown-campaign/audit/import-history',
];

describe('POST routes that read no body', () => {
  it('refuse a JSON body with fields, naming each, as fields no route reads', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'POST', route, { body: { eventIds: ['evt_1'], limit: 5 } });
      expect(reply.status, route).toBe(400);
      expect(reply.body, route).toEqual({
        error: 'validation_failed',
        message: expect.stringContaining('eventIds: unknown field') as unknown,
        issues: [
          { path: 'eventIds', message: 'unknown field: this route reads no body; send the POST without one' },
          { path: 'limit', message: 'unknown field: this route reads no body; send the POST without one' },
        ],
      });
    }
  });

  it('refuse a JSON body that is not an object', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'POST', route, { raw: '["evt_1"]' });
      expect(reply.status, route).toBe(400);
      expect(reply.body, route).toMatchObject({
        error: 'validation_failed',
        issues: [{ path: '(body)', message: 'this route reads no body; send the POST without one' }],
      });
    }
  });

  it('tell a body of another type that the route reads none, not to send JSON', async () => {
    for (const route of routes) {
      const reply = await api(stack, 'POST', route, {
        raw: 'evt_1',
        headers: { 'content-type': 'text/plain' },
      });
      expect(reply.status, route).toBe(415);
      expect(reply.body, route).toEqual({
        error: 'unsupported_media_type',
        message: 'this route reads no body; send the POST without one',
      });
    }
  });

  it('answer {} as the bare POST', async () => {
    for (const route of routes) {
      const bare = await api(stack, 'POST', route);
      const empty = await api(stack, 'POST', route, { body: {} });
      expect([empty.status, empty.body], route).toEqual([bare.status, bare.body]);
    }
  });

  it('take an empty chunked body as the bare POST, and refuse a chunked one with something in it', async () => {
    // A body sent with Transfer-Encoding: chunked announces no length (a streamed fetch, a client in
    // chunked streaming mode); its emptiness is known from its chunks, not from Content-Length.
    const { hostname, port } = new URL(stack.apiUrl);
    const chunked = async (route: string, type: string, body: string) => {
      const chunks = body === '' ? '' : `${body.length.toString(16)}\r\n${body}\r\n`;
      const text = await rawExchange(
        Number(port),
        `POST ${route} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${API_TOKEN}\r\n` +
          `Content-Type: ${type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`,
        hostname,
      );
      const [head = '', answer = ''] = text.split('\r\n\r\n');
      return [Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), JSON.parse(answer) as unknown];
    };
    for (const route of routes) {
      const bare = await api(stack, 'POST', route);
      for (const type of ['application/json', 'text/plain']) {
        expect(await chunked(route, type, ''), `${route} ${type}`).toEqual([bare.status, bare.body]);
      }
      expect(await chunked(route, 'application/json', '{}'), route).toEqual([bare.status, bare.body]);
      expect(await chunked(route, 'application/json', '{"eventIds":[]}'), route).toEqual([
        400,
        expect.objectContaining({ error: 'validation_failed' }),
      ]);
      expect(await chunked(route, 'text/plain', 'evt_1'), route).toEqual([
        415,
        { error: 'unsupported_media_type', message: 'this route reads no body; send the POST without one' },
      ]);
    }
  });
});

describe('the no-body hook on a chunked body that came in before it ran', () => {
  // The API awaits nothing before this hook today, so it reads a chunked body as it arrives; a hook
  // that awaits (I/O, a timer) lets the whole body and its end arrive first. The first chunk then put
  // back waited for an end already emitted, and the request hung; a client gone by then left the hook
  // waiting on a stream that emits nothing more.
  const settled: string[] = [];
  const app = Fastify();
  app.addHook('onRequest', async () => {
    await sleep(50);
  });
  app.post(
    '/x',
    {
      preValidation: NO_BODY.preValidation,
      preParsing: async (request: FastifyRequest, reply: FastifyReply, payload: Readable) => {
        try {
          return await NO_BODY.preParsing(request, reply, payload);
        } finally {
          settled.push(String(request.headers['x-case']));
        }
      },
    },
    async (request) => ({ body: request.body ?? null }),
  );
  let port = 0;
  beforeAll(async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await app.close();
  });
  const head = (name: string) =>
    `POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Case: ${name}\r\nContent-Type: application/json\r\n` +
    'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n';

  it('reads the whole body, once', async () => {
    const answer = (body: string) =>
      Promise.race([
        rawExchange(port, `${head('whole')}${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
        sleep(3_000).then(() => 'no answer'),
      ]).then((text) => text.split('\r\n\r\n')[1] ?? text);
    expect(await answer('{}')).toBe('{"body":{}}');
    expect(JSON.parse(await answer('{"eventIds":[]}'))).toMatchObject({
      message: expect.stringContaining('eventIds: unknown field') as unknown,
    });
  });

  it('settles when the client left before it ran', async () => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`${head('gone')}2\r\n{}`);
      setTimeout(() => socket.destroy(), 10);
    });
    socket.on('error', () => undefined);
    await waitFor('the hook to settle', async () => settled.includes('gone'), 3_000);
  });
});
