import type http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { closeWithin } from '../../src/process/close-within.js';

/** A client that sends a request's headers and half its body, then stalls. */
async function stalledClient(server: http.Server): Promise<net.Socket> {
  const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  // Returned once the server has the request (a fixed pause could end before it did, and a
  // connection with no request yet is idle: close() ends it at once, with nothing to cut).
  const begun = new Promise<void>((resolve) => server.once('request', () => resolve()));
  socket.write(
    'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
  );
  socket.on('error', () => undefined);
  await begun;
  return socket;
}

describe('closeWithin', () => {
  let app: FastifyInstance | undefined;
  const sockets: net.Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    app = undefined;
  });

  async function listening(): Promise<FastifyInstance> {
    app = Fastify();
    app.post('/echo', async (request) => request.body);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app;
  }

  it('cuts a connection stalled mid-request at the bound instead of waiting for it', async () => {
    const server = await listening();
    const socket = await stalledClient(server.server);
    sockets.push(socket);
    const closedByServer = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const started = Date.now();
    const cut = await closeWithin(() => server.close(), server.server, 300);
    expect(cut).toBe(true);
    await closedByServer;
    // Without the cut, close() would wait for Node's request timeout (minutes).
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('lets an idle server close on its own and cuts nothing', async () => {
    const server = await listening();
    const port = (server.server.address() as AddressInfo).port;
    const res = await fetch(`http://127.0.0.1:${port}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(await res.json()).toEqual({ a: 1 });
    expect(await closeWithin(() => server.close(), server.server, 5_000)).toBe(false);
  });
});
