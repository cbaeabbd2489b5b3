import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { campaignBody, type Harness, REDIS_URL, startHarness } from '../cxone/harness.js';

const CHILD = fileURLToPath(new URL('./fixtures/stats-poller.ts', import.meta.url));
const STATS = 'GET /api/v2/outbound/campaigns/:id/stats';

interface ChildResult {
  ok: number;
  rateLimited: number;
  errors: number;
}

/**
 * Starts a poller process; `ready` resolves once it has loaded (it then waits for `go`), `done` with
 * what it saw. Loading takes seconds on a busy machine, so the test starts all pollers together.
 */
function startChild(args: string[]): { ready: Promise<void>; go: () => void; done: Promise<ChildResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) markReady();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<ChildResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(last) as ChildResult);
    });
  });
  // A child that dies while loading must fail the test, not leave it waiting for `ready`.
  done.catch(() => markReady());
  return { ready, go: () => child.stdin.end('go\n'), done };
}

async function runChildrenTogether(count: number, args: string[]): Promise<ChildResult[]> {
  const children = Array.from({ length: count }, () => startChild(args));
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.go();
  return Promise.all(children.map((c) => c.done));
}

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
      const results = await runChildrenTogether(3, args);

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
