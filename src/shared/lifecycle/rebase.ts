import type { CampaignConfig, ValidationIssue } from '../campaign-config.js';
import type { CampaignResource, CampaignStatus, UpdateCampaignRequest } from '../cxone/wire.js';
import type { ConflictReport, FieldChange, FieldConflict } from './commands.js';
import { applyChanges, configFromResource, validateChange, type LocalConfig } from './config-view.js';
import { currentValue, flatToWire, localChanges, wireChanges, type FlatChanges } from './patch.js';
import { isFinal, planAction, type CampaignAction } from './state-machine.js';

/**
 * Merge, rebase and conflict detection for campaign commands. Pure: the adjust worker feeds it the
 * latest CXone resource after every read and does what it says.
 *
 * Policy (three-way, per touched field, arrays whole):
 *   latest == ours              → already applied (by an earlier attempt or by someone else): skip it
 *   latest == base              → nobody touched it: write ours on top of the latest version
 *   otherwise                   → somebody else changed the same field: conflict, write nothing
 * Fields this command does not touch are never sent, so changes others made to them survive.
 */

/** Structural equality for JSON values; `null` and `undefined` both mean "absent". */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === undefined || a === null) return b === undefined || b === null;
  if (b === undefined || b === null) return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  }
  if (typeof a === 'object') {
    if (typeof b !== 'object' || Array.isArray(b)) return false;
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
    for (const key of keys) if (!sameValue(ao[key], bo[key])) return false;
    return true;
  }
  return a === b;
}

export type FieldVerdict = 'apply' | 'already' | 'conflict';

/** The three-way decision for one field. */
export function threeWay(base: unknown, ours: unknown, theirs: unknown): FieldVerdict {
  if (sameValue(theirs, ours)) return 'already';
  if (sameValue(theirs, base)) return 'apply';
  return 'conflict';
}

export interface SettingsRebaseInput {
  /** The fields this command sets (config paths → wanted values). */
  ours: FlatChanges;
  /** The same fields' values when the command was made; a field missing here is taken as unchanged. */
  base: Record<string, unknown>;
  latest: CampaignResource;
  /** Orchestrator-only config from our record (description, pacing, compliance options, recipient states). */
  local: LocalConfig;
  /**
   * The command stops the campaign in the same CXone write as these settings (a stop's patch,
   * executor.ts): a final campaign whose CXone fields all hold our values (vacuously, for a patch of
   * orchestrator-only fields) is then that write found in place (its answer lost), not a campaign
   * closed to our change.
   */
  stopping?: boolean;
  /** The action the command makes after (or with) these settings: its status is ours in a conflict. */
  action?: CampaignAction | undefined;
}

export type SettingsRebase =
  | {
      kind: 'apply';
      /** CXone fields still to write; empty when every one is already in place. */
      wire: FlatChanges;
      /** The PATCH body for `wire`. */
      body: UpdateCampaignRequest;
      /** Orchestrator-only fields to store in our record. */
      local: FlatChanges;
      alreadyApplied: string[];
      /** The whole config after the change, validated. */
      merged: CampaignConfig;
      /** Values of the written fields on the version we write over, for audit and rollback. */
      before: Record<string, unknown>;
    }
  | { kind: 'conflict'; report: ConflictReport }
  | { kind: 'invalid'; reason: string; issues: ValidationIssue[] };

function finalStateReport(
  latest: CampaignResource,
  base: Record<string, unknown>,
  action: CampaignAction | undefined,
): ConflictReport {
  return {
    reason: `campaign is ${latest.status}; a ${latest.status} campaign cannot be changed`,
    conflicts: [
      {
        field: 'status',
        base: base['status'] ?? null,
        // A patch alone asks no status; an action's is the one it leads to, as rebaseAction names it.
        ours: action ? actionTarget(action, base['status'] as CampaignStatus | undefined) : null,
        theirs: latest.status,
      },
    ],
    version: latest.version,
    status: latest.status,
  };
}

/**
 * The base a command builds on once the commands queued ahead of it have written: each of their
 * changes (oldest first) that starts from the value the base holds moves it on. A change that does
 * not start there — the base was read after it, or it went from another value — leaves it as it is,
 * so a change from outside still reads as one. Without this, a change accepted after another would
 * lose to it as "changed by someone else". Pure.
 */
export function baseAfterEarlier(
  base: Record<string, unknown>,
  changes: readonly FieldChange[],
): Record<string, unknown> {
  const built = { ...base };
  for (const change of changes) {
    if (change.field in built && sameValue(built[change.field], change.from)) built[change.field] = change.to;
  }
  return built;
}

