import {
  abandonmentTargetDecision,
  type AbandonmentControllerState,
  type AbandonmentTargetParams,
} from '../../src/shared/pacing/abandonment-target.js';

/**
 * Feeds the abandonment-target controller a campaign's cumulative counters poll by poll, applying
 * each decision at once as CXone would. The first poll, made here, only sets the controller's
 * baseline; `history` live answers without an abandon before it keep the period's rate low. A change
 * made around the controller (the compliance guard's pause, an operator) is `callRate` set between
 * polls.
 */
export class ControllerLoop {
  state: AbandonmentControllerState | null = null;
  t = 0;
  answered = 0;
  abandoned = 0;
  utilization = 80;

  constructor(
    public callRate: number,
    history = 0,
  ) {
    this.poll(0, history, 0);
  }

  /** Advance `ms`, adding live answers and abandons, then poll. */
  poll(ms: number, answered: number, abandoned: number, params: Partial<AbandonmentTargetParams> = {}) {
    this.t += ms;
    this.answered += answered;
    this.abandoned += abandoned;
    return this.decide(params);
  }

  /** Advance `ms`, then poll the counters as read: cumulative, and not always higher than the last. */
  read(ms: number, answered: number, abandoned: number) {
    this.t += ms;
    this.answered = answered;
    this.abandoned = abandoned;
    return this.decide({});
  }

  private decide(params: Partial<AbandonmentTargetParams>) {
    const { decision, state } = abandonmentTargetDecision(
      {
        atMs: this.t,
        callRate: this.callRate,
        stats: {
          totalCalls: this.answered * 3,
          answeredCalls: this.answered,
          abandonedCalls: this.abandoned,
          agentUtilization: this.utilization,
        },
      },
      this.state,
      params,
    );
    this.state = state;
    this.callRate = decision.callRate;
    return decision;
  }
}
