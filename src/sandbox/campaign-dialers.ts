import type { CampaignStats, WireComplianceSettings } from '../shared/cxone/wire.js';
import type { Logger } from '../shared/logger.js';
import { DialerSimulation, type DialerSimulationOptions, type DialerSnapshot } from './dialer/simulation.js';
import { isLawfulDial } from './call-windows.js';
import type { CampaignStore, StoredCampaign } from './campaign-store.js';
import { deriveSeed } from './prng.js';
import type { SimulatedTime } from './sim-time.js';

/** What the sandbox needs from a dialer model; DialerSimulation (dialer/simulation.ts) is the real one. */
export type DialerModel = Pick<
  DialerSimulation,
  'setCallRate' | 'setDialing' | 'setAgents' | 'setStrategy' | 'setAnswerProb' | 'advanceTo' | 'snapshot'
>;

export type DialerFactory = (params: DialerSimulationOptions) => DialerModel;

export const defaultDialerFactory: DialerFactory = (params) => new DialerSimulation(params);

/** Whether a dial at a simulated instant is lawful: judged at the real instant it stands for. */
function windowCheck(settings: WireComplianceSettings, simTime: SimulatedTime): (simMs: number) => boolean {
  return (simMs) => isLawfulDial(settings, simTime.realOf(simMs));
}

/**
 * One dialer simulation per campaign, created the first time the campaign becomes active and kept
 * in step with it: it dials while the campaign is active, its call rate follows
 * dialerSettings.callRate, and it is advanced to the current simulated time before every change and
 * every stats read, so each stretch of simulated time runs under the settings that were in force.
 */
export class CampaignDialers {
  private readonly models = new Map<string, DialerModel>();

  constructor(
    store: CampaignStore,
    private readonly simTime: SimulatedTime,
    private readonly factory: DialerFactory,
    private readonly seed: number,
    private readonly logger: Logger,
  ) {
    store.onChange((before, after) => this.follow(before, after));
  }

  /** The dialer's counters at the current simulated time; null before the campaign first became active. */
  snapshot(campaign: StoredCampaign): DialerSnapshot | null {
    const model = this.models.get(campaign.id);
    if (!model) return null;
    model.advanceTo(this.simTime.now(), windowCheck(campaign.complianceSettings, this.simTime));
    return model.snapshot();
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

  clear(): void {
    this.models.clear();
  }

  private follow(before: StoredCampaign | null, after: StoredCampaign): void {
    let model = this.models.get(after.id);
    if (!model) {
      if (after.status !== 'active') return;
      const settings = after.dialerSettings;
      model = this.factory({
        agents: settings.agentCapacity,
        answerProb: settings.answerRate,
        seed: deriveSeed(this.seed, after.ordinal),
        callRate: settings.callRate,
        strategy: settings.strategy,
        startMs: this.simTime.now(),
        wrapUpMs: settings.wrapUpTime * 1000,
      });
      this.models.set(after.id, model);
      model.setDialing(true);
      this.logger.debug({ campaignId: after.id }, 'sandbox dialer started');
      return;
    }
    // Close the stretch that ran under the old settings before applying the new ones.
    model.advanceTo(this.simTime.now(), windowCheck((before ?? after).complianceSettings, this.simTime));
    const was = before?.dialerSettings;
    const now = after.dialerSettings;
    if (was?.strategy !== now.strategy) model.setStrategy(now.strategy);
    if (was?.callRate !== now.callRate) model.setCallRate(now.callRate);
    if (was?.agentCapacity !== now.agentCapacity) model.setAgents(now.agentCapacity);
    if (was?.answerRate !== now.answerRate) model.setAnswerProb(now.answerRate);
    model.setDialing(after.status === 'active');
  }
}
