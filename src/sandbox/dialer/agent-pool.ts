/**
 * What an AgentPool needs from a campaign's dialer (DialerSimulation implements it). Not for other
 * callers: these are the steps of the pool's shared event loop.
 */
export interface PoolMember {
  /** Agents on this campaign's calls (talking or in after-call work). */
  readonly busyAgents: number;
  /** Agents held for its progressive or preview lines, not yet on a call. */
  readonly heldAgents: number;
  /** Most agents it may have on its calls at once (its agentCapacity). */
  readonly agentCap: number;
  /** Whether it places new lines (its campaign is active). */
  readonly isDialing: boolean;
  /** When an agent of the pool last went on one of its calls; -Infinity before its first. */
  readonly lastConnectedAt: number;
  /** The dial check used when another campaign of the pool advances it (every dial lawful without one). */
  readonly standingDialCheck: ((simMs: number) => boolean) | undefined;
  /** Time of this member's next event; +Infinity when it has none. */
  nextEventAt(): number;
  beginAdvance(canDial: ((simMs: number) => boolean) | undefined): void;
  paceIfNeeded(): void;
  moveClock(to: number): void;
  expireWaiting(): void;
  handleNextEvent(): void;
  pace(): void;
  endAdvance(): void;
  /** Idle agents of the pool this member can still take (its agentCapacity − its calls − its held agents). */
  available(): number;
  /** Deadline of the longest-waiting live answer, or undefined when none waits. */
  oldestWaitingDeadline(): number | undefined;
  connectWaiting(): void;
  markForPacing(): void;
}

/**
 * The logged-in agents of one skill group, shared by every campaign dialing for it. As on CXone, an
 * agent on one campaign's call is not idle for another campaign of the group, each campaign's dialer
 * paces on the idle agents it can take (never more than its agentCapacity in calls at once), and a
 * live answer of any campaign takes the first agent who frees up, longest-waiting answer first. Two
 * campaigns whose pacing each counts on the same idle agents over-dial the group together: their
 * live answers wait, and are abandoned, more often than either's would alone.
 *
 * The campaigns' models run in one event loop in simulated time (`advanceTo`), events in time order
 * (same instant: the member that joined first, then each member's own order), so a run replays call
 * for call under the same seeds. One campaign alone on its own pool behaves exactly as it did before
 * pools existed (the pacing benchmark and tests depend on that).
 */
export class AgentPool {
  private loggedIn: number;
  private busy = 0;
  private readonly members: PoolMember[] = [];
  private now = Number.NEGATIVE_INFINITY;

  constructor(agents: number) {
    this.loggedIn = checkAgents(agents);
  }

  /** Logged-in agents of the group. */
  get agents(): number {
    return this.loggedIn;
  }

  /**
   * Agents on a call of any member or held for a member's progressive or preview line (may exceed
   * `agents` after the group shrank: they finish first).
   */
  get busyAgents(): number {
    return this.busy;
  }

  /** Agents logged in and on no call. */
  get idle(): number {
    return Math.max(0, this.loggedIn - this.busy);
  }

  get memberCount(): number {
    return this.members.length;
  }

  /** The simulated instant its members have run up to (-Infinity before the first joined). */
  get simMs(): number {
    return this.now;
  }

  /**
   * The group's logged-in agents change. Agents on a call finish it before logging off; agents who
   * log on take live answers already waiting, and every member paces on the new idle count.
   */
  setAgents(agents: number): void {
    this.loggedIn = checkAgents(agents);
    this.dispatch();
    for (const member of this.members) member.markForPacing();
  }

  /** Adds a campaign's model, first running the pool up to the instant it starts at. */
  join(member: PoolMember, startMs: number): void {
    if (startMs < this.now) throw new RangeError('a dialer cannot join its pool in the pool’s past');
    this.advanceTo(startMs);
    this.members.push(member);
    this.now = startMs;
  }

