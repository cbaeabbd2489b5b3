import { describe, expect, it } from 'vitest';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { ManualClock } from '../../src/shared/clock.js';
import {
  StartWindowPassedError,
  startRefusalAt,
  startWindowCheck,
} from '../../src/shared/compliance/start-at-send.js';
import { nextAllowedStart } from '../../src/shared/compliance/windows.js';
import { campaignConfig } from '../e2e/stack.js';

/** The check an activating write makes when its permit is granted: the rule the launch planned by. */
const config = campaignConfigSchema.parse(
  campaignConfig({
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '21:00' }],
  }),
);
const at = (local: string) => Date.parse(`${local}-05:00`);

describe('startRefusalAt', () => {
  it.each([
    ['inside the window', '2026-03-04T12:00:00', true],
    ['exactly 30 s before the close', '2026-03-04T20:59:30', true],
    ['29 s before the close', '2026-03-04T20:59:31', false],
    ['at the close', '2026-03-04T21:00:00', false],
    ['before the open', '2026-03-04T08:59:59', false],
    ['on a day without a window', '2026-03-07T12:00:00', false],
  ])('%s (%s): allowed = %s, as nextAllowedStart plans', (_name, local, allowed) => {
    const atMs = at(local);
    expect(startRefusalAt(config, atMs) === null).toBe(allowed);
    expect(nextAllowedStart(config, atMs) === atMs).toBe(allowed);
  });

  it('names the close and the margin inside the last 30 s, and the rule outside the window', () => {
    expect(startRefusalAt(config, at('2026-03-04T20:59:45'))).toMatch(
      /^not activated at 2026-03-04T20:59:45-05:00 \(America\/New_York\): its calling window closes at 2026-03-04T21:00:00-05:00, less than 30 s away, too late for the pause that must follow to land by it \(calling hours 08:00–21:00 local/,
    );
    expect(startRefusalAt(config, at('2026-03-07T12:00:00'))).toMatch(
      /^not activated at 2026-03-07T12:00:00-05:00 \(America\/New_York\): outside its calling windows \(its own allowedCallTimes/,
    );
  });

  it('binds a declared state: Florida closes at 20:00', () => {
    const florida = { ...config, recipientStates: ['FL'] };
    expect(startRefusalAt(florida, at('2026-03-04T20:10:00'))).toMatch(
      /outside its calling windows \(Florida/,
    );
  });
});

describe('startWindowCheck', () => {
  it('reads the clock when it runs, not when it was made', () => {
    const clock = new ManualClock(at('2026-03-04T20:59:00'));
    const check = startWindowCheck(config, clock, 'c-1');
    expect(check).not.toThrow();
    clock.set(at('2026-03-04T21:00:05'));
    let thrown: unknown;
    try {
      check();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(StartWindowPassedError);
    expect(thrown).toMatchObject({
      campaignId: 'c-1',
      rule: 'calling-window',
      atMs: at('2026-03-04T21:00:05'),
      nextStartMs: at('2026-03-05T09:00:00'),
    });
    expect((thrown as Error).message).toMatch(/^campaign c-1 not activated at 2026-03-04T21:00:05-05:00/);
  });
});
