/** Pure figures for the fleet benchmark. */

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Completed items per second over [startMs, endMs]. */
export function ratePerSecond(count: number, startMs: number, endMs: number): number {
  const seconds = (endMs - startMs) / 1000;
  return seconds > 0 ? count / seconds : Number.NaN;
}

export const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

export interface FleetFigures {
  launchesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  vsBareBullmq: number;
  redisBytesPerCampaign: number;
}

export const TARGETS = { vsBareBullmq: 0.5, p99Ms: 250, redisBytesPerCampaign: 4096 } as const;

/** Which targets of issue 8 the figures miss (empty when all are met). */
export function missedTargets(f: FleetFigures): string[] {
  const missed: string[] = [];
  if (!(f.vsBareBullmq >= TARGETS.vsBareBullmq))
    missed.push(`vsBareBullmq ${f.vsBareBullmq} < ${TARGETS.vsBareBullmq}`);
  if (!(f.p99Ms < TARGETS.p99Ms)) missed.push(`p99Ms ${f.p99Ms} >= ${TARGETS.p99Ms}`);
  if (!(f.redisBytesPerCampaign <= TARGETS.redisBytesPerCampaign)) {
    missed.push(`redisBytesPerCampaign ${f.redisBytesPerCampaign} > ${TARGETS.redisBytesPerCampaign}`);
  }
  return missed;
}

/** Runs `work` over items with at most `concurrency` in flight; resolves when all are done. */
export async function forEachConcurrent<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
}
