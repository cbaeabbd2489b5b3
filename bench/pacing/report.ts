import type { BenchStrategy, ScenarioResult } from './runner.js';

export interface PacingSummary {
  scenarios: Array<
    Pick<ScenarioResult, 'agents' | 'answerProb' | 'strategy' | 'utilization' | 'abandonment'>
  >;
  /** Highest whole-run abandonment of abandonment-target over all scenarios (0..1). */
  worstAbandonment: number;
  /** Lowest utilization of abandonment-target relative to the oracle, over scenarios with ≥ 20 agents. */
  minUtilizationVsOracle: number;
  /**
   * The same two figures for campaigns that ask for callRate 1.0 (`abandonment-target@1.0`, safe
   * start applied), and the worst abandonment of that request started as asked (no safe start).
   */
  requestedMaxStart: {
    worstAbandonment: number;
    minUtilizationVsOracle: number;
    worstAbandonmentWithoutSafeStart: number;
  };
  /**
   * The same two figures for campaigns asking for 0.9 with a wrong declared answerRate, and their
   * highest cumulative abandonment at any poll (after 100 live answers; see ScenarioResult).
   */
  misdeclared: { worstAbandonment: number; minUtilizationVsOracle: number; worstPeakAbandonment: number };
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

function worst(results: ScenarioResult[], strategy: BenchStrategy): number {
  return Math.max(0, ...results.filter((r) => r.strategy === strategy).map((r) => r.abandonment));
}

/** Lowest utilization of `strategy` relative to the oracle, over the scenarios with ≥ 20 agents. */
function minVsOracle(results: ScenarioResult[], strategy: BenchStrategy): number {
  const ratios = results
    .filter((r) => r.strategy === strategy && r.agents >= 20)
    .map((r) => {
      const oracle = results.find(
        (o) => o.strategy === 'oracle' && o.agents === r.agents && o.answerProb === r.answerProb,
      );
      return oracle && oracle.utilization > 0 ? r.utilization / oracle.utilization : 0;
    });
  return ratios.length > 0 ? Math.min(...ratios) : 0;
}

export function summarize(results: ScenarioResult[]): PacingSummary {
  return {
    scenarios: results.map((r) => ({
      agents: r.agents,
      answerProb: r.answerProb,
      strategy: r.strategy,
      utilization: round(r.utilization, 2),
      abandonment: round(r.abandonment, 4),
    })),
    worstAbandonment: round(worst(results, 'abandonment-target'), 4),
    minUtilizationVsOracle: round(minVsOracle(results, 'abandonment-target'), 3),
    requestedMaxStart: {
      worstAbandonment: round(worst(results, 'abandonment-target@1.0'), 4),
      minUtilizationVsOracle: round(minVsOracle(results, 'abandonment-target@1.0'), 3),
      worstAbandonmentWithoutSafeStart: round(worst(results, 'abandonment-target@1.0 unsafe'), 4),
    },
    misdeclared: {
      worstAbandonment: round(worst(results, 'abandonment-target misdeclared'), 4),
      minUtilizationVsOracle: round(minVsOracle(results, 'abandonment-target misdeclared'), 3),
      worstPeakAbandonment: round(
        Math.max(
          0,
          ...results
            .filter((r) => r.strategy === 'abandonment-target misdeclared')
            .map((r) => r.peakAbandonment),
        ),
        4,
      ),
    },
  };
}

/** A fixed-width table, one row per scenario and strategy. */
export function formatTable(results: ScenarioResult[]): string {
  const header = [
    'agents',
    'answerP',
    'strategy',
    'util %',
    'vs oracle',
    'abandon %',
    'peak %',
    'answered',
    'start',
    'callRate',
    'changes',
  ];
  const rows = results.map((r) => {
    const oracle = results.find(
      (o) => o.strategy === 'oracle' && o.agents === r.agents && o.answerProb === r.answerProb,
    );
    return [
      String(r.agents),
      r.answerProb.toFixed(2),
      r.strategy,
      r.utilization.toFixed(1),
      oracle ? (r.utilization / oracle.utilization).toFixed(3) : '-',
      (r.abandonment * 100).toFixed(2) + (r.abandonment > 0.03 ? ' !' : ''),
      (r.peakAbandonment * 100).toFixed(2) + (r.peakAbandonment > 0.03 ? ' !' : ''),
      String(r.answeredCalls),
      r.startCallRate.toFixed(2),
      r.finalCallRate.toFixed(2),
      String(r.changes),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
