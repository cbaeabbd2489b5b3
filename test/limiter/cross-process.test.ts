import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { campaignBody, type Harness, REDIS_URL, startHarness } from '../cxone/harness.js';

const CHILD = fileURLToPath(new URL('./fixtures/stats-poller.ts', import.meta.url));
const STATS = 'GET /api/v2/outbound/campaigns/:id/stats';

function runChild(args: string[]): Promise<{ ok: number; rateLimited: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(last) as { ok: number; rateLimited: number; errors: number });
    });
  });
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('fleet limiter across OS processes', () => {
  it.each([
    { mode: 'one slot per permit', perWindow: 15, windowMs: 3_000, durationMs: 6_000, minShare: 0.75 },
    // minTime 5 ms: each permit is a lease of 5 slots that its process spends itself.
    { mode: 'leases', perWindow: 300, windowMs: 1_000, durationMs: 4_000, minShare: 0.5 },
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
      const results = await Promise.all([runChild(args), runChild(args), runChild(args)]);

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
