import { afterEach, describe, expect, it } from 'vitest';
import { deriveSeed } from '../../src/sandbox/prng.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { call, start, tokenFor } from './helpers.js';

const TWO_32 = 2 ** 32;
const FAULTS = 0xfa017;

/** The seeds a base derives: the fault injector's and the first campaigns' dialers'. */
const derived = (base: number) => [FAULTS, 0, 1, 2, 3].map((ordinal) => deriveSeed(base, ordinal));

describe('SANDBOX_SEED: every bit of the seed counts', () => {
  it('derives what it always did from a seed within 0..2^32 − 1', () => {
    expect([deriveSeed(42, 0), deriveSeed(42, 1), deriveSeed(42, FAULTS)]).toEqual([
      3856264912, 3549116748, 1875592136,
    ]);
    expect([deriveSeed(0, 0), deriveSeed(TWO_32 - 1, 3), deriveSeed(123456789, 77)]).toEqual([
      2462723854, 2009877891, 1496185582,
    ]);
  });

  it.each([
    [7, 7 + TWO_32],
    [-12, TWO_32 - 12],
    [-1, TWO_32 - 1],
    [0, TWO_32],
    [2 ** 40, 2 ** 40 + 2 ** 33],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - TWO_32],
    [Number.MIN_SAFE_INTEGER, Number.MIN_SAFE_INTEGER + TWO_32],
  ])('%d and %d (the same low 32 bits) are different seeds', (a, b) => {
    const da = derived(a);
    const db = derived(b);
    for (let i = 0; i < da.length; i++) expect(da[i]).not.toBe(db[i]);
    for (const seed of [...da, ...db]) expect(seed >>> 0).toBe(seed);
  });

  it('refuses a seed that is not a safe whole number instead of truncating it', () => {
    expect(() => deriveSeed(1.5, 0)).toThrow(RangeError);
    expect(() => deriveSeed(2 ** 53, 0)).toThrow(RangeError);
    expect(() => deriveSeed(Number.NaN, 0)).toThrow(RangeError);
  });

  describe('over HTTP', () => {
    let sandboxes: RunningSandbox[] = [];
    afterEach(async () => {
      await Promise.all(sandboxes.map((s) => s.close()));
      sandboxes = [];
    });

    /** Which of 40 requests a 50% random fault rate failed, on a sandbox started with `seed`. */
    async function faultPattern(seed: number): Promise<number[]> {
      const s = await start({ seed, rateLimit: { perWindow: 1000, windowMs: 60_000 } });
      sandboxes.push(s);
      const token = await tokenFor(s);
      s.setFaults({ errorRate: 0.5 }); // drawn only from here on
      const out: number[] = [];
      for (let i = 0; i < 40; i++) {
        out.push(
          (await call(s, 'GET', '/api/v2/campaigns/00000000-0000-4000-8000-000000000000', { token })).status,
        );
      }
      expect(out).toContain(503);
      return out;
    }

    it('two sandboxes whose seeds differ only past bit 32 fail different requests', async () => {
      const low = await faultPattern(5);
      expect(await faultPattern(5)).toEqual(low);
      expect(await faultPattern(5 + TWO_32)).not.toEqual(low);
      expect(await faultPattern(-5)).not.toEqual(await faultPattern(TWO_32 - 5));
    });
  });
});
