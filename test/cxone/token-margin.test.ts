import { describe, expect, it } from 'vitest';
import { REFRESH_MARGIN_MS, refreshMarginMs } from '../../src/shared/cxone/token-provider.js';

describe('refreshMarginMs', () => {
  it('refreshes hour-long tokens 60 s before expiry', () => {
    expect(refreshMarginMs(3_600_000)).toBe(REFRESH_MARGIN_MS);
    expect(refreshMarginMs(600_000)).toBe(60_000);
  });

  it('uses 10 % of the lifetime for short tokens, so they are not refreshed on every call', () => {
    expect(refreshMarginMs(1_000)).toBe(100);
    expect(refreshMarginMs(120_000)).toBe(12_000);
    expect(refreshMarginMs(0)).toBe(0);
  });
});
