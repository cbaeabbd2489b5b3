import { describe, expect, it } from 'vitest';
import {
  grantedScopes,
  scopeShortfall,
  shortfallMessage,
  shortfallStopsRouting,
  STATS_SCOPE,
} from '../../src/shared/cxone/scopes.js';
import { CXONE_SCOPES } from '../../src/shared/cxone/wire.js';

const ALL = [...CXONE_SCOPES];

describe('the scopes a token response granted', () => {
  it('are the ones asked for when the response has no scope field (RFC 6749 §5.1)', () => {
    expect(grantedScopes(undefined, ALL)).toEqual(ALL);
    expect(scopeShortfall(ALL, undefined)).toBeUndefined();
  });

  it('are the ones asked for when the field holds no scope token at all', () => {
    expect(grantedScopes('', ALL)).toEqual(ALL);
    expect(grantedScopes('  ', ALL)).toEqual(ALL);
  });

  it('are read space separated, in any order, extra whitespace or commas tolerated', () => {
    expect(grantedScopes(' b  a\tc ', ['a'])).toEqual(['b', 'a', 'c']);
    expect(grantedScopes('a,b', ['a'])).toEqual(['a', 'b']);
    expect(scopeShortfall(ALL, [...ALL].reverse().join('  '))).toBeUndefined();
    expect(scopeShortfall(ALL, ALL.join(','))).toBeUndefined();
  });
});

describe('scopeShortfall', () => {
  it('names a scope granted to fewer than asked, with the endpoints it blocks and what that stops', () => {
    const shortfall = scopeShortfall(ALL, 'outbound:campaigns:read outbound:campaigns:write');
    expect(shortfall).toEqual({
      missing: ['outbound:campaigns:stats:read'],
      granted: ['outbound:campaigns:read', 'outbound:campaigns:write'],
      blocks: [
        {
          scope: 'outbound:campaigns:stats:read',
          endpoints: ['GET /api/v2/outbound/campaigns/:id/stats'],
          what: expect.stringMatching(/guard is blind/),
        },
      ],
    });
    const message = shortfallMessage(shortfall!);
    expect(message).toContain('missing outbound:campaigns:stats:read');
    expect(message).toContain('GET /api/v2/outbound/campaigns/:id/stats');
    expect(message).toMatch(/blind pause/);
    expect(message).toMatch(/CXone admin/);
    // What CXone did grant, as it said it: a client given other scopes by mistake shows here.
    expect(message).toContain('Granted: outbound:campaigns:read outbound:campaigns:write.');
  });

  it('lists every missing scope in the order asked, each endpoint once under its scope', () => {
    const shortfall = scopeShortfall(ALL, 'outbound:campaigns:stats:read');
    expect(shortfall?.missing).toEqual(['outbound:campaigns:read', 'outbound:campaigns:write']);
    expect(shortfall?.blocks.map((b) => [b.scope, b.endpoints])).toEqual([
      [
        'outbound:campaigns:read',
        ['GET /api/v2/campaigns/:id', 'GET /api/v2/outbound/campaigns/:id/history'],
      ],
      ['outbound:campaigns:write', ['POST /api/v2/campaigns', 'PATCH /api/v2/campaigns/:id']],
    ]);
  });

  it('judges only the scopes asked for: more granted is no shortfall', () => {
    expect(scopeShortfall(['outbound:campaigns:read'], `${ALL.join(' ')} other:scope`)).toBeUndefined();
    expect(scopeShortfall(['outbound:campaigns:read'], 'outbound:campaigns:write')?.missing).toEqual([
      'outbound:campaigns:read',
    ]);
  });

  it('is case sensitive, as scope tokens are (RFC 6749 §3.3)', () => {
    expect(scopeShortfall(ALL, ALL.join(' ').toUpperCase())?.missing).toEqual(ALL);
  });

  it('keeps no more of what the server granted than an operator can read', () => {
    const many = Array.from({ length: 50 }, (_, i) => `x${i}:${'y'.repeat(300)}`).join(' ');
    const granted = scopeShortfall(ALL, many)?.granted ?? [];
    expect(granted).toHaveLength(20);
    expect(granted.every((g) => g.length <= 101)).toBe(true);
  });
});

describe('scopeShortfall, at its edges', () => {
  it('names a scope asked for twice (CXONE_SCOPES repeating one) once', () => {
    const shortfall = scopeShortfall([STATS_SCOPE, STATS_SCOPE], 'outbound:campaigns:read');
    expect(shortfall?.missing).toEqual([STATS_SCOPE]);
    expect(shortfall?.blocks).toHaveLength(1);
  });

  it('keeps a granted scope of exactly the shown length whole, and cuts only a longer one', () => {
    const exact = 'x'.repeat(100);
    const longer = 'y'.repeat(101);
    expect(scopeShortfall(ALL, `${exact} ${longer}`)?.granted).toEqual([exact, `${'y'.repeat(100)}…`]);
  });
});

describe('shortfallStopsRouting (readiness)', () => {
  it('keeps a replica in rotation when only the statistics scope is missing', () => {
    expect(shortfallStopsRouting([STATS_SCOPE])).toBe(false);
    expect(shortfallStopsRouting([])).toBe(false);
  });

  it('takes it out when the read or the write scope is missing, with the statistics scope or without', () => {
    expect(shortfallStopsRouting(['outbound:campaigns:write'])).toBe(true);
    expect(shortfallStopsRouting([STATS_SCOPE, 'outbound:campaigns:write'])).toBe(true);
    expect(shortfallStopsRouting(['outbound:campaigns:read', STATS_SCOPE])).toBe(true);
  });
});
