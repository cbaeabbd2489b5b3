import { envSchema } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';

/** The SANDBOX_* variables the sandbox reads, from the one environment schema (src/shared/config.ts). */
export const SANDBOX_VARIABLES: readonly string[] = Object.keys(envSchema.shape).filter((name) =>
  name.startsWith('SANDBOX_'),
);

export interface UnknownSandboxVariable {
  name: string;
  /** The known SANDBOX_* variable spelt most like it: one it is the start of (or starts with), else the fewest edits away. */
  closest: string;
}

/** Edits (insertions, deletions, substitutions) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * SANDBOX_* variables set in `env` that the sandbox does not read — a misspelling such as
 * `SANDBOX_TIMESCALE=600` would otherwise be ignored without a word — each with the known variable
 * closest to it. Only the SANDBOX_ prefix is the sandbox's to judge.
 */
export function unknownSandboxVariables(env: NodeJS.ProcessEnv): UnknownSandboxVariable[] {
  const unknown: UnknownSandboxVariable[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('SANDBOX_') || SANDBOX_VARIABLES.includes(name)) continue;
    let closest = SANDBOX_VARIABLES[0]!;
    let best = Number.POSITIVE_INFINITY;
    for (const known of SANDBOX_VARIABLES) {
      // A name cut short or run on (SANDBOX_TOKEN_TTL, SANDBOX_SEEDS) is that variable's, however
      // many letters are missing; otherwise the fewest edits win.
      const d = known.startsWith(name) || name.startsWith(known) ? 0 : editDistance(name, known);
      if (d < best) {
        best = d;
        closest = known;
      }
    }
    unknown.push({ name, closest });
  }
  return unknown;
}

/**
 * Logs one warning at start naming every SANDBOX_* variable the sandbox does not know and the known
 * one closest to each; nothing when there is none. A warning, not a refusal: the sandbox starts on
 * the defaults, as it did, but the operator learns why SANDBOX_TIMESCALE=600 changed nothing.
 */
export function warnUnknownSandboxVariables(logger: Logger, env: NodeJS.ProcessEnv = process.env): void {
  const unknown = unknownSandboxVariables(env);
  if (unknown.length === 0) return;
  logger.warn(
    { unknownVariables: unknown.map((u) => u.name), knownVariables: SANDBOX_VARIABLES },
    `ignoring unknown sandbox variable${unknown.length > 1 ? 's' : ''} ${unknown
      .map((u) => `${u.name} (did you mean ${u.closest}?)`)
      .join(', ')}`,
  );
}
