import { describe, expect, it } from 'vitest';
import { CAMPAIGN_STATUSES, type CampaignStatus } from '../../src/shared/cxone/wire.js';
import {
  allowedTransitions,
  CAMPAIGN_ACTIONS,
  canTransition,
  FINAL_STATUSES,
  isFinal,
  planAction,
} from '../../src/shared/lifecycle/state-machine.js';

/** The documented machine, written out independently of the module's table. */
const EXPECTED: Record<CampaignStatus, CampaignStatus[]> = {
  // draft → active: the reference's lifecycle "draft, active, paused, and completed" (seed Step 2).
  draft: ['scheduled', 'active', 'cancelled'],
  scheduled: ['active', 'cancelled'],
  active: ['paused', 'completed', 'cancelled'],
  paused: ['active', 'completed', 'cancelled'],
  completed: [],
  cancelled: [],
};

describe('campaign state machine', () => {
  it.each(CAMPAIGN_STATUSES.flatMap((from) => CAMPAIGN_STATUSES.map((to) => [from, to] as const)))(
    '%s → %s follows the documented machine',
    (from, to) => {
      expect(canTransition(from, to)).toBe(EXPECTED[from].includes(to));
    },
  );

  it('lists exactly the allowed targets of each state', () => {
    for (const from of CAMPAIGN_STATUSES) {
      expect([...allowedTransitions(from)].sort()).toEqual([...EXPECTED[from]].sort());
    }
  });

  it('has completed and cancelled as the only final states, with no way out', () => {
    expect([...FINAL_STATUSES].sort()).toEqual(['cancelled', 'completed']);
    for (const status of CAMPAIGN_STATUSES) {
      expect(isFinal(status)).toBe(status === 'completed' || status === 'cancelled');
      if (isFinal(status)) expect(allowedTransitions(status)).toHaveLength(0);
    }
  });

  it('lets every non-final state be cancelled', () => {
    for (const status of CAMPAIGN_STATUSES.filter((s) => !isFinal(s))) {
      expect(canTransition(status, 'cancelled')).toBe(true);
    }
  });

  it('never re-enters draft or scheduled', () => {
    for (const from of CAMPAIGN_STATUSES) {
      expect(canTransition(from, 'draft')).toBe(false);
      if (from !== 'draft') expect(canTransition(from, 'scheduled')).toBe(false);
    }
  });
});

describe('planAction', () => {
  it('pauses only an active campaign', () => {
    expect(planAction('pause', 'active')).toEqual({ ok: true, target: 'paused' });
    for (const from of CAMPAIGN_STATUSES.filter((s) => s !== 'active')) {
      const plan = planAction('pause', from);
      expect(plan.ok).toBe(false);
      if (!plan.ok) expect(plan.reason).toContain(from);
    }
  });

  it('resumes only a paused campaign', () => {
    expect(planAction('resume', 'paused')).toEqual({ ok: true, target: 'active' });
    for (const from of CAMPAIGN_STATUSES.filter((s) => s !== 'paused')) {
      const plan = planAction('resume', from);
      expect(plan.ok).toBe(false);
      if (!plan.ok) expect(plan.reason).toMatch(/only a paused campaign/);
    }
  });

  it('stop completes a campaign that dialed and cancels one that never did', () => {
    expect(planAction('stop', 'active')).toEqual({ ok: true, target: 'completed' });
    expect(planAction('stop', 'paused')).toEqual({ ok: true, target: 'completed' });
    expect(planAction('stop', 'draft')).toEqual({ ok: true, target: 'cancelled' });
    expect(planAction('stop', 'scheduled')).toEqual({ ok: true, target: 'cancelled' });
  });

  it('refuses to stop a campaign that already ended, naming its state', () => {
    for (const from of ['completed', 'cancelled'] as const) {
      const plan = planAction('stop', from);
      expect(plan).toEqual({ ok: false, reason: `cannot stop a campaign that is already ${from}` });
    }
  });

  it('only ever plans transitions the machine allows', () => {
    for (const action of CAMPAIGN_ACTIONS) {
      for (const from of CAMPAIGN_STATUSES) {
        const plan = planAction(action, from);
        if (plan.ok) expect(canTransition(from, plan.target)).toBe(true);
      }
    }
  });
});
