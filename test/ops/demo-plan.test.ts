import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import {
  auditLine,
  auditViewState,
  demoCampaign,
  demoOutcome,
  eventLine,
  newAuditLines,
  pacingLine,
  parseDemoArgs,
  pickOpenZone,
  statsLine,
} from '../../src/cli/demo-plan.js';
import type { AuditPageView } from '../../src/cli/format.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import type { CampaignConfigInput } from '../../src/shared/campaign-config.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { isWithinWindow } from '../../src/shared/compliance/windows.js';

const example = JSON.parse(
  readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8'),
) as CampaignConfigInput;

describe('demo plan (pure)', () => {
  it('picks a zone where the calling window is open, at every hour of the day', () => {
    const day = Date.parse('2026-11-28T00:00:00Z');
    for (let hour = 0; hour < 24; hour++) {
      const now = day + hour * 3600_000 + 17 * 60_000;
      const zone = pickOpenZone(now);
      const local = DateTime.fromMillis(now, { zone });
      expect(local.hour, `${zone} at ${hour}:17 UTC`).toBeGreaterThanOrEqual(8);
      expect(local.hour).toBeLessThan(20);
    }
  });

  it('keeps New York when the window is open there', () => {
    expect(pickOpenZone(Date.parse('2026-11-27T15:00:00Z'))).toBe('America/New_York');
  });

  it('turns the example into a valid campaign that may dial now', () => {
    for (const iso of ['2026-11-28T04:30:00Z', '2026-11-28T15:00:00Z', '2026-07-01T22:45:00Z']) {
      const now = Date.parse(iso);
      const { config, changes } = demoCampaign(example, now);
      const parsed = campaignConfigSchema.safeParse(config);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      if (!parsed.success) continue;
      expect(isWithinWindow(parsed.data, now)).toBe(true);
      expect(Date.parse(parsed.data.startDateTime)).toBeLessThanOrEqual(now);
      expect(parsed.data.pacing?.pollIntervalMs).toBe(5000);
      expect(changes[0]).toBe('starts now');
    }
  });

  it('narrates stats, pacing decisions, events and audit records', () => {
    expect(statsLine({ status: 'scheduled', version: 2 })).toContain('waiting for the first statistics poll');
    expect(
      statsLine({
        status: 'active',
        version: 3,
        lastStats: { totalCalls: 100, answeredCalls: 40, abandonedCalls: 1 },
        config: { dialerStrategy: { callRate: 0.6 } },
      }),
    ).toBe('active v3  calls 100  answered 40  abandoned 1 (2.50% of answered)  violations 0  callRate 0.6');
    // Paused since the last poll: the figures are said to be that poll's, not a paused campaign's.
    expect(
      statsLine({
        status: 'paused',
        version: 5,
        lastStats: {
          totalCalls: 1339,
          answeredCalls: 400,
          abandonedCalls: 4,
          complianceViolations: 0,
          status: 'active',
          version: 4,
        },
        config: { dialerStrategy: { callRate: 0.6 } },
      }),
    ).toBe(
      'paused v5  (last poll: active v4)  calls 1339  answered 400  abandoned 4 (1.00% of answered)  violations 0  callRate 0.6',
    );
    expect(
      pacingLine({
        lastDecision: { direction: 'down', previousCallRate: 0.6, callRate: 0.5, reason: 'too hot' },
      }),
    ).toBe('pacing ↓ callRate 0.6 → 0.5: too hot');
    expect(pacingLine(null)).toBeUndefined();
    expect(
      eventLine({ id: 'evt_1', type: 'campaign.state.changed', verified: false, problem: 'no match' }),
    ).toContain('✗ REJECTED (no match)');
    expect(
      auditLine({ action: 'state_changed', actor: 'api:ops', cxoneVersion: 4, details: { to: 'paused' } }),
    ).toBe('audit   state_changed by api:ops (v4)  to=paused');
  });
});

describe('demo outcome (pure)', () => {
  const good = { id: 'evt_1', type: 'campaign.state.changed', verified: true };
  it('exits 0 only for a final campaign, a verified chain and only signed webhooks', () => {
    expect(
      demoOutcome({
        campaignId: 'c-1',
        finalStatus: 'completed',
        verify: { ok: true, checked: 12 },
        events: [good],
      }),
    ).toEqual({
      code: 0,
      lines: [
        'audit chain verified (12 records)',
        'webhooks received: 1 (1 with a valid signature)',
        'campaign c-1 is completed.',
        'Demo finished.',
      ],
    });
  });

  it('exits 1 naming each problem: a broken or unread chain, a bad signature, no final state', () => {
    const broken = demoOutcome({
      campaignId: 'c-1',
      finalStatus: 'completed',
      verify: { ok: false, checked: 12 },
      events: [good],
    });
    expect(broken.code).toBe(1);
    expect(broken.lines).toContain('audit chain BROKEN (12 records)');
    expect(broken.lines.at(-1)).toBe('Demo finished with problems: the audit chain did not verify.');

    const unread = demoOutcome({
      campaignId: 'c-1',
      finalStatus: undefined,
      verify: undefined,
      events: [good, { ...good, id: 'evt_2', verified: false, problem: 'bad signature' }],
    });
    expect(unread.code).toBe(1);
    // Stopped by a signal: an unfinished campaign is the user's choice, not a problem.
    expect(
      demoOutcome({
        campaignId: 'c-1',
        finalStatus: undefined,
        verify: { ok: true },
        events: [],
        interrupted: true,
      }),
    ).toMatchObject({ code: 0, lines: expect.arrayContaining(['Demo stopped.']) });
    expect(unread.lines.at(-1)).toBe(
      'Demo finished with problems: the audit chain could not be verified; 1 webhook(s) failed their signature check; the campaign did not reach a final state.',
    );
  });
});

