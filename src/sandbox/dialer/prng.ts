import { seededRandom } from '../prng.js';

/**
 * Seeded randomness for the dialer model, on the sandbox's mulberry32 (../prng.ts): tiny, fast and
 * good enough for a simulation; what matters here is that the same seed replays the same day, call
 * for call.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  uniform(min: number, max: number): number;
  /** Lognormal with the given mean and log-space standard deviation. */
  lognormal(mean: number, sigma: number): number;
}

export function createRng(seed: number): Rng {
  const next = seededRandom(seed);
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
