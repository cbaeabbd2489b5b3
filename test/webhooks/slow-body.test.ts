import { createServer, type Server, type ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { deliverOnce, EXCERPT_WAIT_MS } from '../../src/shared/webhooks/deliver.js';
import { SECRET, cleanupsAfterEach } from './harness.js';
import { isolateProxyEnv, listenOnLoopback, startForwardProxy } from './proxy-helpers.js';

/**
 * A receiver that answers at once but then trickles its response body (a streaming endpoint behind
 * the URL, a misbehaving gateway) must not hold a delivery slot for the whole timeout: the status
 * decides the outcome, so the body is read for its excerpt only briefly, whatever the status.
 */

const cleanups = cleanupsAfterEach();
isolateProxyEnv();

const listen = async (server: Server) => `http://127.0.0.1:${await listenOnLoopback(server, cleanups)}`;

/** Answers `status` at once, then one byte every 100 ms, never ending. */
async function tricklingReceiver(status: number): Promise<string> {
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.write('first words ');
      const timer = setInterval(() => res.write('.'), 100);
      open.add(res);
      res.on('close', () => clearInterval(timer));
    });
  });
  cleanups.push(async () => {
    for (const res of open) res.destroy();
  });
  return `${await listen(server)}/hook`;
}

const forwardProxy = async () => (await startForwardProxy(cleanups)).url;

async function send(url: string) {
  return deliverOnce({
    url,
    secret: SECRET,
    eventId: 'evt_trickle',
    body: '{"n":1}',
    nowMs: Date.now(),
    timeoutMs: 5_000,
  });
}

describe.each([
  ['directly', false],
  ['through a proxy', true],
])('a receiver trickling its response body, %s', (_name, proxied) => {
  it('is delivered once a 2xx status arrives, after at most a short wait for the body', async () => {
    const url = await tricklingReceiver(200);
    if (proxied) process.env.HTTP_PROXY = await forwardProxy();
    const attempt = await send(url);
    expect(attempt.status).toBe(200);
    expect(attempt.error).toBeUndefined();
    expect(attempt.durationMs).toBeLessThan(EXCERPT_WAIT_MS + 1_000);
  });

  it('gives the excerpt of a failure only a short wait, keeping what arrived', async () => {
    const url = await tricklingReceiver(503);
    if (proxied) process.env.HTTP_PROXY = await forwardProxy();
    const attempt = await send(url);
    expect(attempt.status).toBe(503);
    expect(attempt.bodyExcerpt).toMatch(/^first words /);
    expect(attempt.durationMs).toBeLessThan(EXCERPT_WAIT_MS + 1_000);
  });
});
