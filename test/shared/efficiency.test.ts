import { describe, expect, it } from 'vitest';
import { efficiencyScore, legalAbandonmentRate } from '../../src/shared/efficiency.js';

describe('efficiencyScore (the seed formula)', () => {
  it('is "no data" before the first call, not zero', () => {
    expect(
      efficiencyScore({ totalCalls: 0, answeredCalls: 0, abandonedCalls: 0, complianceViolations: 0 }),
    ).toBeNull();
  });

  it('computes answerRate*50 - abandonmentRate*30 - violationRate*20 over total calls', () => {
    const m = efficiencyScore({
      totalCalls: 200,
      answeredCalls: 80,
      abandonedCalls: 4,
      complianceViolations: 2,
    });
    // 0.4*50 - 0.02*30 - 0.01*20 = 20 - 0.6 - 0.2
    expect(m).toEqual({
      efficiencyScore: 19.2,
      answerRate: 0.4,
      abandonmentRate: 0.02,
      complianceViolationFrequency: 0.01,
      totalCalls: 200,
    });
  });

  it('clamps at 0', () => {
    const m = efficiencyScore({
      totalCalls: 10,
      answeredCalls: 0,
      abandonedCalls: 5,
      complianceViolations: 5,
    });
    expect(m?.efficiencyScore).toBe(0);
  });
});

describe('legalAbandonmentRate', () => {
  it('divides by live answers, as the TSR does', () => {
    expect(legalAbandonmentRate({ answeredCalls: 200, abandonedCalls: 6 })).toBeCloseTo(0.03);
    expect(legalAbandonmentRate({ answeredCalls: 0, abandonedCalls: 0 })).toBeNull();
  });
});
