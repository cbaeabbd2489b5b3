import { readFileSync } from 'node:fs';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  auditLine,
  demoCampaign,
  demoOutcome,
  eventLine,
  pacingLine,
  parseDemoArgs,
  pickOpenZone,
  statsLine,
} from '../../src/cli/demo-plan.js';
import type { CampaignConfigInput } from '../../src/shared/campaign-config.js';
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
