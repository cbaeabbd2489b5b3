import type { CampaignStats, WireComplianceSettings } from '../shared/cxone/wire.js';
import type { Logger } from '../shared/logger.js';
import {
  AgentPool,
  DialerSimulation,
  type DialerSimulationOptions,
  type DialerSnapshot,
} from './dialer/simulation.js';
import { lawfulDialJudge } from './call-windows.js';
import type { CampaignStore, StoredCampaign } from './campaign-store.js';
import { DEFAULT_CONTACT_RATE, type Directory } from './directory.js';
import { deriveSeed } from './prng.js';
import type { SimulatedTime } from './sim-time.js';

/** What the sandbox needs from a dialer model; DialerSimulation (dialer/simulation.ts) is the real one. */
export type DialerModel = Pick<
  DialerSimulation,
  | 'setCallRate'
  | 'setDialing'
  | 'setAgents'
  | 'setStrategy'
  | 'setWrapUp'
  | 'setAnswerProb'
  | 'advanceTo'
  | 'snapshot'
>;

export type DialerFactory = (params: DialerSimulationOptions) => DialerModel;

export const defaultDialerFactory: DialerFactory = (params) => new DialerSimulation(params);

/**
 * Whether a dial at a simulated instant is lawful: judged at the real instant it stands for, once per
 * real minute (lawfulDialJudge), as the run it serves goes forward.
 */
function windowCheck(settings: WireComplianceSettings, simTime: SimulatedTime): (simMs: number) => boolean {
  const lawful = lawfulDialJudge();
  return (simMs) => lawful(settings, simTime.realOf(simMs));
}

/** A campaign's model, the contact rate it dials at now and the agents it has now. */
interface Dialer {
  model: DialerModel;
  contactRate: number;
  agents: number;
  /** The pool (poolKeyOf: the tenant's skill group) the model draws its agents from. */
  poolKey: string;
  /**
   * Models the campaign dialed with on skill groups it has since left: they dial no more, and their
   * calls in progress end with the old group's agents. Their counters stay the campaign's.
   */
  retired: DialerModel[];
  /** Models made for the campaign so far (each seeded apart). */
  generation: number;
}

/**
 * A tenant's skill group. One directory serves every tenant, so two tenants name a group by the same
 * id; but a business unit's agents are its own on CXone: each tenant's group is a pool of its own, and
 * another tenant's campaigns never take (or over-dial) this tenant's agents.
 */
function poolKeyOf(campaign: StoredCampaign): string {
  return `${campaign.tenant}\u0000${campaign.dialerSettings.skillGroupId.toLowerCase()}`;
}

/** The counters of a campaign that changed skill group while running: every model's, summed. */
function combine(snapshots: DialerSnapshot[]): DialerSnapshot {
  const current = snapshots[snapshots.length - 1]!;
  if (snapshots.length === 1) return current;
  const sum = (pick: (s: DialerSnapshot) => number) => snapshots.reduce((total, s) => total + pick(s), 0);
  const staffedAgentMs = sum((s) => s.staffedAgentMs);
  const busyAgentMs = sum((s) => s.busyAgentMs);
  return {
    totalCalls: sum((s) => s.totalCalls),
    answeredCalls: sum((s) => s.answeredCalls),
    abandonedCalls: sum((s) => s.abandonedCalls),
    complianceViolations: sum((s) => s.complianceViolations),
    agentUtilization: staffedAgentMs > 0 ? Math.min(100, (100 * busyAgentMs) / staffedAgentMs) : 0,
    staffedAgentMs,
    busyAgentMs,
    simMs: current.simMs,
  };
}

/**
 * One dialer simulation per campaign, created the first time the campaign becomes active and kept
 * in step with it: it dials while the campaign is active, its call rate, strategy, agents and
 * after-call work follow dialerSettings, and it is advanced to the current simulated time before every change and
 * every stats read, so each stretch of simulated time runs under the settings that were in force.
 *
 * Whether a dial reaches a live person is decided by the campaign's target list (its true contact
 * rate in the directory), never by the campaign's declared dialerSettings.answerRate: that is only
 * the client's expectation, as on CXone, where the answer rate is a property of the list. A campaign
 * that declares the wrong rate sees it in its statistics, not in a sandbox that agrees with it.
 *
 * The campaigns of one skill group share its logged-in agents (one AgentPool per tenant's group): a campaign
 * dials for the idle agents it can get, up to its agentCapacity on its calls at once, and an agent on
 * one campaign's call is not idle for another's. Advancing one campaign runs every campaign of its
 * group up to the same instant, each judged by its own calling windows.
 */
