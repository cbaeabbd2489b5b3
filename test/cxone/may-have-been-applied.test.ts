import { describe, expect, it } from 'vitest';
import { mayHaveBeenApplied } from '../../src/shared/cxone/outcome-unknown.js';
import {
  CxoneConflictError,
  CxoneMalformedResponseError,
  CxoneRateLimitError,
  CxoneUnavailableError,
} from '../../src/shared/errors.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';

const at = { endpoint: 'PATCH /api/v2/campaigns/:id', campaignId: 'c-1' };

/** Whether a write that left and failed may stand on CXone: what a note of it is kept or taken back by. */
describe('mayHaveBeenApplied', () => {
  it('is no for CXone refusing the write', () => {
    expect(mayHaveBeenApplied(new CxoneRateLimitError({ ...at, status: 429 }, 1_000))).toBe(false);
    expect(mayHaveBeenApplied(new CxoneConflictError({ ...at, status: 409 }, 7))).toBe(false);
  });

  it("is yes for an answer lost or off contract, and for a failure that is not CXone's", () => {
    expect(mayHaveBeenApplied(new CxoneUnavailableError('CXone answered 504', { ...at, status: 504 }))).toBe(
      true,
    );
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(mayHaveBeenApplied(new CxoneUnavailableError('reset', at, { cause: reset }))).toBe(true);
    expect(mayHaveBeenApplied(new CxoneMalformedResponseError(['version: required'], at))).toBe(true);
    expect(mayHaveBeenApplied(new Error('something else'))).toBe(true);
  });

  it('is no for a failure of the token request made again after CXone refused the write (401)', () => {
    // The write's answer was a 401 (refused, nothing applied); the fresh token it waits for to send
    // it again fails at the token endpoint, the write itself never leaving a second time.
    const tokenDown = new CxoneUnavailableError('CXone answered 503 to POST /oauth2/token', {
      endpoint: CXONE_ENDPOINTS.token,
      status: 503,
      campaignId: 'c-1',
    });
    expect(mayHaveBeenApplied(tokenDown)).toBe(false);
  });

  it('is no for a request that never reached CXone', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(mayHaveBeenApplied(new CxoneUnavailableError('refused', at, { cause: refused }))).toBe(false);
  });
});
