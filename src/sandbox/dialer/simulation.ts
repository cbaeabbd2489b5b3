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
  /**
   * Agent time (agent × ms) the campaign had while dialing: agents on its calls, agents held for its
   * progressive or preview lines, and idle ones it could take.
   */
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
 * Progressive and preview dialing place each line for one agent, who is held for it (previewing
 * the record, then on the line while it rings) and so is idle for no one else: a live answer goes
 * to that agent at once and is never abandoned, even on a skill group another campaign over-dials;
 * a line that gives up hands its agent back. Predictive lines hold no agent (the dialer bets on
 * one being idle when the call is answered), which is what makes over-dialing abandon calls.
 *
 * Idle agents are those of its AgentPool the campaign can take: min(the pool's idle agents,
 * `agents` − its own calls − the agents held for its lines). Alone on its own pool that is simply
 * its idle agents; on a skill group shared with other campaigns, an agent busy on another
 * campaign's call (or held for its line) is not idle for it.
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
  /** Lines ringing with no agent held for them (predictive). */
  private ringing = 0;
  /** Lines ringing with their agent held (progressive, preview): that agent takes the answer. */
  private heldRinging = 0;
  /** Agents previewing a record before their dial (preview); held for it like a ringing line's. */
  private previewing = 0;
  /** When an agent last went on one of its calls (AgentPool.mayHold shares a contested agent by it). */
  private lastConnected = Number.NEGATIVE_INFINITY;
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

  /** Agents held for its progressive or preview lines (previewing, or on a line that rings). */
  get heldAgents(): number {
    return this.held();
  }

  /** Most agents the campaign may have on its calls at once (its agentCapacity, as the group allows). */
  get agentCap(): number {
    return this.capacity;
  }

  /** When an agent of the pool last went on one of its calls; -Infinity before its first. */
  get lastConnectedAt(): number {
    return this.lastConnected;
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
    return Math.min(this.pool.idle, Math.max(0, this.capacity - this.busy - this.held()));
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
        this.onResolve((event.ref & LIVE) !== 0, (event.ref & HELD) !== 0);
        break;
      case 'free':
        this.onAgentFree();
        break;
      case 'previewDial':
        this.previewing -= 1;
        // The agent stays held for the line; paused meanwhile, no dial, and the agent is free again.
        if (this.dialing) this.dial(true);
        else this.giveBack();
        break;
    }
  }

  /**
   * @internal The agents it has: those on its calls, those held for its lines and the idle ones it
   * can take; utilization is the share of that time spent on its calls.
   */
  moveClock(to: number): void {
    const dt = to - this.now;
    if (dt <= 0) return;
    if (this.dialing) {
      this.staffedAgentMs += (this.busy + this.held() + this.available()) * dt;
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
    this.connect(false);
  }

  /** @internal */
  pace(): void {
    if (!this.dialing) return;
    const unheld = this.ringing + this.waitingCount();
    if (this.strategy === 'predictive') {
      const target = Math.round(this.available() * this.dialRatio);
      for (let i = unheld; i < target; i++) this.dial(false);
      return;
    }
    // One line per idle agent, the agent held for it; lines placed while the campaign was predictive
    // (unheld) are still counting on idle agents, so these are left to them.
    // On a group other campaigns dial for, it holds agents up to its share (AgentPool.mayHold): an
    // agent held is taken from them at once, and pacing first at every instant it would take all.
    const lines = this.available() - unheld;
    for (let i = 0; i < lines && this.pool.mayHold(this); i++) {
      this.pool.take();
      if (this.strategy === 'preview') {
        this.previewing += 1;
        this.events.push(this.now + this.previewMs, 'previewDial', 0);
      } else {
        this.dial(true);
      }
    }
  }

  private held(): number {
    return this.heldRinging + this.previewing;
  }

  private waitingCount(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** `held`: an agent of the pool is already held for this line (pool.take() was called for it). */
  private dial(held: boolean): void {
    this.totalCalls += 1;
    if (this.canDial && !this.canDial(this.now)) this.complianceViolations += 1;
    if (held) this.heldRinging += 1;
    else this.ringing += 1;
    const live = this.rng.next() < this.answerProb;
    const [min, max] = live ? this.answerRing : this.noAnswerRing;
    this.events.push(this.now + this.rng.uniform(min, max), 'resolve', (live ? LIVE : 0) | (held ? HELD : 0));
  }

  private onResolve(live: boolean, held: boolean): void {
    if (held) {
      this.heldRinging -= 1;
      if (!live) {
        this.giveBack();
        return;
      }
      this.answeredCalls += 1;
      // Its agent was waiting on the line: connected at once, whatever else the group is doing.
      this.connect(true);
      return;
    }
    this.ringing -= 1;
    if (!live) return;
    this.answeredCalls += 1;
    if (this.available() > 0) this.connect(false);
    else this.waiting.push(this.now + this.abandonAfterMs);
  }

  /** `held`: the agent was held for this line and is already counted by the pool. */
  private connect(held: boolean): void {
    this.busy += 1;
    this.lastConnected = this.now;
    if (!held) this.pool.take();
    const handle = this.rng.lognormal(this.meanTalkMs, this.talkSigma) + this.wrapUpMs;
    this.events.push(this.now + handle, 'free', 0);
  }

  /** A held agent whose line ended without a call goes back to the pool, to a waiting answer if any. */
  private giveBack(): void {
    this.pool.release();
    this.pool.dispatch();
  }

  /** The agent goes back to the pool, to the longest-waiting live answer that can take it, if any. */
  private onAgentFree(): void {
    this.busy -= 1;
    this.pool.release();
    this.pool.dispatch();
  }
}

/** Bits of a 'resolve' event's ref: the line reached a live person; an agent was held for it. */
const LIVE = 1;
const HELD = 2;
