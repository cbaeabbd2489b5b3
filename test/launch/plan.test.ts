import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { activateJobId } from '../../src/shared/jobs.js';
import { startedOutsideFrom, startedOutsideOrchestrator } from '../../src/shared/launch-store.js';
import type { CampaignRecord } from '../../src/shared/campaign-store.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { campaignConfig } from '../e2e/stack.js';
import {
  nextActivationWakeMs,
  nextLaunchStep,
  planActivation,
  runningFoundOnRead,
  SCHEDULED_CHECK_MIN_MS,
  scheduledCheckIntervalMs,
} from '../../src/workers/launch-plan.js';

const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;
const config = {
  complianceTimeZone: 'America/New_York',
  allowedCallTimes: [{ days: [...weekdays], start: '09:00', end: '17:00' }],
};
const ny = (iso: string) => DateTime.fromISO(iso, { zone: 'America/New_York' }).toMillis();

describe('planActivation', () => {
  it('activates now when the start has passed and the window is open', () => {
    const now = ny('2026-12-01T10:00'); // a Tuesday
    const plan = planActivation({ ...config, startDateTime: '2026-11-01T09:00:00-05:00' }, now);
    expect(plan).toEqual({ activateAtMs: now, movedToWindow: false, delayMs: 0 });
  });

  it('waits for a future start inside the window', () => {
    const now = ny('2026-12-01T10:00');
    const plan = planActivation({ ...config, startDateTime: '2026-12-01T11:30:00-05:00' }, now);
    expect(plan).toEqual({
      activateAtMs: ny('2026-12-01T11:30'),
      movedToWindow: false,
      delayMs: 90 * 60_000,
    });
  });

  it('moves a start outside the window to the next open, across a weekend', () => {
    const now = ny('2026-12-04T16:00'); // Friday
    const plan = planActivation({ ...config, startDateTime: '2026-12-04T18:00:00-05:00' }, now);
    expect(plan.movedToWindow).toBe(true);
    expect(plan.activateAtMs).toBe(ny('2026-12-07T09:00')); // Monday
    expect(plan.delayMs).toBe(plan.activateAtMs - now);
  });

  it('never activates early, not even by a millisecond', () => {
    const open = ny('2026-12-01T09:00');
    const plan = planActivation({ ...config, startDateTime: '2026-11-01T09:00:00-05:00' }, open - 1);
    expect(plan).toMatchObject({ activateAtMs: open, delayMs: 1 });
  });

  it('reads the start in its own offset, whatever the campaign zone', () => {
    const now = ny('2026-12-01T08:00');
    const plan = planActivation({ ...config, startDateTime: '2026-12-01T15:00:00Z' }, now); // 10:00 in New York
    expect(plan.activateAtMs).toBe(ny('2026-12-01T10:00'));
    expect(plan.movedToWindow).toBe(false);
  });
});

describe('nextLaunchStep', () => {
  it('continues from wherever an interrupted run left the campaign', () => {
    expect(nextLaunchStep('draft')).toBe('schedule');
    expect(nextLaunchStep('scheduled')).toBe('activate');
    expect(nextLaunchStep('active')).toBe('done');
    expect(nextLaunchStep('paused')).toBe('done');
    expect(nextLaunchStep('completed')).toBe('gone');
    expect(nextLaunchStep('cancelled')).toBe('gone');
  });
});

describe('activateJobId', () => {
  it('is one id per campaign and valid as a BullMQ custom id (no colon)', () => {
    expect(activateJobId('abc')).toBe(activateJobId('abc'));
    expect(activateJobId('abc')).not.toBe(activateJobId('abd'));
    expect(activateJobId('abc')).not.toContain(':');
  });
});

