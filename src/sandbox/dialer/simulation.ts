import type { DialerStrategy } from '../../shared/campaign-config.js';
import { DEFAULT_MAX_DIAL_RATIO, dialRatioFor } from './dial-ratio.js';
import { AgentPool, type PoolMember } from './agent-pool.js';
import { EventQueue } from './event-queue.js';
import { createRng, type Rng } from './prng.js';

export { callRateForDialRatio, dialRatioFor, DEFAULT_MAX_DIAL_RATIO } from './dial-ratio.js';
export { AgentPool } from './agent-pool.js';

/**
 * Parameters of the dialer model. Only the first six are required; every other default is
 * documented in docs/pacing.md and chosen to resemble a consumer outbound campaign.
 */
export interface DialerSimulationOptions {
  /**
   * Agents the campaign may have on its calls at once (its agentCapacity; in the sandbox no more than
   * its skill group has). Alone (no `pool`), these are the campaign's own agents.
   */
  agents: number;
  /**
   * The skill group's agents, shared with every other campaign dialing for the group (see AgentPool):
   * the campaign then dials for the idle agents of the pool it can take, up to `agents` on its calls.
   * Absent: a pool of its own that always holds exactly `agents`.
   */
  pool?: AgentPool;
  /**
   * Judges this campaign's dials while another campaign of its pool runs the pool forward (its own
   * `advanceTo` says how for its own calls). Every dial is lawful without one.
   */
  canDial?: (simMs: number) => boolean;
  /** Probability that a dial reaches a live person (0..1): in the sandbox, the target list's contact rate. */
  answerProb: number;
  seed: number;
  /** The campaign's callRate (0.1..1.0); see dialRatioFor for how it becomes a dial ratio. */
  callRate: number;
  strategy: DialerStrategy['strategy'];
  /** Simulated clock at construction, in ms (an epoch time when the caller maps it to wall time). */
  startMs: number;
  /** Dial ratio at callRate 1.0 (predictive). Default 10. */
  maxDialRatio?: number;
  /** Ring time before a live answer, uniform in [min, max] ms. Default 2 000..14 000. */
  answerRingMs?: readonly [number, number];
  /** How long unanswered calls ring before the dialer gives up: at least 15 s (TSR). Default 15 000..25 000. */
  noAnswerRingMs?: readonly [number, number];
  /** Mean talk time, lognormal. Default 180 000 ms. */
  meanTalkMs?: number;
  /** Log-space standard deviation of talk time. Default 0.6. */
  talkSigma?: number;
  /** After-call work per call. Default 30 000 ms. */
  wrapUpMs?: number;
  /** A live answer not connected to an agent within this long is abandoned (TSR: 2 s). Default 2 000. */
  abandonAfterMs?: number;
  /** Preview strategy: how long an agent reviews a record before the dial. Default 20 000 ms. */
  previewMs?: number;
  /** Whether the dialer starts dialing at construction. Default true. */
  dialing?: boolean;
}

export interface DialerSnapshot {
  totalCalls: number;
  /** Live answers. */
  answeredCalls: number;
  /** Live answers not connected to an agent within 2 s. */
  abandonedCalls: number;
  /** Dials placed while `canDial` said no. */
  complianceViolations: number;
  /** Percent 0..100 of staffed agent time spent talking or in after-call work, while dialing. */
  agentUtilization: number;
  /** Agent time (agent × ms) the campaign had while dialing: agents on its calls plus idle ones it could take. */
  staffedAgentMs: number;
  /** The part of staffedAgentMs spent on its calls (talking or in after-call work). */
  busyAgentMs: number;
  simMs: number;
}

type EventKind = 'resolve' | 'free' | 'previewDial';

const MIN_TSR_RING_MS = 15_000;

/**
 * A seeded discrete-event model of an outbound dialer: pure, no I/O, no wall clock. The caller
 * moves simulated time forward with `advanceTo`, so the same object serves the sandbox (mapping
 * wall time × timeScale onto it) and the pacing benchmark (8 simulated hours in milliseconds).
 *
 * Pacing: whenever anything changes, the dialer tops up the lines in flight (ringing plus answered
 * and waiting for an agent) to round(idleAgents × dialRatio). A live answer takes an idle agent
 * at once; otherwise it waits up to 2 s for one to free up and is abandoned after that.
 *
 * Idle agents are those of its AgentPool the campaign can take: min(the pool's idle agents,
 * `agents` − its own calls). Alone on its own pool that is simply its idle agents; on a skill group
 * shared with other campaigns, an agent busy on another campaign's call is not idle for it.
 */
