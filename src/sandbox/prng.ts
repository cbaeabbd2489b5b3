/**
 * A small seeded PRNG (mulberry32). The sandbox's random choices — injected faults, per-campaign
 * simulation seeds — come from here so the same seed replays the same run.
 */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TWO_32 = 2 ** 32;

/** A base seed is any safe integer (SANDBOX_SEED accepts every one): negative, or past 32 bits. */
export function isSeed(seed: number): boolean {
  return Number.isSafeInteger(seed);
}

/** The 32-bit finalizer (murmur3's fmix32). */
function mix32(h: number): number {
  let z = h >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Derives an independent 32-bit seed from a base seed and an ordinal (splitmix-style mixing). Every
 * bit of the base counts: a base in 0..2^32−1 derives what it always did, and any other (a negative
 * one, or one past 32 bits) mixes its high part in too, so that 7 and 7 + 2^32, or −12 and
 * 2^32 − 12, are different seeds and not the same run under two names.
 */
export function deriveSeed(base: number, ordinal: number): number {
  if (!isSeed(base)) throw new RangeError(`seed must be a whole number within ±(2^53 − 1), got ${base}`);
  const high = Math.floor(base / TWO_32); // 0 for 0..2^32−1; −2^21..2^21−1 otherwise
  const low = base - high * TWO_32; // 0..2^32−1
  const z = mix32((low ^ Math.imul(ordinal + 1, 0x9e3779b9)) >>> 0);
  if (high === 0) return z;
  return mix32((z ^ mix32(Math.imul(high >>> 0, 0x27d4eb2f) ^ 0x165667b1)) >>> 0);
}