/** Rebases a settings change onto the latest CXone version: what to write, or why not. */
export function rebaseSettings(input: SettingsRebaseInput): SettingsRebase {
  const { ours, base, latest, local } = input;
  if (isFinal(latest.status) && !(input.stopping && cxoneFieldsInPlace(ours, latest, local))) {
    return { kind: 'conflict', report: finalStateReport(latest, base, input.action) };
  }

  const conflicts: FieldConflict[] = [];
  const alreadyApplied: string[] = [];
  const pending: FlatChanges = {};
  const before: Record<string, unknown> = {};
  for (const [field, wanted] of Object.entries(ours)) {
    const theirs = currentValue(field, latest, local);
    const baseValue = field in base ? base[field] : theirs;
    const verdict = threeWay(baseValue, wanted, theirs);
    if (verdict === 'conflict') {
      conflicts.push({ field, base: baseValue ?? null, ours: wanted, theirs: theirs ?? null });
    } else if (verdict === 'already') {
      alreadyApplied.push(field);
    } else {
      pending[field] = wanted;
      before[field] = theirs ?? null;
    }
  }
  if (conflicts.length > 0) {
    return {
      kind: 'conflict',
      report: {
        reason: `changed by someone else since this command was made: ${conflicts.map((c) => c.field).join(', ')}`,
        conflicts,
        version: latest.version,
        status: latest.status,
      },
    };
  }

  // Re-validate the whole config as it will be after the write: a change valid on its own base can be
  // invalid on top of someone else's (e.g. our window end with their time zone).
  const current = configFromResource(latest, local);
  // The zone a command sets was held to the input-only rule when the API accepted it: a command
  // queued before that rule existed still runs (validateChange).
  const checked = validateChange(current, applyChanges(current, ours), ours, { zoneWritten: false });
  if (!checked.ok) {
    return {
      kind: 'invalid',
      reason: 'the change is not valid on top of the current campaign configuration',
      issues: checked.issues,
    };
  }

  const wire = wireChanges(pending);
  return {
    kind: 'apply',
    wire,
    body: flatToWire(wire),
    local: localChanges(pending),
    alreadyApplied,
    merged: checked.config,
    before,
  };
}

/**
 * Every CXone field touched already holds our value. A patch of orchestrator-only fields touches none:
 * its stop was the one write (found in place on a retry, its answer lost), and nothing of the patch
 * needs CXone to take a change, so the ended campaign is no conflict for it.
 */
function cxoneFieldsInPlace(ours: FlatChanges, latest: CampaignResource, local: LocalConfig): boolean {
  return Object.entries(wireChanges(ours)).every(([field, wanted]) =>
    sameValue(currentValue(field, latest, local), wanted),
  );
}

export type ActionRebase =
  | { kind: 'apply'; from: CampaignStatus; target: CampaignStatus }
  | { kind: 'already'; status: CampaignStatus }
  | { kind: 'conflict'; report: ConflictReport };

/** The status each action leaves a campaign in (a stop of one that never dialed: `cancelled`). */
const ACTION_STATUS: Record<CampaignAction, CampaignStatus> = {
  pause: 'paused',
  resume: 'active',
  stop: 'completed',
};

/**
 * The status `action` leads to from the one the requester saw, or (a pause of a campaign already
 * paused, which plans no change) the one it holds the campaign to. Pure.
 */
function actionTarget(action: CampaignAction, baseStatus: CampaignStatus | undefined): CampaignStatus {
  const intended = baseStatus ? planAction(action, baseStatus) : undefined;
  return intended?.ok ? intended.target : ACTION_STATUS[action];
}

/** What a state the action already achieved looks like. */
function actionAlreadyDone(action: CampaignAction, status: CampaignStatus): boolean {
  switch (action) {
    case 'pause':
      return status === 'paused';
    case 'resume':
      return status === 'active';
    case 'stop':
      return isFinal(status);
  }
}

/**
 * Decides an action against the latest state. An action is idempotent on its intent (pausing a
 * paused campaign is done, not an error); an action the latest state forbids — usually because
 * someone else moved the campaign since the request — is a conflict on `status`.
 */
