/** Pure helpers for the limiter benchmark. */

/** Nearest-rank percentile of `samples` (p in 0..100); 0 for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** The first epoch-aligned window boundary at or after `t`. */
export function nextBoundary(t: number, windowMs: number): number {
  return Math.ceil(t / windowMs) * windowMs;
}

export interface WorkerReport {
  pid: number;
  polls: number;
  controls: number;
  rateLimited: number;
  errors: number;
  /** [epoch ms when the control call was enqueued, ms until the limiter let it start]. */
  controlWaits: Array<[number, number]>;
}

export interface LimiterBenchResult {
  processes: number;
  budget: number;
  sent: number;
  utilization: number;
  http429: number;
  controlWaitP99Ms: number;
}

export function summarize(input: {
  processes: number;
  perWindow: number;
  windows: number;
  sent: number;
  accepted: number;
  http429: number;
  controlWaitsMs: number[];
}): LimiterBenchResult {
  const budget = input.perWindow * input.windows;
  return {
    processes: input.processes,
    budget,
    sent: input.sent,
    utilization: Math.round((input.accepted / budget) * 1000) / 1000,
    http429: input.http429,
    controlWaitP99Ms: Math.round(percentile(input.controlWaitsMs, 99)),
  };
}