describe('looks at scheduled campaigns before their start', () => {
  const budget = { perWindow: 100, windowMs: 60_000 };

  it('looks every two minutes while a fifth of the read budget covers every scheduled campaign', () => {
    expect(scheduledCheckIntervalMs({ ...budget, scheduled: 0 })).toBe(SCHEDULED_CHECK_MIN_MS);
    expect(scheduledCheckIntervalMs({ ...budget, scheduled: 40 })).toBe(SCHEDULED_CHECK_MIN_MS);
  });

  it('stretches the interval when more campaigns wait than that share affords', () => {
    // 20 reads a minute for 100 campaigns: each one every 5 minutes.
    expect(scheduledCheckIntervalMs({ ...budget, scheduled: 100 })).toBe(5 * 60_000);
    expect(scheduledCheckIntervalMs({ perWindow: 1000, windowMs: 60_000, scheduled: 1000 })).toBe(5 * 60_000);
    // A budget too small for a fifth still gets one read per window.
    expect(scheduledCheckIntervalMs({ perWindow: 3, windowMs: 60_000, scheduled: 10 })).toBe(10 * 60_000);
  });

  it('wakes at the start when it comes before the next look', () => {
    expect(nextActivationWakeMs(10_000, 0, SCHEDULED_CHECK_MIN_MS)).toBe(10_000);
    expect(nextActivationWakeMs(86_400_000, 1_000, SCHEDULED_CHECK_MIN_MS)).toBe(
      1_000 + SCHEDULED_CHECK_MIN_MS,
    );
  });
});