export function rebaseAction(
  action: CampaignAction,
  latest: CampaignResource,
  baseStatus?: CampaignStatus,
): ActionRebase {
  if (actionAlreadyDone(action, latest.status)) {
    return { kind: 'already', status: latest.status };
  }
  const plan = planAction(action, latest.status);
  if (plan.ok) return { kind: 'apply', from: latest.status, target: plan.target };
  // `ours` is a status, as `base` and `theirs` are: the one the action leads to from the status the
  // requester saw, or (a pause of a campaign already paused, which plans no change) the one it holds to.
  return {
    kind: 'conflict',
    report: {
      reason: plan.reason,
      conflicts: [
        {
          field: 'status',
          base: baseStatus ?? null,
          ours: actionTarget(action, baseStatus),
          theirs: latest.status,
        },
      ],
      version: latest.version,
      status: latest.status,
    },
  };
}

/**
 * Whether the requester saw the campaign already where `action` leads (a pause of a campaign already
 * paused, which takes the pause over): such a command writes nothing unless the status moved since.
 * Pure.
 */
export function heldWhenMade(action: CampaignAction, baseStatus: CampaignStatus | undefined): boolean {
  return baseStatus !== undefined && actionAlreadyDone(action, baseStatus);
}

/**
 * rebaseAction for a command whose requester saw the campaign already where the action leads
 * (heldWhenMade): found moved away since — an operator resuming in CXone's console the campaign the
 * requester saw paused — it is somebody's decision made after the requester looked, and writing the
 * action again would silently overwrite it: a conflict on `status`. Unless the orchestrator moved it
 * itself (`ownStatuses`: what the requester's own earlier commands, or the automation's, wrote). Pure.
 */
export function rebaseHeldAction(
  action: CampaignAction,
  latest: CampaignResource,
  baseStatus: CampaignStatus | undefined,
  ownStatuses: ReadonlySet<CampaignStatus>,
): ActionRebase {
  const decision = rebaseAction(action, latest, baseStatus);
  if (decision.kind !== 'apply' || !heldWhenMade(action, baseStatus) || ownStatuses.has(latest.status)) {
    return decision;
  }
  return {
    kind: 'conflict',
    report: {
      reason: `the campaign was ${baseStatus} when this command was made and someone else made it ${latest.status} since; not made ${decision.target} again over that`,
      conflicts: [
        { field: 'status', base: baseStatus ?? null, ours: decision.target, theirs: latest.status },
      ],
      version: latest.version,
      status: latest.status,
    },
  };
}

export interface RollbackPlan {
  /** The PATCH body putting back the fields in `restored`. */
  body: UpdateCampaignRequest;
  restored: FieldChange[];
  conflicts: FieldConflict[];
  /** Fields that cannot be put back through CXone's PATCH (they were absent before). */
  skipped: string[];
}

/**
 * Plans undoing an earlier write of this command on the latest version. A field still holding our
 * value goes back; one somebody else changed since is reported as a conflict and left alone; one
 * already back at its old value needs nothing.
 */
export function planRollback(
  written: FieldChange[],
  latest: CampaignResource,
  local: LocalConfig,
): RollbackPlan {
  const restore: FlatChanges = {};
  const restored: FieldChange[] = [];
  const conflicts: FieldConflict[] = [];
  const skipped: string[] = [];
  for (const change of written) {
    const theirs = currentValue(change.field, latest, local);
    if (sameValue(theirs, change.from)) continue;
    if (!sameValue(theirs, change.to)) {
      conflicts.push({
        field: change.field,
        base: change.from ?? null,
        ours: change.to,
        theirs: theirs ?? null,
      });
      continue;
    }
    if (change.from === null || change.from === undefined) {
      skipped.push(change.field);
      continue;
    }
    restore[change.field] = change.from;
    restored.push({ field: change.field, from: change.to, to: change.from });
  }
  return { body: flatToWire(wireChanges(restore)), restored, conflicts, skipped };
}

/**
 * A settings write with a callRate the command did not ask for added to it (the safe start pacing has a
 * raise of agentCapacity carry, hooks `carriedSafeStart`): sent in the same If-Match write, listed in
 * the write's changes (so the audit record, the outcome and the requester's next command see it) and
 * undone by a rollback like the command's own fields. Pure.
 */
export function withCarriedCallRate(
  apply: Extract<SettingsRebase, { kind: 'apply' }>,
  callRate: number,
  from: number,
): Extract<SettingsRebase, { kind: 'apply' }> {
  const field = 'dialerStrategy.callRate';
  const wire = { ...apply.wire, [field]: callRate };
  return {
    ...apply,
    wire,
    body: flatToWire(wire),
    before: { ...apply.before, [field]: from },
    merged: { ...apply.merged, dialerStrategy: { ...apply.merged.dialerStrategy, callRate } },
  };
}
