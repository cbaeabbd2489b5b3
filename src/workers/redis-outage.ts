/** While Redis stays unreachable, a reminder naming the queues still waiting is logged this often. */
export const OUTAGE_REMINDER_MS = 60_000;

/** What the caller logs: the queues waiting (or that waited) for Redis, and since how long. */
export interface OutageLine {
  queues: string[];
  downForMs: number;
}

/**
 * One process's view of a Redis outage across its workers. Every worker reports each failed reconnect
 * (two connections each, every few seconds), so logging them one by one made six stacks per process
 * per tick out of one fact. Here the first connection error of an outage makes one line, a long outage
 * a reminder every OUTAGE_REMINDER_MS naming the queues still waiting, and the last worker's connection
 * ready again one line naming every queue that waited. Pure bookkeeping: the caller logs what it returns.
 */
export function createRedisOutageTracker(
  reminderMs: number = OUTAGE_REMINDER_MS,
  now: () => number = Date.now,
) {
  const down = new Set<string>();
  const waited = new Set<string>();
  let since: number | undefined;
  let lastLoggedAt = 0;
  let suppressed = 0;
  return {
    /** A worker's connection error: the line to log, or undefined when this outage was told already. */
    connectionError(queue: string): (OutageLine & { suppressed: number }) | undefined {
      const at = now();
      down.add(queue);
      waited.add(queue);
      if (since !== undefined && at - lastLoggedAt < reminderMs) {
        suppressed += 1;
        return undefined;
      }
      since ??= at;
      lastLoggedAt = at;
      const line = { queues: [...down], downForMs: at - since, suppressed };
      suppressed = 0;
      return line;
    },
    /** A worker's connection is ready: the line to log when it was the last one waiting, else undefined. */
    ready(queue: string): OutageLine | undefined {
      if (!down.delete(queue) || down.size > 0 || since === undefined) return undefined;
      const line: OutageLine = { queues: [...waited], downForMs: now() - since };
      waited.clear();
      since = undefined;
      suppressed = 0;
      return line;
    },
  };
}
