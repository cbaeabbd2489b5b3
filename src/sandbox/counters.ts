import type { CxoneEndpoint } from '../shared/cxone/wire.js';

export interface EndpointCounters {
  /** Every request that reached the endpoint, whatever happened to it. */
  requests: number;
  /** Requests admitted by the rate limiter (they spent budget). */
  accepted: number;
  /** Requests answered 429 by the rate limiter (scripted 429s count under `faults`). */
  rateLimited: number;
  /** Admitted requests answered with a 4xx/5xx other than the limiter's 429. */
  errors: number;
  /** Requests failed on purpose by fault injection. */
  faults: number;
  /** Requests refused before the limiter: missing/bad/expired token, failed client authentication, malformed token request. */
  unauthorized: number;
  byStatus: Record<string, number>;
}

/** `refused`: turned away before the budget for a reason other than the token (406). */
export type RequestOutcome = 'unauthorized' | 'refused' | 'rate_limited' | 'fault' | 'admitted';

function empty(): EndpointCounters {
  return { requests: 0, accepted: 0, rateLimited: 0, errors: 0, faults: 0, unauthorized: 0, byStatus: {} };
}

/** Per-endpoint request accounting, for benchmarks that check what the sandbox really saw. */
export class RequestCounters {
  private counters = new Map<CxoneEndpoint, EndpointCounters>();
  private since = Date.now();

  record(endpoint: CxoneEndpoint, outcome: RequestOutcome, statusCode: number): void {
    let c = this.counters.get(endpoint);
    if (!c) {
      c = empty();
      this.counters.set(endpoint, c);
    }
    c.requests += 1;
    c.byStatus[String(statusCode)] = (c.byStatus[String(statusCode)] ?? 0) + 1;
    switch (outcome) {
      case 'refused':
        return;
      case 'unauthorized':
        c.unauthorized += 1;
        return;
      case 'rate_limited':
        c.rateLimited += 1;
        return;
      case 'fault':
        c.accepted += 1;
        c.faults += 1;
        return;
      case 'admitted':
        c.accepted += 1;
        if (statusCode >= 400) c.errors += 1;
        return;
    }
  }

  snapshot(): { since: string; endpoints: Record<string, EndpointCounters> } {
    const endpoints: Record<string, EndpointCounters> = {};
    for (const [endpoint, c] of this.counters) {
      endpoints[endpoint] = { ...c, byStatus: { ...c.byStatus } };
    }
    return { since: new Date(this.since).toISOString(), endpoints };
  }

  reset(): void {
    this.counters = new Map();
    this.since = Date.now();
  }
}
