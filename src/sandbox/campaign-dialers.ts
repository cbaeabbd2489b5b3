import type { CampaignStats, WireComplianceSettings } from '../shared/cxone/wire.js';
import type { Logger } from '../shared/logger.js';
import { DialerSimulation, type DialerSimulationOptions, type DialerSnapshot } from './dialer/simulation.js';
import { isLawfulDial } from './call-windows.js';
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

/** Whether a dial at a simulated instant is lawful: judged at the real instant it stands for. */
function windowCheck(settings: WireComplianceSettings, simTime: SimulatedTime): (simMs: number) => boolean {
  return (simMs) => isLawfulDial(settings, simTime.realOf(simMs));
}

/** A campaign's model, the contact rate it dials at now and the agents it has now. */
interface Dialer {
  model: DialerModel;
  contactRate: number;
  agents: number;
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
 */
export class CampaignDialers {
  private readonly dialers = new Map<string, Dialer>();

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
    dialer.model.advanceTo(this.simTime.now(), windowCheck(campaign.complianceSettings, this.simTime));
    return dialer.model.snapshot();
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

  private follow(before: StoredCampaign | null, after: StoredCampaign): void {
    const dialer = this.dialers.get(after.id);
    if (!dialer) {
      if (after.status !== 'active') return;
      const settings = after.dialerSettings;
      const contactRate = this.contactRateOf(after);
      const agents = this.agentsOf(after);
      const model = this.factory({
        agents,
        // The list's, not settings.answerRate: see the class comment.
        answerProb: contactRate,
        seed: deriveSeed(this.seed, after.ordinal),
        callRate: settings.callRate,
        strategy: settings.strategy,
        startMs: this.simTime.now(),
        wrapUpMs: settings.wrapUpTime * 1000,
      });
      this.dialers.set(after.id, { model, contactRate, agents });
      model.setDialing(true);
      this.logger.debug({ campaignId: after.id, contactRate }, 'sandbox dialer started');
      return;
    }
    const { model } = dialer;
    // Close the stretch that ran under the old settings before applying the new ones.
    model.advanceTo(this.simTime.now(), windowCheck((before ?? after).complianceSettings, this.simTime));
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
