import net from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  NOT_READY_LOG_EVERY_MS,
  readinessLog,
  registerOpsRoutes,
  type Readiness,
} from '../../src/producers/routes/ops.js';
import { recordingLogger, type LogLine } from '../support/log-capture.js';
import { createOpsTestContext, type OpsTestContext } from './helpers.js';

/** A token provider whose answer the test controls (the CXone check fails while `fail` is set). */
const token = { fail: false, hang: false, hung: 0 };
const fakeCxone = {
  tokens: {
    getToken: async () => {
      // Slower than the probe's 2 s bound: that probe's CXone check times out.
      if (token.hang) {
        token.hung += 1;
        await new Promise((r) => setTimeout(r, 3_000));
      }
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
    // The default bound: every probe here but the slow one must read Redis and reach CXone's host in
    // time, which 500 ms could cut short on a loaded machine.
    await registerOpsRoutes(app, { ...base, logger: recording.logger }, { probeTimeoutMs: 2_000 });
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

  it('does not log a fresh outage when a slow probe from before the recovery answers after a quick one', async () => {
    expect(await probe()).toBe(200);
    const before = ops().length;
    token.hang = true;
    const hungBefore = token.hung;
    const slow = probe();
    // CXone recovers once the slow probe is stuck on it (a fixed pause could end before the probe
    // reached its CXone check on a loaded machine, and then it would not be slow).
    await vi.waitFor(() => expect(token.hung).toBeGreaterThan(hungBefore), { timeout: 5_000, interval: 5 });
    token.hang = false;
    // The quick probe answers first; the slow one (begun while CXone hung) times out after it.
    expect(await probe()).toBe(200);
    expect(await slow).toBe(503);
    expect(await probe()).toBe(200);
    // The process was answering ready by then: no "not ready" for a stale answer, no "ready again".
    expect(ops().slice(before)).toEqual([]);
  });
});

describe('readinessLog (injected clock)', () => {
  const down = (check: 'redis' | 'cxone'): Readiness => ({
    status: 'not_ready',
    checks: {
      redis: check === 'redis' ? { ok: false, ms: 1, error: 'x' } : { ok: true, ms: 1 },
      cxone: check === 'cxone' ? { ok: false, ms: 1, error: 'y' } : { ok: true, ms: 1 },
    },
  });
  const up: Readiness = {
    status: 'ready',
    checks: { redis: { ok: true, ms: 1 }, cxone: { ok: true, ms: 1 } },
  };

  it('repeats the warning every 30 s of an outage, and forgets the failed checks once ready', () => {
    let t = 1_000_000;
    const log = { warn: vi.fn(), info: vi.fn() };
    const readiness = readinessLog(log, () => t);
    const note = (r: Readiness) => readiness.note(readiness.ticket(), r);
    note(up);
    note(down('redis'));
    t += NOT_READY_LOG_EVERY_MS - 1;
    note(down('cxone'));
    expect(log.warn).toHaveBeenCalledTimes(1);
    t += 1;
    note(down('redis'));
    expect(log.warn).toHaveBeenCalledTimes(2);
    t += 5_000;
    note(up);
    note(up);
    expect(log.info).toHaveBeenCalledTimes(1);
    expect(log.info.mock.calls[0]?.[0]).toEqual({
      notReadyMs: NOT_READY_LOG_EVERY_MS + 5_000,
      failedChecks: ['redis', 'cxone'],
    });
    // A new outage warns at once and reports only its own failed checks.
    t += 1_000;
    note(down('cxone'));
    expect(log.warn).toHaveBeenCalledTimes(3);
    t += 2_000;
    note(up);
    expect(log.info.mock.calls[1]?.[0]).toEqual({ notReadyMs: 2_000, failedChecks: ['cxone'] });
  });

  it('ignores an answer older than one already noted', () => {
    const log = { warn: vi.fn(), info: vi.fn() };
    const readiness = readinessLog(log, () => 0);
    const early = readiness.ticket();
    const late = readiness.ticket();
    readiness.note(late, up);
    readiness.note(early, down('redis'));
    expect(log.warn).not.toHaveBeenCalled();
    expect(log.info).not.toHaveBeenCalled();
  });
});