describe('a running campaign found on a read: whose start was it (pure)', () => {
  const at = '2026-12-01T12:00:00.000Z';
  it("is an operator's when no activating write of ours was noted, and says what it was started from", () => {
    expect(startedOutsideOrchestrator('active', null)).toBe(true);
    expect(startedOutsideOrchestrator('paused', { activationSent: undefined })).toBe(true);
    expect(startedOutsideOrchestrator('active', { activationSent: 2 })).toBe(false);
    expect(startedOutsideOrchestrator('scheduled', null)).toBe(false);
    expect(
      startedOutsideOrchestrator('active', { activationSent: 2, startedOutside: { at, from: 'draft' } }),
    ).toBe(true);

    expect(startedOutsideFrom(null)).toBe('draft');
    expect(startedOutsideFrom({ status: 'scheduled' })).toBe('scheduled');
    // A record a read synced running since was scheduled before CXone's start.
    expect(startedOutsideFrom({ status: 'active' })).toBe('scheduled');
    expect(startedOutsideFrom({ status: 'active', startedOutside: { at, from: 'draft' } })).toBe('draft');
  });

  it('classifies a read: taken over, ours (with the start it planned from), or neither', () => {
    expect(runningFoundOnRead('active', null, 0.5)).toEqual({ kind: 'startedOutside', from: 'draft' });
    expect(runningFoundOnRead('paused', { status: 'scheduled' }, 0.5)).toEqual({
      kind: 'startedOutside',
      from: 'scheduled',
    });
    expect(runningFoundOnRead('active', { status: 'scheduled', activationSent: 2 }, 0.5)).toMatchObject({
      kind: 'active',
    });
    // Already taken over: not announced again; carried on while its safe start is unrecorded (the
    // run that took it over died before), else left to pacing.
    const marked = { status: 'active', startedOutside: { at, from: 'scheduled' } } as const;
    expect(runningFoundOnRead('active', marked, 0.5)).toEqual({
      kind: 'takeoverUnfinished',
      plannedFrom: 0.5,
    });
    expect(runningFoundOnRead('active', { ...marked, pacing: null }, 0.5)).toEqual({
      kind: 'takeoverUnfinished',
      plannedFrom: 0.5,
    });
    // From the rate the takeover found it dialing at, as its run's sync left it on the record.
    const dialerStrategy = campaignConfigSchema.parse(campaignConfig()).dialerStrategy;
    const synced = { ...marked, config: { dialerStrategy: { ...dialerStrategy, callRate: 0.7 } } };
    expect(runningFoundOnRead('active', synced, 0.5)).toEqual({
      kind: 'takeoverUnfinished',
      plannedFrom: 0.7,
    });
    // A takeover's mark names the rate it decided on, whatever the record shows since (a GET's refresh
    // puts CXone's 0.1 there); one that left the rate to the operator has nothing to finish.
    const pending = {
      ...synced,
      startedOutside: {
        at,
        from: 'scheduled',
        takenOverFrom: { callRate: 0.8, version: 4 },
        safeStart: 'pending',
      },
    } as const;
    expect(runningFoundOnRead('active', pending, 0.5)).toEqual({
      kind: 'takeoverUnfinished',
      plannedFrom: 0.8,
    });
    const left = { ...synced, startedOutside: { at, from: 'scheduled', safeStart: 'left' } } as const;
    expect(runningFoundOnRead('active', left, 0.5)).toEqual({ kind: 'neither' });
    const paced = { ...marked, pacing: {} as NonNullable<CampaignRecord['pacing']> };
    expect(runningFoundOnRead('active', paced, 0.5)).toEqual({ kind: 'active', plannedFrom: undefined });
    expect(runningFoundOnRead('paused', marked, 0.5)).toEqual({ kind: 'neither' });
    expect(runningFoundOnRead('paused', { status: 'paused', activationSent: 2 }, 0.5)).toEqual({
      kind: 'neither',
    });
  });

  it('is one rule for the launch and the activation job: a look before the start, marks, records, rates', () => {
    const marked = { status: 'active', startedOutside: { at, from: 'scheduled' } } as const;
    // Marked by a takeover, with or without an activating write of ours noted before it: carried on,
    // never taken for the launch's own start (the activation job's own rule did, and left it dialing).
    expect(runningFoundOnRead('active', { ...marked, activationSent: 3 }, 0.5)).toEqual({
      kind: 'takeoverUnfinished',
      plannedFrom: 0.5,
    });
    // Before its start, any running campaign is an operator's: the orchestrator activates only when due.
    expect(
      runningFoundOnRead('active', { status: 'scheduled', activationSent: 2 }, 0.5, { beforeStart: true }),
    ).toEqual({ kind: 'startedOutside', from: 'scheduled' });
    expect(runningFoundOnRead('paused', { status: 'scheduled' }, 0.5, { beforeStart: true })).toEqual({
      kind: 'startedOutside',
      from: 'scheduled',
    });
    // ...but one already marked is not taken over a second time (a second safe-start write).
    expect(runningFoundOnRead('active', marked, 0.5, { beforeStart: true })).toEqual({
      kind: 'takeoverUnfinished',
      plannedFrom: 0.5,
    });
    const paced = { ...marked, pacing: {} as NonNullable<CampaignRecord['pacing']> };
    expect(runningFoundOnRead('active', paced, 0.5, { beforeStart: true })).toEqual({
      kind: 'active',
      plannedFrom: undefined,
    });
    // Neither status is running: nothing to decide.
    expect(runningFoundOnRead('scheduled', null, 0.5, { beforeStart: true })).toEqual({ kind: 'neither' });
    expect(runningFoundOnRead('cancelled', { status: 'scheduled' }, 0.5)).toEqual({ kind: 'neither' });
    // Ours, with its safe start recorded (pacing on the record): nothing to record again.
    expect(runningFoundOnRead('active', { status: 'active', activationSent: 2, pacing: {} }, 0.5)).toEqual({
      kind: 'active',
      plannedFrom: undefined,
    });
    // No rate to plan from (the activation job of a record-less campaign): an operator's start still.
    expect(runningFoundOnRead('active', null, undefined)).toEqual({ kind: 'startedOutside', from: 'draft' });
    expect(runningFoundOnRead('active', { status: 'scheduled', activationSent: 2 }, undefined)).toEqual({
      kind: 'active',
      plannedFrom: undefined,
    });
  });
});
