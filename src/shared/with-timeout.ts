/** What withTimeout rejects with when `work` outlasts its bound. */
export class TimeoutError extends Error {}

/** Resolves like `work`, or rejects after `ms` so a probe or a scrape never hangs on a dead dependency. */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
