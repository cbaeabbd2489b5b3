import { describe, expect, it } from 'vitest';
import {
  StatsScopeMissingError,
  statsScopeCheck,
  statsScopeGranted,
  statsScopeMissingNow,
} from '../../src/shared/compliance/scope-at-send.js';
import { STATS_SCOPE } from '../../src/shared/cxone/scopes.js';
import { classifyError } from '../../src/shared/retry/classify.js';

/** A CXone client whose token provider reports `missing` as the last token's shortfall. */
const clientLacking = (missing: string[] | undefined) => ({
  tokens: {
    scopeShortfall: () =>
      missing ? { missingScopes: missing, grantedScopes: ['outbound:campaigns:read'] } : undefined,
  },
});

describe('statsScopeCheck (the activating write leaves only with the statistics scope)', () => {
  it('lets the write go when every scope was granted, or only another one is missing', () => {
    expect(() => statsScopeCheck(clientLacking(undefined), 'c1')()).not.toThrow();
    expect(() => statsScopeCheck(clientLacking(['outbound:campaigns:write']), 'c1')()).not.toThrow();
    // A test double of the CXone API without a token provider knows nothing to refuse on.
    expect(() => statsScopeCheck({}, 'c1')()).not.toThrow();
  });

  it('keeps it unsent, naming the scope and the fix, while the statistics scope is missing', () => {
    const check = statsScopeCheck(clientLacking([STATS_SCOPE, 'outbound:campaigns:write']), 'c1');
    let thrown: unknown;
    try {
      check();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StatsScopeMissingError);
    const err = thrown as StatsScopeMissingError;
    expect(err.campaignId).toBe('c1');
    expect(err.missingScopes).toEqual([STATS_SCOPE]);
    expect(err.grantedScopes).toEqual(['outbound:campaigns:read']);
    expect(err.message).toContain(`campaign c1 not activated`);
    expect(err.message).toContain(`Grant ${STATS_SCOPE} to the client (CXONE_CLIENT_ID) in CXone admin`);
    // Not retried: nothing says when the scope comes back.
    expect(classifyError(err).kind).toBe('permanent');
  });

  it('reads the token provider at the moment of sending, not when the check was made', () => {
    let missing: string[] | undefined = [STATS_SCOPE];
    const check = statsScopeCheck(
      { tokens: { scopeShortfall: () => (missing ? { missingScopes: missing } : undefined) } },
      'c1',
    );
    expect(check).toThrow(StatsScopeMissingError);
    missing = undefined;
    expect(check).not.toThrow();
  });
});

describe("statsScopeMissingNow (the calling window's resume at an open)", () => {
  it('waits a bounded while for a token that does not come, then decides on what it knows', async () => {
    // A token request stuck in the limiter or on a slow endpoint (up to CXONE_TIMEOUT_MS): the window
    // job must not hold a slot of the compliance worker, which other campaigns' closes need, for it.
    let missing: string[] | undefined = [STATS_SCOPE];
    const stuck = {
      tokens: {
        scopeShortfall: () => (missing ? { missingScopes: missing } : undefined),
        getToken: () => new Promise<string>(() => undefined),
      },
    };
    await expect(statsScopeMissingNow(stuck, 'c1')).resolves.toBeInstanceOf(StatsScopeMissingError);
    // No token known to lack it, and none in time to tell: undecided, not a grant.
    missing = undefined;
    await expect(statsScopeMissingNow(stuck, 'c1')).resolves.toBe('undecided');
  }, 5_000);

  it("takes a token's answer, or its failure, as soon as it comes", async () => {
    let missing: string[] | undefined;
    const client = {
      tokens: {
        scopeShortfall: () => (missing ? { missingScopes: missing } : undefined),
        getToken: () => {
          missing = [STATS_SCOPE];
          return Promise.resolve('t');
        },
      },
    };
    expect(await statsScopeMissingNow(client, 'c1')).toMatchObject({ missingScopes: [STATS_SCOPE] });
    const down = {
      tokens: { scopeShortfall: () => undefined, getToken: () => Promise.reject(new Error('down')) },
    };
    await expect(statsScopeMissingNow(down, 'c1')).resolves.toBeUndefined();
  });
});

describe('statsScopeGranted (whether a held activation may go)', () => {
  it("is the last token's grant of the statistics scope, and unknown without a token provider", () => {
    expect(statsScopeGranted(clientLacking(undefined))).toBe(true);
    expect(statsScopeGranted(clientLacking(['outbound:campaigns:write']))).toBe(true);
    expect(statsScopeGranted(clientLacking([STATS_SCOPE]))).toBe(false);
    // A CXone double without a token provider tells nothing: a hold on the scope does not end on it.
    expect(statsScopeGranted({})).toBeUndefined();
    expect(statsScopeGranted(null)).toBeUndefined();
  });
});