export class CampaignDialers {
  private readonly dialers = new Map<string, Dialer>();
  /**
   * One pool per tenant's skill group (poolKeyOf), made when the group's first dialer starts, with
   * the group's id for reading its size from the directory.
   */
  private readonly pools = new Map<string, { pool: AgentPool; skillGroupId: string }>();

  constructor(
    private readonly store: CampaignStore,
    private readonly simTime: SimulatedTime,
    private readonly factory: DialerFactory,
    private readonly seed: number,
    private readonly logger: Logger,
    private readonly directory: Directory,
  ) {
    store.onChange((before, after) => this.follow(before, after));
  }

  /** The dialer's counters at the current simulated time; null before the campaign first became active. */
  snapshot(campaign: StoredCampaign): DialerSnapshot | null {
    const dialer = this.dialers.get(campaign.id);
    if (!dialer) return null;
    const check = windowCheck(campaign.complianceSettings, this.simTime);
    const models = [...dialer.retired, dialer.model];
    for (const model of models) model.advanceTo(this.simTime.now(), check);
    return combine(models.map((model) => model.snapshot()));
  }

  /** The campaigns that have a dialer (became active at some point), in the order they did. */
  campaignIds(): string[] {
    return [...this.dialers.keys()];
  }

  /** Runs the campaign's models (and so its skill group's) up to the current simulated time. */
  advance(id: string): void {
    const campaign = this.store.find(id);
    if (campaign) this.snapshot(campaign);
  }

  /**
   * Runs the campaign's models (and so its skill group's) at most `maxMs` of simulated time towards
   * now; whether they are still more than `maxMs` behind it. A campaign that never dialed runs its
   * skill group's pool instead: activated, it joins the pool at now, which runs every other campaign
   * of the group up to it first. A caller catching up on a long stretch (time-skip.ts,
   * catchUpGradually) lets other requests in between steps.
   */
  stepTowardNow(id: string, maxMs: number): boolean {
    const campaign = this.store.find(id);
    if (!campaign) return false;
    const dialer = this.dialers.get(id);
    const now = this.simTime.now();
    if (!dialer) {
      const pool = this.pools.get(poolKeyOf(campaign))?.pool;
      // A pool no model joined (its factory failed) has run nowhere yet: nothing to catch up.
      if (!pool || !Number.isFinite(pool.simMs) || now - pool.simMs <= maxMs) return false;
      const to = pool.simMs + maxMs;
      pool.advanceTo(to);
      return now - to > maxMs;
    }
    const models = [...dialer.retired, dialer.model];
    const behind = Math.min(...models.map((model) => model.snapshot().simMs));
    if (now - behind <= maxMs) return false;
    const check = windowCheck(campaign.complianceSettings, this.simTime);
    for (const model of models) model.advanceTo(behind + maxMs, check);
    return now - (behind + maxMs) > maxMs;
  }

  /** Stats for a campaign at the current simulated time; zeros before it first became active. */
  stats(campaign: StoredCampaign): CampaignStats {
    const s = this.snapshot(campaign);
    const base = { version: campaign.version, status: campaign.status };
    if (!s) {
      return {
        ...base,
        totalCalls: 0,
        answeredCalls: 0,
        abandonedCalls: 0,
        complianceViolations: 0,
        agentUtilization: 0,
      };
    }
    return {
      ...base,
      totalCalls: Math.round(s.totalCalls),
      answeredCalls: Math.round(s.answeredCalls),
      abandonedCalls: Math.round(s.abandonedCalls),
      complianceViolations: Math.round(s.complianceViolations),
      agentUtilization: Math.min(100, Math.max(0, s.agentUtilization)),
    };
  }

  /**
   * After a change to the directory: every campaign whose list's contact rate changed runs up to now
   * at the old rate and dials at the new one from here on.
   */
  followDirectory(): void {
    // Each group first runs up to now with the agents it had, then has the agents it has now.
    const now = this.simTime.now();
    for (const { pool, skillGroupId } of this.pools.values()) {
      const agents = this.directory.agentsOf(skillGroupId);
      if (agents === undefined || agents === pool.agents) continue;
      pool.advanceTo(now);
      pool.setAgents(agents);
    }
    for (const [id, dialer] of this.dialers) {
      const campaign = this.store.find(id);
      if (!campaign) continue;
      const rate = this.contactRateOf(campaign);
      const agents = this.agentsOf(campaign);
      if (rate === dialer.contactRate && agents === dialer.agents) continue;
      dialer.model.advanceTo(this.simTime.now(), windowCheck(campaign.complianceSettings, this.simTime));
      if (rate !== dialer.contactRate) dialer.model.setAnswerProb(rate);
      if (agents !== dialer.agents) dialer.model.setAgents(agents);
      dialer.contactRate = rate;
      dialer.agents = agents;
    }
  }

  clear(): void {
    this.dialers.clear();
    this.pools.clear();
  }

