import { DialerSimulation } from '../../src/sandbox/dialer/simulation.js';
import {
  abandonmentTargetDecision,
  type AbandonmentControllerState,
} from '../../src/shared/pacing/abandonment-target.js';

export const POLL_MS = 15_000;

/**
 * A predictive campaign on the sandbox's dialer model (answering at 0.35), paced by the
 * abandonment-target controller at every poll, each decision applied at once as CXone would.
 */
export class SimulatedCampaign {
  sim: DialerSimulation;
  state: AbandonmentControllerState | null = null;
  t = 0;

  constructor(
    public agents: number,
    public callRate: number,
    seed: number,
  ) {
    this.sim = new DialerSimulation({
      agents,
      answerProb: 0.35,
      strategy: 'predictive',
      callRate,
      seed,
      startMs: 0,
    });
  }

  get stats() {
    return this.sim.snapshot();
  }

  /** Runs `ms` of dialing, pacing at every poll. */
  run(ms: number) {
    const end = this.t + ms;
    while (this.t < end) {
      this.t += POLL_MS;
      this.sim.advanceTo(this.t);
      const { decision, state } = abandonmentTargetDecision(
        { atMs: this.t, callRate: this.callRate, agents: this.agents, stats: this.stats },
        this.state,
      );
      this.state = state;
      this.setRate(decision.callRate);
    }
  }

  setRate(rate: number) {
    this.callRate = rate;
    this.sim.setCallRate(rate);
  }

  /** Paused for `ms` (not paced: no poll paces a paused campaign), `whilePaused` run, then resumed. */
  pause(ms: number, whilePaused?: () => void) {
    this.sim.setDialing(false);
    this.t += ms;
    this.sim.advanceTo(this.t);
    whilePaused?.();
    this.sim.setDialing(true);
  }

  /** Abandons and live answers over the next `ms` of pacing. */
  measure(ms: number) {
    const [abandoned, answered] = [this.stats.abandonedCalls, this.stats.answeredCalls];
    this.run(ms);
    return {
      abandoned: this.stats.abandonedCalls - abandoned,
      answered: this.stats.answeredCalls - answered,
    };
  }
}
