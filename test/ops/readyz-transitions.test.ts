import net from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerOpsRoutes } from '../../src/producers/routes/ops.js';
import { recordingLogger, type LogLine } from '../support/log-capture.js';
import { createOpsTestContext, type OpsTestContext } from './helpers.js';

/** A token provider whose answer the test controls (the CXone check fails while `fail` is set). */
const token = { fail: false };
const fakeCxone = {
  tokens: {
    getToken: async () => {
      if (token.fail) throw new Error('CXone answered 503 to POST /oauth2/token');
      return 'access-token';
    },
  },
};

/**
 * The log an operator reads to tell when an outage began and ended: a warning when /readyz turns not
 * ready, and one info line when it is ready again — per transition, not per probe. Real Redis.
 */
describe('/readyz transitions in the log', () => {
  let base: OpsTestContext;
  let app: FastifyInstance;
  let lines: LogLine[];
  const cxoneHost = net.createServer((socket) => socket.destroy());

  beforeAll(async () => {
    await new Promise<void>((resolve) => cxoneHost.listen(0, '127.0.0.1', resolve));
    const { port } = cxoneHost.address() as net.AddressInfo;
    base = createOpsTestContext(fakeCxone, { SANDBOX_PORT: String(port) });
    const recording = recordingLogger('info');
    lines = recording.lines;
    app = Fastify();
    await registerOpsRoutes(app, { ...base, logger: recording.logger }, { probeTimeoutMs: 500 });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await base?.close();
    await new Promise((resolve) => cxoneHost.close(resolve));
  });

  const probe = async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode;
  const ops = () => lines.filter((l) => l.msg === 'not ready' || l.msg.startsWith('ready again'));

  it('logs one info line when the process is ready again, with how long and which checks failed', async () => {
    expect(await probe()).toBe(200);
    expect(await probe()).toBe(200);
    expect(ops()).toEqual([]);

    token.fail = true;
    const outageStarted = Date.now();
    for (let i = 0; i < 3; i++) expect(await probe()).toBe(503);
    await new Promise((r) => setTimeout(r, 200));
    token.fail = false;
    for (let i = 0; i < 3; i++) expect(await probe()).toBe(200);
    const outageMs = Date.now() - outageStarted;

    const logged = ops();
    // One warning for the outage (probes every few seconds do not each warn), one line for its end.
    expect(logged.map((l) => [l.level, l.msg.split(' after ')[0]])).toEqual([
      [40, 'not ready'],
      [30, 'ready again'],
    ]);
    const ready = logged[1]!;
    expect(ready.failedChecks).toEqual(['cxone']);
    expect(ready.notReadyMs).toBeGreaterThanOrEqual(200);
    expect(ready.notReadyMs).toBeLessThanOrEqual(outageMs);
    expect(ready.msg).toMatch(/^ready again after \d+ s not ready \(failed: cxone\)$/);
  });

  it('warns at once when it turns not ready again, however soon after the last outage', async () => {
    const before = ops().length;
    token.fail = true;
    expect(await probe()).toBe(503);
    token.fail = false;
    expect(await probe()).toBe(200);
    expect(
      ops()
        .slice(before)
        .map((l) => l.level),
    ).toEqual([40, 30]);
  });
});
