import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { campaignBody, type Harness, REDIS_URL, startHarness } from '../cxone/harness.js';

const CHILD = fileURLToPath(new URL('./fixtures/stats-poller.ts', import.meta.url));
const STATS = 'GET /api/v2/outbound/campaigns/:id/stats';

interface ChildResult {
  ok: number;
  rateLimited: number;
  errors: number;
}

interface Poller {
  ready: Promise<void>;
  /** Has the child poll with `args` (its own limiter and client for the run); its result. */
  run(args: string[]): Promise<ChildResult>;
  /** Ends its stdin; resolves when it has exited. */
  end(): Promise<void>;
}

/**
 * Starts a poller process; `ready` resolves once it has loaded (it then waits for a run's line).
 * Loading takes seconds on a busy machine, so the test starts all pollers together, once for every
 * run: each run gets fresh limiters, clients, sandbox and prefix, only the loaded code is shared.
 */
function startChild(): Poller {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let waiting: { resolve: (r: ChildResult) => void; reject: (e: Error) => void } | undefined;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) markReady();
    const lines = out.split('\n');
    out = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'ready' || !waiting) continue;
      waiting.resolve(JSON.parse(line) as ChildResult);
      waiting = undefined;
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      waiting?.reject(e);
      resolve(null);
    });
    child.on('exit', (code) => {
      waiting?.reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      waiting = undefined;
      resolve(code);
    });
  });
  // A child that dies while loading must fail the test, not leave it waiting for `ready`.
  void exited.then(() => markReady());
  return {
    ready,
    run(args) {
      if (child.exitCode !== null)
        return Promise.reject(new Error(`child exited ${child.exitCode}: ${err.slice(-2000)}`));
      return new Promise<ChildResult>((resolve, reject) => {
        waiting = { resolve, reject };
        child.stdin.write(`${args.join(' ')}\n`);
      });
    },
    async end() {
      child.stdin.end();
      const code = await exited;
      if (code !== 0) throw new Error(`child exited ${code}: ${err.slice(-2000)}`);
    },
  };
}

let pollers: Poller[] = [];
beforeAll(async () => {
  pollers = Array.from({ length: 3 }, () => startChild());
  await Promise.all(pollers.map((p) => p.ready));
}, 60_000);
afterAll(async () => {
  await Promise.all(pollers.map((p) => p.end()));
});

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('fleet limiter across OS processes', () => {
  it.each([
    { mode: 'one slot per permit', perWindow: 15, windowMs: 3_000, durationMs: 6_000, minShare: 0.75 },
    // minTime 11 ms: each permit is a lease of 4 slots that its process spends itself. The budget is
    // one that three pollers fill with room to spare even on a busy machine: the floor below checks
    // the limiter's use of the budget, not how fast the machine runs the pollers.
    { mode: 'leases', perWindow: 120, windowMs: 1_000, durationMs: 4_000, minShare: 0.5 },
  ])(
    'three processes polling flat out share one budget without a single 429 ($mode)',
    async ({ perWindow, windowMs, durationMs, minShare }) => {
      harness = await startHarness({
        tag: 'xproc',
        perWindow: 1_000,
        sandbox: {
          rateLimit: { perWindow, windowMs, mode: 'sliding' },
          tokenRateLimit: { perWindow: 1_000, windowMs },
        },
      });
      const created = await harness.client.createCampaign(campaignBody());
      const args = [
        REDIS_URL,
        harness.prefix,
        harness.sandbox.url,
        created.id,
        String(perWindow),
        String(windowMs),
        String(durationMs),
      ];
      const results = await Promise.all(pollers.map((p) => p.run(args)));

      const counters = await harness.counters();
      expect(results.reduce((n, r) => n + r.rateLimited, 0)).toBe(0);
      expect(results.reduce((n, r) => n + r.errors, 0)).toBe(0);
      expect(counters[STATS]?.rateLimited ?? 0).toBe(0);
      // Every process got a share, and together they used most of the budget the run allowed.
      for (const r of results) expect(r.ok).toBeGreaterThan(0);
      const accepted = counters[STATS]?.accepted ?? 0;
      expect(accepted).toBeLessThanOrEqual(perWindow * Math.ceil(durationMs / windowMs + 1));
      expect(accepted).toBeGreaterThanOrEqual(minShare * perWindow * (durationMs / windowMs));
    },
    60_000,
  );
});
