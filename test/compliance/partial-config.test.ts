import { describe, expect, it } from 'vitest';
import {
  campaignConfigBaseSchema,
  toValidationIssues,
  type CampaignConfigInput,
} from '../../src/shared/campaign-config.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { checkCampaignCompliance, checkUsableCompliance } from '../../src/shared/compliance/config-rules.js';
import { configInput } from './fixtures.js';

/**
 * A config with a shape error somewhere (a day spelt "Mon", a call rate sent as a string) is still
 * held to the compliance rules wherever it did parse: one answer names every problem, each with its
 * path, and nothing is made up from the fields that are broken.
 */
const loose = (overrides: Record<string, unknown>) => configInput(overrides as Partial<CampaignConfigInput>);

function issues(body: unknown) {
  const parsed = campaignConfigSchema.safeParse(body);
  return parsed.success ? [] : toValidationIssues(parsed.error, body);
}

const FEDERAL = '(calling hours, TCPA 47 CFR 64.1200(c)(1); FTC TSR 16 CFR 310.4(c))';

describe('compliance problems beside shape errors', () => {
  it('names a misspelt day, a day listed twice and a window past 21:00 in one answer', () => {
    const body = loose({
      allowedCallTimes: [
        { days: ['Mon', 'tue'], start: '09:00', end: '17:00' },
        { days: ['wed', 'thu', 'wed'], start: '09:00', end: '17:00' },
        { days: ['fri'], start: '09:00', end: '22:00' },
      ],
    });
    expect(issues(body)).toEqual([
      {
        path: 'allowedCallTimes.0.days.0',
        message: '"Mon" must be written "mon": days are mon, tue, wed, thu, fri, sat or sun, in lower case',
      },
      { path: 'allowedCallTimes.1.days.2', message: 'wed is listed twice' },
      { path: 'allowedCallTimes.2.end', message: `22:00 is after 21:00 local time ${FEDERAL}` },
    ]);
  });

  it('names a call rate sent as a string and a window starting before 08:00 together', () => {
    const body = loose({
      dialerStrategy: { strategy: 'predictive', agentCapacity: 20, callRate: '0.8', answerRate: 0.3 },
      allowedCallTimes: [{ days: ['mon'], start: '07:00', end: '17:00' }],
    });
    expect(issues(body)).toEqual([
      { path: 'dialerStrategy.callRate', message: 'Invalid input: expected number, received string' },
      { path: 'allowedCallTimes.0.start', message: `07:00 is before 08:00 local time ${FEDERAL}` },
    ]);
  });

  it('applies the recipient-state rules to the states and windows that parsed, at their own indexes', () => {
    const body = loose({
      name: 42,
      complianceTimeZone: 'America/Los_Angeles',
      recipientStates: ['fl', 'ZZ', 'FL'],
      allowedCallTimes: [
        { days: ['Sun'], start: '09:00', end: '17:00' },
        { days: ['mon'], start: '09:00', end: '20:30' },
      ],
    });
    expect(issues(body).map((i) => i.path)).toEqual([
      'name',
      'allowedCallTimes.0.days.0',
      'recipientStates.0',
      'recipientStates.1', // "ZZ": a well-formed code that is no state
      'allowedCallTimes.1.end', // after 20:00, Florida's hours
      'recipientStates.2', // Florida keeps no Los Angeles clock
    ]);
  });

  it('keeps the regime a compliance group refused for another field names', () => {
    const body = loose({
      targetListId: 'nope',
      recipientStates: ['NY'],
      compliance: { regime: 'OFCOM', doNotCallCheck: 'no' },
    });
    expect(issues(body)).toEqual([
      { path: 'targetListId', message: 'must be a UUID' },
      { path: 'compliance.doNotCallCheck', message: 'Invalid input: expected boolean, received string' },
      {
        path: 'compliance.regime',
        message: expect.stringMatching(/^NY recipients are called under the TCPA/),
      },
    ]);
  });
});

describe('no finding is made up from a broken field', () => {
  const cases: { label: string; overrides: Record<string, unknown>; paths: string[] }[] = [
    {
      label: 'a window with a broken field (its other fields break rules too)',
      overrides: { allowedCallTimes: [{ days: ['Mon', 'Mon'], start: 7, end: '22:00' }] },
      paths: ['allowedCallTimes.0.days.0', 'allowedCallTimes.0.days.1', 'allowedCallTimes.0.start'],
    },
    {
      label: 'a window that is no object, and windows that are no list',
      overrides: { allowedCallTimes: ['mon 09:00-22:00'] },
      paths: ['allowedCallTimes.0'],
    },
    {
      label: 'an unknown zone beside a declared state',
      overrides: { complianceTimeZone: 'Eastern', recipientStates: ['FL'] },
      paths: ['complianceTimeZone'],
    },
    {
      label: 'a broken start beside a state the zone does not keep',
      overrides: {
        startDateTime: 'tomorrow',
        complianceTimeZone: 'America/Los_Angeles',
        recipientStates: ['FL'],
      },
      paths: ['startDateTime'],
    },
    {
      label: 'a misspelt regime beside declared states',
      overrides: { compliance: { regime: 'OFCM' }, recipientStates: ['NY'] },
      paths: ['compliance.regime'],
    },
    {
      label: 'states that are no list',
      overrides: { recipientStates: 'FL', complianceTimeZone: 'America/Los_Angeles' },
      paths: ['recipientStates'],
    },
  ];
  for (const c of cases) {
    it(`reports only the shape error for ${c.label}`, () => {
      expect(issues(loose(c.overrides)).map((i) => i.path)).toEqual(c.paths);
    });
  }

  it('reports only the shape error for a body that is no object', () => {
    for (const body of [null, [], 'config', 7]) {
      expect(issues(body).map((i) => i.path)).toEqual(['(body)']);
    }
  });
});

describe('one set of rules', () => {
  it('passes a valid config, with the output of the base schema', () => {
    const body = configInput({ recipientStates: ['NY'], compliance: { regime: 'TCPA' } });
    const parsed = campaignConfigSchema.safeParse(body);
    expect(parsed.success && parsed.data).toEqual(campaignConfigBaseSchema.parse(body));
  });

  it('finds on what is usable of a config what the rules find on the parsed config', () => {
    const body = configInput({
      complianceTimeZone: 'America/Los_Angeles',
      recipientStates: ['FL', 'ZZ', 'CT'],
      allowedCallTimes: [
        { days: ['mon', 'mon', 'sun'], start: '07:30', end: '21:30' },
        { days: ['sat'], start: '10:00', end: '10:00' },
      ],
    });
    const parsed = campaignConfigBaseSchema.parse(body);
    const problems = checkCampaignCompliance(parsed);
    expect(problems.length).toBeGreaterThan(5);
    expect(checkUsableCompliance(body)).toEqual(problems);
    // And the schema reports exactly those on the valid shape, and again beside a shape error.
    const described = problems.map((p) => ({ path: p.path.join('.'), message: p.message }));
    expect(issues(body)).toEqual(described);
    expect(issues({ ...body, skillGroupId: 'nope' })).toEqual([
      { path: 'skillGroupId', message: 'must be a UUID' },
      ...described,
    ]);
  });
});
