import { describe, expect, it } from 'vitest';
import { api, campaignConfig } from '../e2e/stack.js';
import { stackForSuite } from '../support/stack-suite.js';
import { placelessZoneProblem } from '../../src/shared/compliance/placeless-zones.js';

/**
 * A campaign's complianceTimeZone is the called party's clock, and calling hours are applied in it:
 * a fixed offset that no place keeps (Etc/GMT+5, Etc/UTC, UTC) is refused at launch and by
 * /validate, naming the field and a zone to write instead. Over real HTTP and real Redis, without
 * workers: every launch accepted stays queued, so the queue count shows what was enqueued.
 */
const suite = stackForSuite();

const FIXED_OFFSETS = [
  'Etc/GMT+5',
  'UTC',
  'Etc/UTC',
  'Etc/GMT',
  'Etc/GMT-14',
  'Etc/Universal',
  'Etc/Zulu',
  'etc/gmt+5',
  'ETC/UTC',
  'SystemV/EST5',
];

describe('a launch on a fixed UTC offset', () => {
  it('answers 400 naming complianceTimeZone and a zone to write instead, and enqueues nothing', async () => {
    for (const zone of FIXED_OFFSETS) {
      const before = await suite.queued();
      const body = campaignConfig({ name: `On ${zone}`, complianceTimeZone: zone });
      const reply = await api(suite.stack, 'POST', '/v1/campaigns', { body });
      expect(reply.status, zone).toBe(400);
      expect(reply.body.error, zone).toBe('validation_failed');
      const issues = reply.body.issues as { path: string; message: string }[];
      expect(
        issues.map((i) => i.path),
        zone,
      ).toEqual(['complianceTimeZone']);
      expect(issues[0]?.message, zone).toContain(zone);
      expect(issues[0]?.message, zone).toContain("no called party's clock keeps");
      expect(issues[0]?.message, zone).toMatch(/name the called party's zone, e\.g\. [A-Z][a-z]+\/\w+/);
      expect(await suite.queued(), zone).toBe(before);
    }
  });

  it('says which offset the name is and names places that keep it', async () => {
    const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ complianceTimeZone: 'Etc/GMT+5' }),
    });
    expect(reply.body.issues).toEqual([
      {
        path: 'complianceTimeZone',
        message:
          "Etc/GMT+5 is a fixed offset (UTC-05:00 all year, no daylight saving) that no called party's clock " +
          "keeps: calling hours are the called party's local time; name the called party's zone, e.g. " +
          'America/Bogota (UTC-05:00 all year) or America/New_York (UTC-05:00, UTC-04:00 in daylight saving time)',
      },
    ]);
    const utc = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ complianceTimeZone: 'UTC' }),
    });
    expect((utc.body.issues as { message: string }[])[0]?.message).toContain(
      'e.g. Atlantic/Reykjavik (UTC+00:00 all year) or Europe/London',
    );
  });

  it('refuses the aliases without a slash (GMT, Zulu, UCT, Universal, Greenwich, EST) as the fixed offsets they are', async () => {
    const before = await suite.queued();
    for (const zone of ['GMT', 'Zulu', 'UCT', 'Universal', 'Greenwich', 'GMT0', 'utc', 'EST', 'MST', 'HST']) {
      const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
        body: campaignConfig({ complianceTimeZone: zone }),
      });
      expect(reply.status, zone).toBe(400);
      // Named as the tz database spells it (`utc` is UTC).
      expect(reply.body.issues, zone).toEqual([
        {
          path: 'complianceTimeZone',
          message: placelessZoneProblem(zone.toUpperCase() === 'UTC' ? 'UTC' : zone),
        },
      ]);
      expect(reply.body.issues, zone).toEqual([
        {
          path: 'complianceTimeZone',
          message: expect.stringMatching(/is a fixed offset \(UTC[+-]\d\d:00 all year, no daylight saving\)/),
        },
      ]);
    }
    expect(await suite.queued()).toBe(before);
  });

  it('answers one message for the zone, not also one per declared state on the wrong clock', async () => {
    const body = campaignConfig({ complianceTimeZone: 'Etc/GMT+5', recipientStates: ['NY', 'NJ'] });
    const reply = await api(suite.stack, 'POST', '/v1/campaigns', { body });
    expect(reply.status).toBe(400);
    expect((reply.body.issues as { path: string }[]).map((i) => i.path)).toEqual(['complianceTimeZone']);
    // The same config on a place's zone that is not the states' clock: the state findings are there.
    const elsewhere = await api(suite.stack, 'POST', '/v1/campaigns/validate', {
      body: { ...body, complianceTimeZone: 'America/Bogota' },
    });
    expect((elsewhere.body.issues as { path: string }[]).map((i) => i.path)).toEqual([
      'recipientStates.0',
      'recipientStates.1',
    ]);
  });

  it('names the zone beside the shape errors, in field order, in the launch and in /validate', async () => {
    const body = {
      ...campaignConfig({ complianceTimeZone: 'UTC' }),
      name: '',
      dialerStrategy: { strategy: 'predictive', agentCapacity: 10, callRate: '0.5', answerRate: 0.3 },
    };
    const before = await suite.queued();
    const launched = await api(suite.stack, 'POST', '/v1/campaigns', { body });
    expect(launched.status).toBe(400);
    const paths = (launched.body.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(['name', 'complianceTimeZone', 'dialerStrategy.callRate']);
    const checked = await api(suite.stack, 'POST', '/v1/campaigns/validate', { body });
    expect(checked.status).toBe(200);
    expect(checked.body).toEqual({ valid: false, issues: launched.body.issues });
    expect(await suite.queued()).toBe(before);
  });

  it("launches on the place's zone the refusal names", async () => {
    const before = await suite.queued();
    for (const zone of ['America/Bogota', 'Atlantic/Reykjavik', 'US/Eastern']) {
      const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
        body: campaignConfig({ name: `On ${zone}`, complianceTimeZone: zone }),
      });
      expect(reply.status, zone).toBe(202);
    }
    expect(await suite.queued()).toBe(before + 3);
  });
});
