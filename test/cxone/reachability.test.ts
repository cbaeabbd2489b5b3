import { describe, expect, it } from 'vitest';
import { createCxoneReachability } from '../../src/shared/cxone/reachability.js';

describe('CXone reachability (what readiness reads)', () => {
  it('reads as unreachable only after several failures in a row, and names the latest', () => {
    const r = createCxoneReachability({ failures: 3, forMs: 60_000 });
    r.failed(1_000, 'HTTP 503 to GET /api/v2/campaigns/:id');
    r.failed(2_000, 'HTTP 503 to GET /api/v2/campaigns/:id');
    expect(r.problem(2_500)).toBeNull();
    r.failed(3_000, 'CXone call POST /oauth2/token timed out (ECONNABORTED)');
    expect(r.problem(5_000)).toBe(
      "CXone did not answer this process's last 3 calls (the latest 2 s ago: CXone call POST /oauth2/token timed out (ECONNABORTED))",
    );
  });

  it('is reachable again after one answer, or once the failures are old', () => {
    const r = createCxoneReachability({ failures: 2, forMs: 10_000 });
    r.failed(0, 'HTTP 502 to x');
    r.failed(1_000, 'HTTP 502 to x');
    expect(r.problem(1_000)).not.toBeNull();
    // Taken out of rotation, the process makes no call: it is tried again after forMs.
    expect(r.problem(11_001)).toBeNull();
    r.failed(12_000, 'HTTP 502 to x');
    expect(r.problem(12_000)).not.toBeNull();
    r.answered(13_000);
    expect(r.problem(13_000)).toBeNull();
    r.failed(14_000, 'HTTP 502 to x');
    expect(r.problem(14_000)).toBeNull();
  });
});
