import type { z } from 'zod';
import type { CampaignStats } from './cxone/wire.js';
import type { efficiencySchema } from './responses/campaign-view.js';

// The shape the campaign view and audit records document (src/shared/responses/campaign-view.ts).
export type EfficiencyMetrics = z.output<typeof efficiencySchema>;

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/**
 * The seed's efficiency score, kept exactly:
 *   clamp(0..100, answerRate*50 - abandonmentRate*30 - violationRate*20)
 * with every rate taken over total calls, as the seed does. The one deliberate difference: with no
 * calls yet there is no data, so this returns null instead of dividing by a fake "1".
 */
export function efficiencyScore(
  stats: Pick<CampaignStats, 'totalCalls' | 'answeredCalls' | 'abandonedCalls' | 'complianceViolations'>,
): EfficiencyMetrics | null {
  const total = stats.totalCalls;
  if (!total) return null;
  const answerRate = stats.answeredCalls / total;
  const abandonmentRate = stats.abandonedCalls / total;
  const violationRate = stats.complianceViolations / total;
  const score = Math.max(0, Math.min(100, answerRate * 50 - abandonmentRate * 30 - violationRate * 20));
  return {
    efficiencyScore: round(score, 2),
    answerRate: round(answerRate, 3),
    abandonmentRate: round(abandonmentRate, 3),
    complianceViolationFrequency: round(violationRate, 3),
    totalCalls: total,
  };
}

/**
 * Abandonment as the law measures it (FTC TSR / FCC 64.1200): abandoned calls over calls answered by
 * a live person. Null when nobody has answered yet.
 */
export function legalAbandonmentRate(
  stats: Pick<CampaignStats, 'answeredCalls' | 'abandonedCalls'>,
): number | null {
  return stats.answeredCalls > 0 ? stats.abandonedCalls / stats.answeredCalls : null;
}
