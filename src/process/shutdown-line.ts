import type { Role } from './banner.js';

/**
 * Pure: the line a signal logs, saying what this role's shutdown waits for (up to
 * SHUTDOWN_TIMEOUT_MS). Only `all` and `worker` run workers, so only they drain jobs; an operator
 * reading `draining active jobs` from an `api` replica would look for jobs it never had.
 */
export function shutdownLine(role: Role): string {
  switch (role) {
    case 'all':
      return 'shutting down: closing the HTTP server and draining active jobs';
    case 'worker':
      return 'shutting down: draining active jobs';
    case 'api':
      return 'shutting down: closing the HTTP server (open requests finish)';
    case 'sandbox':
      return 'shutting down: closing the sandbox server';
  }
}