export class DialerSimulation implements PoolMember {
  private readonly rng: Rng;
  private readonly answerRing: readonly [number, number];
  private readonly noAnswerRing: readonly [number, number];
  private readonly meanTalkMs: number;
  private readonly talkSigma: number;
  private wrapUpMs: number;
  private readonly abandonAfterMs: number;
  private readonly previewMs: number;
  private readonly maxDialRatio: number;
  private readonly events = new EventQueue<EventKind>();
  /** Deadlines of answered calls waiting for an agent, in answer order (so also deadline order). */
  private waiting: number[] = [];
  private waitingHead = 0;
  private readonly pool: AgentPool;
  /** A pool of its own, whose size follows `agents` (no pool option given). */
  private readonly ownPool: boolean;

  private strategy: DialerStrategy['strategy'];
  private answerProb: number;
  private callRate: number;
  private dialRatio: number;
  private dialing: boolean;
  private needsPacing = true;
  /** Most agents the campaign may have on its calls at once. */
  private capacity: number;
  /** Agents on this campaign's calls (talking or in after-call work). */
  private busy = 0;
  private ringing = 0;
  private previewing = 0;
  private now: number;
  private canDial: ((simMs: number) => boolean) | undefined;
  readonly standingDialCheck: ((simMs: number) => boolean) | undefined;

  private totalCalls = 0;
  private answeredCalls = 0;
  private abandonedCalls = 0;
  private complianceViolations = 0;
  private staffedAgentMs = 0;
  private busyAgentMs = 0;

  constructor(opts: DialerSimulationOptions) {
    if (!Number.isInteger(opts.agents) || opts.agents < 0)
      throw new RangeError('agents must be a whole number ≥ 0');
    if (!(opts.answerProb >= 0 && opts.answerProb <= 1))
      throw new RangeError('answerProb must be within 0..1');
    this.rng = createRng(opts.seed);
    this.answerRing = opts.answerRingMs ?? [2_000, 14_000];
    const noAnswer = opts.noAnswerRingMs ?? [15_000, 25_000];
    this.noAnswerRing = [Math.max(MIN_TSR_RING_MS, noAnswer[0]), Math.max(MIN_TSR_RING_MS, noAnswer[1])];
    this.meanTalkMs = opts.meanTalkMs ?? 180_000;
    this.talkSigma = opts.talkSigma ?? 0.6;
    this.wrapUpMs = opts.wrapUpMs ?? 30_000;
    this.abandonAfterMs = opts.abandonAfterMs ?? 2_000;
    this.previewMs = opts.previewMs ?? 20_000;
    this.maxDialRatio = opts.maxDialRatio ?? DEFAULT_MAX_DIAL_RATIO;
    this.strategy = opts.strategy;
    this.answerProb = opts.answerProb;
    this.callRate = opts.callRate;
    this.dialRatio = dialRatioFor(this.strategy, this.callRate, this.maxDialRatio);
    this.dialing = opts.dialing ?? true;
    this.capacity = opts.agents;
    this.now = opts.startMs;
    this.standingDialCheck = opts.canDial;
    this.ownPool = opts.pool === undefined;
    this.pool = opts.pool ?? new AgentPool(opts.agents);
    this.pool.join(this, opts.startMs);
  }

  /** Lines dialed per idle agent under the current strategy and callRate. */
  get currentDialRatio(): number {
    return this.dialRatio;
  }

  get isDialing(): boolean {
    return this.dialing;
  }

  get busyAgents(): number {
    return this.busy;
  }

  setCallRate(rate: number): void {
    this.callRate = rate;
    this.dialRatio = dialRatioFor(this.strategy, rate, this.maxDialRatio);
    this.needsPacing = true;
  }

  setStrategy(strategy: DialerStrategy['strategy']): void {
    this.strategy = strategy;
    this.dialRatio = dialRatioFor(strategy, this.callRate, this.maxDialRatio);
    this.needsPacing = true;
  }

  /**
   * After-call work from now on: agents already wrapping up keep the time they were given, as an
   * agent in after-call work finishes under the setting that was in force when the call ended.
   */
  setWrapUp(ms: number): void {
    if (!(ms >= 0 && Number.isFinite(ms))) throw new RangeError('wrap-up must be a finite number of ms ≥ 0');
    this.wrapUpMs = ms;
  }

  setAnswerProb(prob: number): void {
    this.answerProb = Math.min(1, Math.max(0, prob));
  }

  /**
   * Changes the agents the campaign may have on its calls; agents on a call finish it before
   * leaving. Live answers waiting for an agent take the ones just added, as they take an agent who
   * frees up: left waiting beside idle agents, they were abandoned 2 s later — a state no dialer is in.
   */
  setAgents(agents: number): void {
    this.capacity = Math.max(0, Math.floor(agents));
    if (this.ownPool) this.pool.setAgents(this.capacity);
    else this.pool.dispatch();
    this.needsPacing = true;
  }

