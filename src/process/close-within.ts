import type { Server } from 'node:http';

/**
 * Closes an HTTP server within a bound. `close()` stops accepting connections at once but then waits
 * for every open request to end, and a client that stalls mid-request (half a body, a dead peer)
 * would hold it until Node's request timeout, minutes later: the rest of the shutdown (draining the
 * workers, closing Redis) waited behind it, and the process ended by the last-resort exit with code
 * 1, or by the orchestrator's SIGKILL. At the bound the remaining connections are cut and the close
 * completes. Resolves `true` when it had to cut connections.
 */
export async function closeWithin(
  close: () => Promise<unknown>,
  server: Pick<Server, 'closeAllConnections'>,
  boundMs: number,
): Promise<boolean> {
  const closing = close();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'bound'>((resolve) => {
    timer = setTimeout(() => resolve('bound'), Math.max(0, boundMs));
  });
  const first = await Promise.race([closing.then(() => 'closed' as const), bound]).finally(() =>
    clearTimeout(timer),
  );
  if (first === 'closed') return false;
  server.closeAllConnections();
  await closing;
  return true;
}
