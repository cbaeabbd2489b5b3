/**
 * `npm run bench -- pacing [--json] [--hours N] [--with-guard]`: the pacing strategies against the dialer model.
 *
 * Scenarios: agents ∈ {5, 20, 100} × live-answer probability ∈ {0.15, 0.35, 0.6}, 8 simulated hours
 * each, one seed per scenario shared by every strategy. Strategies: the seed's `threshold` rule,
 * the default `abandonment-target` controller (both through decidePacing, fed only the polled
 * stats; abandonment-target starts at its safe start), and an oracle (the best fixed callRate for
 * the scenario under the 3% cap, by search). Extra rows: abandonment-target on a campaign asking
 * for callRate 1.0, with and without the safe start; abandonment-target on a campaign asking for 0.9
 * whose config declares the wrong answerRate (`misdeclared`).
 * With --json the last stdout line is the summary object named in issue 6.
 */
import { formatTable, summarize } from './pacing/report.js';
import { runController, runOracle, type ScenarioResult } from './pacing/runner.js';
import {
  INITIAL_CALL_RATE,
  MAX_REQUESTED_CALL_RATE,
  MISDECLARED_REQUESTED_CALL_RATE,
  misdeclaredAnswerRate,
  POLL_INTERVAL_MS,
  scenarios,
  startCallRate,
} from './pacing/scenarios.js';

function parseHours(args: string[]): number {
  const i = args.indexOf('--hours');
  if (i === -1) return 8;
  const hours = Number(args[i + 1]);
  if (!Number.isFinite(hours) || hours <= 0) throw new Error('--hours needs a positive number');
  return hours;
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const hours = parseHours(args);
  const started = Date.now();
  const results: ScenarioResult[] = [];
  const withGuard = args.includes('--with-guard');
  const opts = { pollIntervalMs: POLL_INTERVAL_MS, withGuard };
  for (const scenario of scenarios(hours * 3600_000)) {
    const start = (
      strategy: 'threshold' | 'abandonment-target',
      requested: number,
      declaredAnswerRate = scenario.answerProb,
    ) => {
      const { callRate, anchor } = startCallRate(scenario, strategy, requested, declaredAnswerRate);
      return { initialCallRate: callRate, anchor, declaredAnswerRate };
    };
    results.push(runController(scenario, 'threshold', { ...opts, ...start('threshold', INITIAL_CALL_RATE) }));
    results.push(
      runController(scenario, 'abandonment-target', {
        ...opts,
        ...start('abandonment-target', INITIAL_CALL_RATE),
      }),
    );
    results.push(
      runController(scenario, 'abandonment-target', {
        ...opts,
        ...start('abandonment-target', MAX_REQUESTED_CALL_RATE),
        label: 'abandonment-target@1.0',
      }),
    );
    results.push(
      runController(scenario, 'abandonment-target', {
        ...opts,
        ...start(
          'abandonment-target',
          MISDECLARED_REQUESTED_CALL_RATE,
          misdeclaredAnswerRate(scenario.answerProb),
        ),
        label: 'abandonment-target misdeclared',
      }),
    );
    results.push(
      runController(scenario, 'abandonment-target', {
        ...opts,
        initialCallRate: MAX_REQUESTED_CALL_RATE,
        label: 'abandonment-target@1.0 unsafe',
      }),
    );
    results.push(runOracle(scenario));
  }
  const summary = summarize(results);
  console.log(
    `pacing: ${hours} simulated h per scenario, stats polled every ${POLL_INTERVAL_MS / 1000} s, ` +
      `campaigns ask for callRate ${INITIAL_CALL_RATE} (threshold starts there, abandonment-target at its safe start); ` +
      `@1.0 rows ask for ${MAX_REQUESTED_CALL_RATE.toFixed(1)} ("unsafe": started as asked, without the safe start); ` +
      'abandonment = abandoned / live answers (peak: highest at any poll after 100 live answers)' +
      (withGuard ? '; compliance abandonment guard in the loop' : ''),
  );
  console.log(formatTable(results));
  console.log(
    `abandonment-target: worst abandonment ${(summary.worstAbandonment * 100).toFixed(2)}% (cap 3%), ` +
      `min utilization vs oracle (≥ 20 agents) ${summary.minUtilizationVsOracle.toFixed(3)} (target ≥ 0.9); ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const max = summary.requestedMaxStart;
  console.log(
    `requested callRate ${MAX_REQUESTED_CALL_RATE.toFixed(1)}: worst abandonment ${(max.worstAbandonment * 100).toFixed(2)}% with the safe start ` +
      `(${(max.worstAbandonmentWithoutSafeStart * 100).toFixed(2)}% started as asked), ` +
      `min utilization vs oracle (≥ 20 agents) ${max.minUtilizationVsOracle.toFixed(3)}`,
  );
  const mis = summary.misdeclared;
  console.log(
    `requested callRate ${MISDECLARED_REQUESTED_CALL_RATE}, answerRate misdeclared (0.15 list declared 0.35, 0.35 and 0.6 declared 0.15): ` +
      `worst abandonment ${(mis.worstAbandonment * 100).toFixed(2)}% (at any poll after 100 live answers ${(mis.worstPeakAbandonment * 100).toFixed(2)}%), ` +
      `min utilization vs oracle (≥ 20 agents) ${mis.minUtilizationVsOracle.toFixed(3)}`,
  );
  if (json) console.log(JSON.stringify(summary));
}
