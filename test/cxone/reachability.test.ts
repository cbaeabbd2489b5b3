import { describe, expect, it } from 'vitest';
import { createCxoneReachability, judgesReachability } from '../../src/shared/cxone/reachability.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';

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
    // A new run of failures after that quiet stretch.
    r.failed(12_000, 'HTTP 502 to x');
    expect(r.problem(12_000)).toBeNull();
    r.failed(12_500, 'HTTP 502 to x');
    expect(r.problem(12_500)).not.toBeNull();
    r.answered(13_000);
    expect(r.problem(13_000)).toBeNull();
    r.failed(14_000, 'HTTP 502 to x');
    expect(r.problem(14_000)).toBeNull();
  });

  it('starts a new run of failures after a quiet stretch, as "a minute without failures clears it" says', () => {
    const r = createCxoneReachability({ failures: 3, forMs: 60_000 });
    for (const at of [0, 1_000, 2_000]) r.failed(at, 'HTTP 503 to x');
    expect(r.problem(2_000)).not.toBeNull();
    // An hour later one failure is one, not the fourth in a row.
    r.failed(3_600_000, 'HTTP 503 to x');
    expect(r.problem(3_600_000)).toBeNull();
  });

  it('judges by the calls an API serves with (campaigns, token), not by statistics and history polls', () => {
    expect(judgesReachability(CXONE_ENDPOINTS.getStats)).toBe(false);
    expect(judgesReachability(CXONE_ENDPOINTS.getHistory)).toBe(false);
    expect(judgesReachability(CXONE_ENDPOINTS.getCampaign)).toBe(true);
    expect(judgesReachability(CXONE_ENDPOINTS.updateCampaign)).toBe(true);
    expect(judgesReachability(CXONE_ENDPOINTS.createCampaign)).toBe(true);
    expect(judgesReachability(CXONE_ENDPOINTS.token)).toBe(true);
  });
});