  /** The true contact rate of the campaign's list (a list is never removed; the default otherwise). */
  private contactRateOf(campaign: StoredCampaign): number {
    return this.directory.contactRate(campaign.targetListId) ?? DEFAULT_CONTACT_RATE;
  }

  /**
   * The agents the campaign dials for: its agentCapacity, but never more than its skill group has
   * now. A write is refused when it plans for more than the group holds; a group that shrinks later
   * (agents logging off, `POST /__sandbox/directory`) leaves the campaign fewer agents than it planned
   * for, as on CXone, where a dialer can only connect calls to agents who are there.
   */
  private agentsOf(campaign: StoredCampaign): number {
    const { agentCapacity, skillGroupId } = campaign.dialerSettings;
    return Math.min(agentCapacity, this.directory.agentsOf(skillGroupId) ?? agentCapacity);
  }

  /**
   * The pool of a skill group's logged-in agents. A group the directory does not hold (never the
   * case for a campaign the sandbox accepted) gets a pool of `fallback` agents.
   */
  private poolOf(key: string, skillGroupId: string, fallback: number): AgentPool {
    let entry = this.pools.get(key);
    if (!entry) {
      entry = { pool: new AgentPool(this.directory.agentsOf(skillGroupId) ?? fallback), skillGroupId };
      this.pools.set(key, entry);
    }
    return entry.pool;
  }

  /** Whether a dial of the campaign at a simulated instant is lawful under its settings in force now. */
  private standingCheck(id: string): (simMs: number) => boolean {
    const lawful = lawfulDialJudge();
    return (simMs) => {
      const campaign = this.store.find(id);
      return campaign === undefined || lawful(campaign.complianceSettings, this.simTime.realOf(simMs));
    };
  }

  /** A model for the campaign on its skill group's pool, under its current settings, dialing from now. */
  private startModel(
    campaign: StoredCampaign,
    generation: number,
  ): { model: DialerModel; contactRate: number; agents: number; poolKey: string } {
    const settings = campaign.dialerSettings;
    const contactRate = this.contactRateOf(campaign);
    const agents = this.agentsOf(campaign);
    const poolKey = poolKeyOf(campaign);
    const seed = deriveSeed(this.seed, campaign.ordinal);
    const model = this.factory({
      agents,
      pool: this.poolOf(poolKey, settings.skillGroupId, settings.agentCapacity),
      canDial: this.standingCheck(campaign.id),
      // The list's, not settings.answerRate: see the class comment.
      answerProb: contactRate,
      // The first model's seed is the campaign's (as before models could be replaced).
      seed: generation === 0 ? seed : deriveSeed(seed, generation),
      callRate: settings.callRate,
      strategy: settings.strategy,
      startMs: this.simTime.now(),
      wrapUpMs: settings.wrapUpTime * 1000,
    });
    return { model, contactRate, agents, poolKey };
  }

  private follow(before: StoredCampaign | null, after: StoredCampaign): void {
    const dialer = this.dialers.get(after.id);
    if (!dialer) {
      if (after.status !== 'active') return;
      const created = this.startModel(after, 0);
      this.dialers.set(after.id, { ...created, retired: [], generation: 1 });
      created.model.setDialing(true);
      this.logger.debug({ campaignId: after.id, contactRate: created.contactRate }, 'sandbox dialer started');
      return;
    }
    // Close the stretch that ran under the old settings before applying the new ones.
    const check = windowCheck((before ?? after).complianceSettings, this.simTime);
    for (const model of [...dialer.retired, dialer.model]) model.advanceTo(this.simTime.now(), check);
    if (poolKeyOf(after) !== dialer.poolKey) {
      // Another group's agents from now on: the old model stops dialing (its calls in progress end
      // with the old group's agents) and a new one dials on the new group under the new settings.
      dialer.model.setDialing(false);
      dialer.retired.push(dialer.model);
      Object.assign(dialer, this.startModel(after, dialer.generation));
      dialer.generation += 1;
      dialer.model.setDialing(after.status === 'active');
      return;
    }
    const { model } = dialer;
    const was = before?.dialerSettings;
    const now = after.dialerSettings;
    if (was?.strategy !== now.strategy) model.setStrategy(now.strategy);
    if (was?.callRate !== now.callRate) model.setCallRate(now.callRate);
    const agents = this.agentsOf(after);
    if (agents !== dialer.agents) {
      model.setAgents(agents);
      dialer.agents = agents;
    }
    // After-call work holds agents off the floor: a shorter one frees them for more calls, as on CXone.
    if (was?.wrapUpTime !== now.wrapUpTime) model.setWrapUp(now.wrapUpTime * 1000);
    // A new declared answerRate changes nothing: the list answers as it does.
    model.setDialing(after.status === 'active');
  }
}
