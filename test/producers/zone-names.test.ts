import { describe, expect, it } from 'vitest';
import { api, campaignConfig } from '../e2e/stack.js';
import { stackForSuite } from '../support/stack-suite.js';

/**
 * Zone names without a slash over real HTTP and real Redis, without workers (every launch accepted
 * stays queued, its job holding the config as the launch worker will use it): an old name of a
 * country's zone (`Japan`) is a place's and launches on that place's zone; a fixed offset (`EST`) or a
 * daylight-saving rule (`EST5EDT`) is refused saying what it is and what to write instead; ICU's
 * legacy abbreviations (`BST`) are refused as no tz database zone.
 */
const suite = stackForSuite();

describe('a launch on a zone named without a slash', () => {
  it('accepts an old name of a country’s zone and queues the launch on the place’s zone', async () => {
    for (const [zone, place] of [
      ['Japan', 'Asia/Tokyo'],
      ['GB', 'Europe/London'],
      ['Navajo', 'America/Denver'],
    ] as const) {
      const before = await suite.queued();
      const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
        body: campaignConfig({ name: `On ${zone}`, complianceTimeZone: zone }),
      });
      expect(reply.status, zone).toBe(202);
      expect(await suite.queued(), zone).toBe(before + 1);
      const job = await suite.stack.ctx.queues.launch.getJob(String(reply.body.launchId));
      expect(job?.data.config.complianceTimeZone, zone).toBe(place);
    }
    // A state's zone check reads the place: the Navajo Nation keeps Denver's clock, an Arizona zone.
    const arizona = await api(suite.stack, 'POST', '/v1/campaigns/validate', {
      body: campaignConfig({
        complianceTimeZone: 'Navajo',
        recipientStates: ['AZ'],
        // From 09:00: 08:00 in Phoenix, which keeps no daylight saving, in summer.
        allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '20:00' }],
      }),
    });
    expect(arizona.body).toEqual({ valid: true, issues: [] });
  });

  it('accepts a US/ link for the states whose clock it keeps', async () => {
    const reply = await api(suite.stack, 'POST', '/v1/campaigns/validate', {
      body: campaignConfig({ complianceTimeZone: 'US/Eastern', recipientStates: ['NY', 'NJ'] }),
    });
    expect(reply.body).toEqual({ valid: true, issues: [] });
  });

  it('refuses EST as the fixed offset it is, naming places to write instead', async () => {
    const before = await suite.queued();
    const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ complianceTimeZone: 'EST', recipientStates: ['NY'] }),
    });
    expect(reply.status).toBe(400);
    // One message for the zone, not also one for New York's clock.
    expect(reply.body.issues).toEqual([
      {
        path: 'complianceTimeZone',
        message:
          "EST is a fixed offset (UTC-05:00 all year, no daylight saving) that no called party's clock keeps: " +
          "calling hours are the called party's local time; name the called party's zone, e.g. America/Bogota " +
          '(UTC-05:00 all year) or America/New_York (UTC-05:00, UTC-04:00 in daylight saving time)',
      },
    ]);
    expect(await suite.queued()).toBe(before);
  });

  it('refuses a daylight-saving rule naming the place on its clock, and an abbreviation as no zone', async () => {
    const rule = await api(suite.stack, 'POST', '/v1/campaigns/validate', {
      body: campaignConfig({ complianceTimeZone: 'EST5EDT' }),
    });
    expect(rule.body).toEqual({
      valid: false,
      issues: [
        {
          path: 'complianceTimeZone',
          message:
            "EST5EDT is a daylight-saving rule, not a place: calling hours are the called party's local time; " +
            "name the called party's zone, e.g. America/New_York (the same clock)",
        },
      ],
    });
    const abbreviation = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ complianceTimeZone: 'BST' }),
    });
    expect(abbreviation.status).toBe(400);
    expect(abbreviation.body.issues).toEqual([
      {
        path: 'complianceTimeZone',
        message:
          'BST is an abbreviation, not a tz database zone, and abbreviations are ambiguous (this runtime ' +
          "would read it as Asia/Dhaka): name the called party's zone as Area/Location, e.g. " +
          'America/New_York or Europe/London',
      },
    ]);
  });
});
