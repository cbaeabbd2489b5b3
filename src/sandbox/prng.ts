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

/** Derives an independent 32-bit seed from a base seed and an ordinal (splitmix-style mixing). */
export function deriveSeed(base: number, ordinal: number): number {
  let z = (base ^ Math.imul(ordinal + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
