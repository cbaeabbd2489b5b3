import type { WireDialerSettings } from '../shared/cxone/wire.js';
import type { FieldProblem } from './errors.js';

/** A calling list of the tenant's; campaigns dial its records. */
export interface TargetList {
  id: string;
  name: string;
  /**
   * The list's true contact rate: the probability that a dial of one of its records reaches a live
   * person. A property of the list (how fresh and how clean its numbers are), not of the campaign:
   * a campaign's `dialerSettings.answerRate` is only what its owner expects, and the sandbox's dialer
   * answers at this rate whatever the campaign declares (docs/sandbox.md).
   */
  contactRate: number;
}

/** The contact rate of a list added without one: the default list's, a realistic consumer list. */
export const DEFAULT_CONTACT_RATE = 0.35;

/** A group of agents campaigns connect answered calls to. */
export interface SkillGroup {
  id: string;
  name: string;
  /** Agents in the group: a campaign cannot plan for more (`dialerSettings.agentCapacity`). */
  agents: number;
}

/**
 * The target lists and skill groups a fresh sandbox's tenant holds (docs/sandbox.md). CXone refuses a
 * campaign naming a list or group the tenant does not have, or planning for more agents than its
 * group holds, with 422: configs written for the sandbox use these ids (examples/campaign.json does),
 * and an operator mirroring a real tenant adds its own with POST /__sandbox/directory.
 */
export const SANDBOX_DIRECTORY: { targetLists: readonly TargetList[]; skillGroups: readonly SkillGroup[] } = {
  targetLists: [
    // The default list (examples/campaign.json, tests, benchmarks): close to what they declare.
    {
      id: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60',
      name: 'Spring renewals',
      contactRate: DEFAULT_CONTACT_RATE,
    },
    { id: '7b6f7f8e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', name: 'Lapsed customers', contactRate: 0.3 },
    // Lists whose real rate is far from the usual expectation of ≈0.35: a campaign that declares
    // 0.35 on them finds out only from its statistics (answeredCalls / totalCalls).
    { id: '8c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', name: 'Stale list (2019 import)', contactRate: 0.15 },
    { id: '9d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a', name: 'Fresh list (this week)', contactRate: 0.55 },
  ],
  skillGroups: [
    { id: '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b', name: 'Outbound sales', agents: 500 },
    { id: '1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d', name: 'Retention', agents: 500 },
    { id: '2b2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d', name: 'Collections', agents: 40 },
  ],
};

export const SANDBOX_TARGET_LIST_ID = SANDBOX_DIRECTORY.targetLists[0]!.id;
/** A list that answers far less often (0.15) than campaigns usually expect. */
export const SANDBOX_STALE_LIST_ID = SANDBOX_DIRECTORY.targetLists[2]!.id;
/** A list that answers far more often (0.55) than campaigns usually expect. */
export const SANDBOX_FRESH_LIST_ID = SANDBOX_DIRECTORY.targetLists[3]!.id;
export const SANDBOX_SKILL_GROUP_ID = SANDBOX_DIRECTORY.skillGroups[0]!.id;

/** The tenant's target lists and skill groups, and the checks CXone makes against them on a write. */
export class Directory {
  private readonly lists = new Map<string, TargetList>();
  private readonly groups = new Map<string, SkillGroup>();

  constructor(initial = SANDBOX_DIRECTORY) {
    this.add(initial);
  }

  /** Adds (or replaces, by id) lists and groups; a list given without a contact rate gets the default. */
  add(entries: {
    targetLists?: readonly (Omit<TargetList, 'contactRate'> & { contactRate?: number | undefined })[];
    skillGroups?: readonly SkillGroup[];
  }): void {
    for (const list of entries.targetLists ?? []) {
      this.lists.set(list.id.toLowerCase(), {
        ...list,
        contactRate: list.contactRate ?? DEFAULT_CONTACT_RATE,
      });
    }
    for (const group of entries.skillGroups ?? []) this.groups.set(group.id.toLowerCase(), { ...group });
  }

  /** The true contact rate of a list the tenant holds; undefined for one it does not. */
  contactRate(targetListId: string): number | undefined {
    return this.lists.get(targetListId.toLowerCase())?.contactRate;
  }

  /** Agents in a skill group the tenant holds; undefined for one it does not. */
  agentsOf(skillGroupId: string): number | undefined {
    return this.groups.get(skillGroupId.toLowerCase())?.agents;
  }

  snapshot(): { targetLists: TargetList[]; skillGroups: SkillGroup[] } {
    return { targetLists: [...this.lists.values()], skillGroups: [...this.groups.values()] };
  }

  /**
   * What a create body names that the tenant does not have. Read from the raw body, so these join
   * the schema's findings in one 422; a value the schema refuses (not a string, say) is left to it.
   */
  createProblems(body: Record<string, unknown>): FieldProblem[] {
    const problems: FieldProblem[] = [];
    const { targetListId } = body;
    if (typeof targetListId === 'string' && !this.lists.has(targetListId.toLowerCase())) {
      problems.push({ field: 'targetListId', message: `no target list ${targetListId} in this tenant` });
    }
    return [...problems, ...this.dialerProblems(settingsOf(body.dialerSettings))];
  }

  /** The same for a PATCH body, on the settings the campaign would have after it. */
  updateProblems(current: WireDialerSettings, body: Record<string, unknown>): FieldProblem[] {
    const patch = settingsOf(body.dialerSettings);
    // A capacity the campaign already had is not the PATCH's doing (a group shrunk since).
    if (patch.skillGroupId === undefined && patch.agentCapacity === undefined) return [];
    return this.dialerProblems({
      skillGroupId: patch.skillGroupId ?? current.skillGroupId,
      agentCapacity: patch.agentCapacity ?? current.agentCapacity,
    });
  }

  private dialerProblems(settings: { skillGroupId?: string; agentCapacity?: number }): FieldProblem[] {
    if (settings.skillGroupId === undefined) return [];
    const group = this.groups.get(settings.skillGroupId.toLowerCase());
    if (!group) {
      return [
        {
          field: 'dialerSettings.skillGroupId',
          message: `no skill group ${settings.skillGroupId} in this tenant`,
        },
      ];
    }
    if (settings.agentCapacity !== undefined && settings.agentCapacity > group.agents) {
      return [
        {
          field: 'dialerSettings.agentCapacity',
          message: `${settings.agentCapacity} is more than the ${group.agents} agents of skill group "${group.name}"`,
        },
      ];
    }
    return [];
  }
}

/** The skill group and capacity a raw dialerSettings names, where they have the right types. */
function settingsOf(raw: unknown): { skillGroupId?: string; agentCapacity?: number } {
  if (raw === null || typeof raw !== 'object') return {};
  const { skillGroupId, agentCapacity } = raw as Record<string, unknown>;
  return {
    ...(typeof skillGroupId === 'string' ? { skillGroupId } : {}),
    ...(typeof agentCapacity === 'number' ? { agentCapacity } : {}),
  };
}
