/**
 * Keeps a repeating problem to one log line per interval. BullMQ's workers and queues emit 'error' on
 * every failed command and reconnect attempt while Redis is away — hundreds of identical lines per
 * process in half a minute, each with a stack, burying the one line an operator needs. The first
 * occurrence of a key is logged at once; repeats within `intervalMs` are counted, and the next line
 * logged for that key says how many were left out. Pure bookkeeping around the caller's own log call.
 */
export function createLogThrottle(intervalMs: number, now: () => number = Date.now) {
  const seen = new Map<string, { lastAt: number; suppressed: number }>();
  return (key: string, log: (suppressed: number) => void): void => {
    const at = now();
    const entry = seen.get(key);
    if (entry && at - entry.lastAt < intervalMs) {
      entry.suppressed += 1;
      return;
    }
    // Bounded: keys are error messages, and a long outage should not grow the map without end.
    if (!entry && seen.size >= 1_000) seen.clear();
    seen.set(key, { lastAt: at, suppressed: 0 });
    log(entry?.suppressed ?? 0);
  };
}