describe('demo arguments (pure)', () => {
  it('accepts --duration N and --duration=N, defaulting to 45 s', () => {
    expect(parseDemoArgs([])).toEqual({ kind: 'run', durationSec: 45 });
    expect(parseDemoArgs(['--duration', '20'])).toEqual({ kind: 'run', durationSec: 20 });
    expect(parseDemoArgs(['--duration=20'])).toEqual({ kind: 'run', durationSec: 20 });
    expect(parseDemoArgs(['--help'])).toEqual({ kind: 'help' });
  });

  it('refuses bad values and unknown options with one line naming the option', () => {
    const error = (argv: string[]) => {
      const r = parseDemoArgs(argv);
      return r.kind === 'error' ? r.error : r.kind;
    };
    expect(error(['--duration', '2'])).toBe('--duration must be a number of seconds >= 5 (got "2")');
    expect(error(['--duration=abc'])).toMatch(/^--duration must be a number .*"abc"/);
    expect(error(['--duration'])).toBe('--duration needs a value');
    expect(error(['--duration='])).toBe('--duration needs a value');
    expect(error(['--speed', '2'])).toBe('unknown option --speed');
    expect(error(['--speed=2'])).toBe('unknown option --speed');
    expect(error(['fast'])).toBe('unexpected argument "fast"');
  });
});

describe("the demo's audit view shows gaps", () => {
  it('says each gap once, after its page records, and the outcome counts the trail as incomplete', async () => {
    const pages: Record<string, AuditPageView> = {
      start: {
        records: [{ auditId: 'aud_1', action: 'launch_requested', actor: 'api:demo' }],
        nextCursor: '1-0',
        gaps: [{ streamId: '1-0', reason: 'missing', auditId: 'aud_2' }],
      },
      '1-0': {
        records: [{ auditId: 'aud_3', action: 'campaign_created', actor: 'worker:launch' }],
        nextCursor: null,
        gaps: [{ streamId: '2-0', reason: 'unparseable' }],
      },
    };
    const state = auditViewState();
    const fetchPage = (cursor: string | null) => Promise.resolve(pages[cursor ?? 'start']!);
    const lines = await newAuditLines(fetchPage, state);
    expect(lines).toEqual([
      'audit   launch_requested by api:demo',
      'audit   ✗ GAP: aud_2 (stream id 1-0) is missing from the trail; the trail is incomplete (run npm run audit -- verify)',
      'audit   campaign_created by worker:launch',
      'audit   ✗ GAP: a record (stream id 2-0) is unparseable; the trail is incomplete (run npm run audit -- verify)',
    ]);
    // The next look shows nothing again.
    expect(await newAuditLines(fetchPage, state)).toEqual([]);
    const outcome = demoOutcome({
      campaignId: 'c1',
      finalStatus: 'completed',
      verify: { ok: true, checked: 2 },
      events: [],
      auditGaps: [...state.gaps.values()],
    });
    expect(outcome.code).toBe(1);
    expect(outcome.lines).toContain(
      'audit trail incomplete: 2 record(s) could not be read (first: aud_2 (stream id 1-0) is missing from the trail)',
    );
    expect(outcome.lines.at(-1)).toMatch(
      /with problems: .*the audit trail has records the API could not return/,
    );
  });

  it('meets a record deleted from the real trail (Redis, own prefix) as a gap', async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const prefix = testPrefix('demo-gaps');
    const keys = createKeys(prefix);
    try {
      const trail = createAuditTrail({ redis, keys, logger: silentLogger });
      for (let n = 0; n < 4; n++) {
        await trail.append({
          campaignId: 'c-demo',
          action: 'state_changed',
          actor: 'api:demo',
          details: { n },
        });
      }
      const index = (await redis.xrange(keys.auditCampaignIndex('c-demo'), '-', '+')) as [string, string[]][];
      const [victimId, fields] = index[1]!;
      await redis.xdel(keys.auditStream(), victimId);
      const state = auditViewState();
      // Pages of two: the gap is on the first page.
      const lines = await newAuditLines((cursor) => trail.page('c-demo', cursor, 2), state);
      expect(lines).toHaveLength(4);
      expect(lines.filter((l) => l.includes('✗ GAP'))).toEqual([
        `audit   ✗ GAP: ${fields[1]} (stream id ${victimId}) is missing from the trail; the trail is incomplete (run npm run audit -- verify)`,
      ]);
      expect(state.records.size).toBe(3);
    } finally {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
