import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listBenchmarks, parseBenchArgs } from '../../bench/run.js';
import { parseFleetArgs } from '../../bench/fleet.js';
import { missedTargets, percentile, ratePerSecond } from '../../bench/fleet/stats.js';
import { keyShape } from '../../bench/fleet/redis-keys.js';
import { median } from '../../bench/fleet/measure.js';

describe('bench dispatcher (pure)', () => {
  it('discovers bench/<name>.ts files, not itself', async () => {
    const names = await listBenchmarks();
    expect(names).toContain('fleet');
    expect(names).not.toContain('run');
  });

  it("are the README's list, each with a guide that documents its command", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const listed = /npm run bench -- <name> \[--json\]\s+# ([a-z| -]+);/.exec(readme)?.[1];
    expect(listed, 'the README names the benchmarks').toBeDefined();
    const names = await listBenchmarks();
    expect(
      listed!
        .split('|')
        .map((n) => n.trim())
        .sort(),
    ).toEqual(names);
    const guides = [
      'README.md',
      'docs/operations.md',
      'docs/limiter.md',
      'docs/pacing.md',
      'docs/audit-and-webhooks.md',
    ]
      .map((f) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8'))
      .join('\n');
    for (const name of names) expect(guides, name).toContain(`npm run bench -- ${name} [`);
  });

  it('runs a known benchmark with the remaining arguments, lists the others otherwise', () => {
    expect(parseBenchArgs(['fleet', '--json', '--launches', '5'], ['fleet', 'pacing'])).toEqual({
      kind: 'run',
      name: 'fleet',
      args: ['--json', '--launches', '5'],
    });
    const unknown = parseBenchArgs(['nope'], ['fleet', 'pacing']);
    expect(unknown).toEqual({ kind: 'usage', message: 'unknown benchmark "nope"\navailable: fleet, pacing' });
    expect(parseBenchArgs([], ['fleet'])).toMatchObject({
      kind: 'usage',
      message: expect.stringContaining('usage:'),
    });
  });
});

describe('fleet benchmark figures (pure)', () => {
  it('computes nearest-rank percentiles and rates', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
    expect(ratePerSecond(100, 1000, 3000)).toBe(50);
  });

  it('names the targets of issue 8 that are missed', () => {
    const ok = { launchesPerSec: 50, p50Ms: 20, p99Ms: 120, vsBareBullmq: 0.6, redisBytesPerCampaign: 3000 };
    expect(missedTargets(ok)).toEqual([]);
    expect(missedTargets({ ...ok, vsBareBullmq: 0.4, p99Ms: 250, redisBytesPerCampaign: 5000 })).toHaveLength(
      3,
    );
  });

  it('parses its options and groups Redis keys by shape', () => {
    expect(parseFleetArgs(['--json', '--campaigns', '100'])).toMatchObject({
      json: true,
      split: false,
      campaigns: 100,
      launches: 400,
      rounds: 9,
      warmup: 2_000,
    });
    expect(parseFleetArgs(['--rounds', '1'])).toMatchObject({ rounds: 1 });
    expect(parseFleetArgs(['--split'])).toMatchObject({ split: true });
    // The per-path figure is the median round, so one disturbed round does not move it.
    expect(median([90, 883, 334, 477, 301])).toBe(334);
    expect(median([2, 1, 4, 3])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(() => parseFleetArgs(['--launches', '0'])).toThrow(/positive/);
    expect(keyShape(':campaign:3f2c0a4e-1b2c-4d3e-8f90-0123456789ab')).toBe(':campaign:*');
    expect(keyShape(':poll:repeat:poll:3f2c0a4e-1b2c-4d3e-8f90-0123456789ab:1764300000000')).toBe(
      ':poll:repeat:poll:*:#',
    );
  });
});
