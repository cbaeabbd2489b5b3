/** A Redis state refusal is logged at most this often for the process (per state), its repeats counted. */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

/** A line for a state Redis refuses commands in: its words, the repeats left out, and for how long. */
export interface RefusalLine {
  state: string;
  refusal: string;
  /** Refusals of this state since the last line, not logged one by one. */
  suppressed: number;
  refusedForMs: number;
}

/**
 * One process's view of Redis refusing the workers' commands for a state it is in (READONLY, OOM,
 * LOADING …; redisStateRefusal). Every worker meets it on every poll, so `refused` gives one line per
 * state and interval. A plain throttle would keep the repeats of the last minute until the next
 * refusal, so that a refusal that ended said nothing more, and the next episode, hours later, claimed
 * the old repeats; `sweep`, run on a timer, gives the repeats of an interval as it ends, and a state
 * refused no more for a whole interval (the workers poll every few seconds) as over, so that the log
 * shows when Redis took the commands again. A different state (OOM after READONLY) has its own line
 * at once. Pure bookkeeping: the caller logs what it returns.
 */
export function createRedisRefusalTracker(
  intervalMs: number = REFUSAL_LOG_INTERVAL_MS,
  now: () => number = Date.now,
) {
  const states = new Map<
    string,
    { refusal: string; since: number; lastAt: number; loggedAt: number; suppressed: number }
  >();
  const lineOf = (state: string, at: number): RefusalLine => {
    const s = states.get(state)!;
    const line = { state, refusal: s.refusal, suppressed: s.suppressed, refusedForMs: at - s.since };
    s.loggedAt = at;
    s.suppressed = 0;
    return line;
  };
  return {
    /** A worker's command refused (Redis's words): the line to log, or undefined when told already. */
    refused(refusal: string): RefusalLine | undefined {
      const at = now();
      const state = refusal.split(' ')[0] || refusal;
      const known = states.get(state);
      if (!known) {
        states.set(state, { refusal, since: at, lastAt: at, loggedAt: at, suppressed: 0 });
        return lineOf(state, at);
      }
      known.refusal = refusal;
      known.lastAt = at;
      if (at - known.loggedAt < intervalMs) {
        known.suppressed += 1;
        return undefined;
      }
      return lineOf(state, at);
    },
    /**
     * Run every few seconds: `still`, the states whose interval since their last line has passed with
     * repeats left out (else lost); `ended`, the states refused no more for a whole interval, with any
     * repeats their last line did not count and how long the refusals lasted.
     */
    sweep(): { still: RefusalLine[]; ended: RefusalLine[] } {
      const at = now();
      const still: RefusalLine[] = [];
      const ended: RefusalLine[] = [];
      for (const [state, s] of states) {
        if (at - s.lastAt >= intervalMs) {
          ended.push({
            state,
            refusal: s.refusal,
            suppressed: s.suppressed,
            refusedForMs: s.lastAt - s.since,
          });
          states.delete(state);
        } else if (s.suppressed > 0 && at - s.loggedAt >= intervalMs) {
          still.push(lineOf(state, at));
        }
      }
      return { still, ended };
    },
  };
}