  /** Pausing stops new dials; calls in progress run to their end. */
  setDialing(on: boolean): void {
    this.dialing = on;
    this.needsPacing = on;
  }

  /**
   * Runs the model up to `simMs`. Dials placed while `canDial(simMs)` is false are still placed
   * (this is a dialer that was told to dial) and counted as compliance violations. On a shared pool
   * every campaign of the pool runs up to `simMs` (the others' dials judged by their standing check).
   */
  advanceTo(simMs: number, canDial?: (simMs: number) => boolean): void {
    this.pool.advanceTo(simMs, this, canDial);
  }

  snapshot(): DialerSnapshot {
    return {
      totalCalls: this.totalCalls,
      answeredCalls: this.answeredCalls,
      abandonedCalls: this.abandonedCalls,
      complianceViolations: this.complianceViolations,
      agentUtilization:
        this.staffedAgentMs > 0 ? Math.min(100, (100 * this.busyAgentMs) / this.staffedAgentMs) : 0,
      staffedAgentMs: this.staffedAgentMs,
      busyAgentMs: this.busyAgentMs,
      simMs: this.now,
    };
  }

  // The steps of the pool's event loop (PoolMember): not for other callers.

  /** @internal */
  available(): number {
    return Math.min(this.pool.idle, Math.max(0, this.capacity - this.busy));
  }

  /** @internal */
  nextEventAt(): number {
    return this.events.peekTime();
  }

  /** @internal */
  beginAdvance(canDial: ((simMs: number) => boolean) | undefined): void {
    this.canDial = canDial;
  }

  /** @internal */
  paceIfNeeded(): void {
    if (this.needsPacing) {
      this.needsPacing = false;
      this.pace();
    }
  }

  /** @internal */
  endAdvance(): void {
    this.canDial = undefined;
  }

  /** @internal */
  markForPacing(): void {
    this.needsPacing = true;
  }

  /** @internal */
  handleNextEvent(): void {
    const event = this.events.pop()!;
    switch (event.kind) {
      case 'resolve':
        this.onResolve(event.ref === 1);
        break;
      case 'free':
        this.onAgentFree();
        break;
      case 'previewDial':
        this.previewing -= 1;
        if (this.dialing) this.dial();
        break;
    }
  }

  /**
   * @internal The agents it has: those on its calls and the idle ones it can take; utilization is
   * the share of that time spent on its calls.
   */
  moveClock(to: number): void {
    const dt = to - this.now;
    if (dt <= 0) return;
    if (this.dialing) {
      this.staffedAgentMs += (this.busy + this.available()) * dt;
      this.busyAgentMs += this.busy * dt;
    }
    this.now = to;
  }

  /** @internal Answered calls whose 2 s ran out before an agent freed up are abandoned. */
  expireWaiting(): void {
    while (this.waitingHead < this.waiting.length && this.waiting[this.waitingHead]! < this.now) {
      this.waitingHead += 1;
      this.abandonedCalls += 1;
    }
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
  }

  /** @internal */
  oldestWaitingDeadline(): number | undefined {
    return this.waitingHead < this.waiting.length ? this.waiting[this.waitingHead] : undefined;
  }

  /** @internal */
  connectWaiting(): void {
    this.waitingHead += 1;
    this.connect();
  }

  /** @internal */
  pace(): void {
    if (!this.dialing) return;
    const inFlight = this.ringing + this.waitingCount() + this.previewing;
    const target = Math.round(this.available() * this.dialRatio);
    if (this.strategy === 'preview') {
      for (let i = inFlight; i < target; i++) {
        this.previewing += 1;
        this.events.push(this.now + this.previewMs, 'previewDial', 0);
      }
      return;
    }
    for (let i = inFlight; i < target; i++) this.dial();
  }

  private waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  private dial(): void {
    this.totalCalls += 1;
    if (this.canDial && !this.canDial(this.now)) this.complianceViolations += 1;
    this.ringing += 1;
    const live = this.rng.next() < this.answerProb;
    const [min, max] = live ? this.answerRing : this.noAnswerRing;
    this.events.push(this.now + this.rng.uniform(min, max), 'resolve', live ? 1 : 0);
  }

  private onResolve(live: boolean): void {
    this.ringing -= 1;
    if (!live) return;
    this.answeredCalls += 1;
    if (this.available() > 0) this.connect();
    else this.waiting.push(this.now + this.abandonAfterMs);
  }

  private connect(): void {
    this.busy += 1;
    this.pool.take();
    const handle = this.rng.lognormal(this.meanTalkMs, this.talkSigma) + this.wrapUpMs;
    this.events.push(this.now + handle, 'free', 0);
  }

  /** The agent goes back to the pool, to the longest-waiting live answer that can take it, if any. */
  private onAgentFree(): void {
    this.busy -= 1;
    this.pool.release();
    this.pool.dispatch();
  }
}
