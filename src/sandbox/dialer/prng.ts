/**
 * Seeded randomness for the dialer model. mulberry32 is tiny, fast and good enough for a
 * simulation; what matters here is that the same seed replays the same day, call for call.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  uniform(min: number, max: number): number;
  /** Lognormal with the given mean and log-space standard deviation. */
  lognormal(mean: number, sigma: number): number;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  return {
    next,
    uniform: (min, max) => min + (max - min) * next(),
    lognormal: (mean, sigma) => {
      // Box–Muller; 1 - u keeps the logarithm away from zero.
      const u = 1 - next();
      const v = next();
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      const mu = Math.log(mean) - (sigma * sigma) / 2;
      return Math.exp(mu + sigma * z);
    },
  };
}
