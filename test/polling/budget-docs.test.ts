import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { budgetTier, minPollIntervalMs } from '../../src/shared/polling/budget.js';

/**
 * docs/pacing.md ("Polling: schedulers and budget") gives examples of how far the stats budget
 * stretches poll intervals at the default limit; an SRE sizing a fleet reads them. They must be what
 * the code does: the floor is computed for the count's budget tier, not the exact count.
 */
describe('docs/pacing.md poll budget examples', () => {
  const text = readFileSync(new URL('../../docs/pacing.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
  const sentence = /With the defaults \(100\/min\) (.*?)\. [A-Z]/.exec(text)?.[1];

  it('are found', () => {
    expect(sentence, 'the "With the defaults (100/min) …" sentence in docs/pacing.md').toBeDefined();
  });

  it('each give the interval the budget tier sets at 100 requests a minute', () => {
    const examples = [...(sentence ?? '').matchAll(/(\d+) (?:campaigns? poll )?every ([\d.]+) s/g)];
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const [, count, seconds] of examples) {
      const floorMs = minPollIntervalMs({
        perWindow: 100,
        windowMs: 60_000,
        activeCampaigns: budgetTier(Number(count)),
      });
      // Campaigns asking for the default 15 s poll at max(15 s, floor).
      expect(`${count} campaigns: ${Number(seconds)} s`).toBe(
        `${count} campaigns: ${Math.max(15_000, floorMs) / 1000} s`,
      );
    }
  });
});