  /** @internal Counts an agent taken by (or given back from) a member's call or held line. */
  take(): void {
    this.busy += 1;
  }

  /** @internal */
  release(): void {
    this.busy -= 1;
  }

  /**
   * Runs every member up to `simMs`. `self`'s dials are judged by `canDial`; every other member's by
   * its standing dial check.
   */
  advanceTo(simMs: number, self?: PoolMember, canDial?: (simMs: number) => boolean): void {
    if (simMs < this.now) return;
    const members = this.members;
    for (const m of members) m.beginAdvance(m === self ? canDial : m.standingDialCheck);
    for (const m of members) m.paceIfNeeded();
    for (;;) {
      let next: PoolMember | undefined;
      let at = Number.POSITIVE_INFINITY;
      for (const m of members) {
        const t = m.nextEventAt();
        if (t < at) {
          at = t;
          next = m;
        }
      }
      if (next === undefined || at > simMs) break;
      for (const m of members) m.moveClock(at);
      for (const m of members) m.expireWaiting();
      next.handleNextEvent();
      for (const m of members) m.pace();
    }
    for (const m of members) {
      m.moveClock(simMs);
      m.expireWaiting();
      m.endAdvance();
    }
    this.now = simMs;
  }

  /**
   * Whether `member`, placing a line for an agent it holds (progressive, preview), may hold one more
   * idle agent. Its share of the group is the agents × its capacity ÷ the capacities of the members
   * dialing; a rival is another member dialing that could still take an agent and is below its own
   * share. It may hold the agent when that keeps it within its share, and past its share only with
   * no rival. Shares are rarely whole agents: when one more agent would take it past its share, it
   * holds it unless a rival is a whole agent or more below its own share, or has gone longer without
   * connecting a call (the member that joined first on a tie), so the campaigns take the contested
   * agent in turn; the member pacing first used to take it every time (on a 1-agent group, the other
   * never had it). Holding an agent takes it from every other member at once, and members pace in
   * the order they joined: without shares, a progressive campaign would hold every agent who frees
   * up and a predictive one on the same group would never dial. Alone on its group, a member's share
   * is the whole group: it holds every idle agent it can take.
   */
  mayHold(member: PoolMember): boolean {
    let capacities = 0;
    for (const m of this.members) if (m.isDialing) capacities += m.agentCap;
    const share = (m: PoolMember) => (this.loggedIn * m.agentCap) / Math.max(1, capacities);
    const taken = (m: PoolMember) => m.busyAgents + m.heldAgents;
    const mine = taken(member);
    if (mine + 1 <= share(member)) return true;
    const past = mine >= share(member);
    const index = this.members.indexOf(member);
    for (let i = 0; i < this.members.length; i++) {
      const m = this.members[i]!;
      if (m === member || !m.isDialing || m.available() <= 0 || taken(m) >= share(m)) continue;
      if (past || taken(m) + 1 <= share(m)) return false;
      const waitedLonger =
        m.lastConnectedAt < member.lastConnectedAt ||
        (m.lastConnectedAt === member.lastConnectedAt && i < index);
      if (waitedLonger) return false;
    }
    return true;
  }

  /**
   * Gives idle agents to live answers waiting for one, longest-waiting first, among the members that
   * can still take an agent. Called whenever an agent frees up or more agents become available.
   */
  dispatch(): void {
    for (;;) {
      let best: PoolMember | undefined;
      let deadline = Number.POSITIVE_INFINITY;
      for (const m of this.members) {
        const d = m.oldestWaitingDeadline();
        if (d !== undefined && d < deadline && m.available() > 0) {
          deadline = d;
          best = m;
        }
      }
      if (best === undefined) return;
      best.connectWaiting();
    }
  }
}

function checkAgents(agents: number): number {
  if (!Number.isInteger(agents) || agents < 0) throw new RangeError('agents must be a whole number ≥ 0');
  return agents;
}
