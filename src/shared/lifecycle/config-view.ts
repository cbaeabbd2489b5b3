import { usStateCodeSchema, type CampaignConfig, type ValidationIssue } from '../campaign-config.js';
import { checkCampaignRules, type RuleOptions } from '../campaign-check.js';
import { configFromResource as storeConfigFromResource } from '../campaign-store.js';
import type { CampaignResource } from '../cxone/wire.js';
import { flattenPatch, getPath, type CampaignPatch, type FlatChanges } from './patch.js';

/** The orchestrator-only parts of a campaign config, which CXone does not hold. */
export type LocalConfig = Pick<
  Partial<CampaignConfig>,
  'description' | 'pacing' | 'compliance' | 'recipientStates' | 'blackoutDates'
>;

/**
 * The campaign's configuration in the API's vocabulary, as CXone has it now (CXone always wins),
 * completed with the orchestrator-only fields from our record. Pure; the mapping itself is the
 * campaign store's, so the record and the lifecycle can never read a resource differently.
 */
export function configFromResource(resource: CampaignResource, local: LocalConfig = {}): CampaignConfig {
  // The store's mapper only spreads its base before overwriting every CXone-held field.
  return storeConfigFromResource(resource, local as CampaignConfig);
}

/** The orchestrator-only parts of a config (our record's, or a merged one's). */
export function localPart(config: Partial<CampaignConfig> | undefined): LocalConfig {
  if (!config) return {};
  return {
    ...(config.description !== undefined ? { description: config.description } : {}),
    ...(config.pacing !== undefined ? { pacing: config.pacing } : {}),
    ...(config.compliance !== undefined ? { compliance: config.compliance } : {}),
    ...(config.recipientStates !== undefined ? { recipientStates: config.recipientStates } : {}),
    ...(config.blackoutDates !== undefined ? { blackoutDates: config.blackoutDates } : {}),
  };
}

/** A JSON object (not an array, not null): what a config's or a patch's nested fields are. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `config` with every changed field replaced whole: a leaf of the flat change set (`pacing.thresholds`
 * is one, as a calling-window list is) is never merged field by field into the value it replaces. A
 * parsed patch's thresholds carry every bound (the schema's defaults), so merging them or replacing
 * them is the same; a malformed patch's, as sent, do not, and merged into the campaign's they would be
 * checked against bounds the fixed patch resets to their defaults.
 */
function withChanges(config: CampaignConfig, changes: FlatChanges): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const [path, value] of Object.entries(changes)) {
    const parts = path.split('.');
    let cur = out;
    for (const part of parts.slice(0, -1)) {
      const next = cur[part];
      cur[part] = isPlainObject(next) ? { ...next } : {};
      cur = cur[part] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1] as string] = value;
  }
  return out;
}

/**
 * The config after a patch, before validation (the caller re-checks it with validateChange).
 * Nested objects change field by field; a field's value (a list, the pacing thresholds) is replaced whole.
 */
export function applyPatch(config: CampaignConfig, patch: CampaignPatch): unknown {
  return withChanges(config, flattenPatch(patch));
}

/** applyPatch for a change set already flat (a command's stored changes, rebased by the adjust worker). */
export function applyChanges(config: CampaignConfig, changes: FlatChanges): unknown {
  return withChanges(config, changes);
}

/** Fields whose lowering only ever reduces what a campaign dials. */
const REDUCING: readonly string[] = ['dialerStrategy.callRate', 'dialerStrategy.agentCapacity'];

/**
 * Whether a change only lowers (or keeps) the call rate or the agent capacity: the one change
 * validateChange lets through on a config that already breaks a rule. `unsure`: fields whose value as
 * sent is malformed, so that what its fix will be is unknown — a reducing field among them is counted
 * as a reduction (problemsOfMalformedPatch), never as a raise.
 */
function onlyReduces(
  current: CampaignConfig,
  changes: Readonly<Record<string, unknown>>,
  unsure: (field: string) => boolean = () => false,
): boolean {
  return Object.entries(changes).every(
    ([field, value]) =>
      REDUCING.includes(field) &&
      (unsure(field) || (typeof value === 'number' && value <= (getPath(current, field) as number))),
  );
}

/**
 * The config a change leaves, validated — or the problems with it. A change that only lowers the call
 * rate or the agent capacity goes through on a config that already breaks a rule (a window widened in
 * CXone's console, say) as long as it brings no problem of its own: the abandonment guard's and
 * pacing's cuts, and an operator's, must never be refused for a problem they do not touch and can
 * only make less harmful. Any other change is refused with every problem of the result. Pure.
 * Both configs are checked as a submitted one is (checkCampaignRules, campaign-check.ts): a list past
 * its maximum (29 windows from the console, say) is named beside the compliance problems of the rest,
 * not alone, and what the change brings is told from what the config already held by the same check
 * on both sides. The deployment's policy is not judged here: `compliance` is not patchable, and a
 * do-not-call check switched off in the console is an outside change's breach
 * (compliance/outside-change.ts). A change that sets `complianceTimeZone` writes it, so the zone is
 * held to the input-only rule too (no fixed offset such as `Etc/GMT+5`: checkWrittenTimeZone); a
 * stored one is not, so that a campaign launched on one before the rule still takes other changes.
 * `zoneWritten: false` skips it for a change accepted before (the adjust worker's rebase of a queued
 * command).
 */
export function validateChange(
  current: CampaignConfig,
  merged: unknown,
  changes: Readonly<Record<string, unknown>>,
  { zoneWritten = 'complianceTimeZone' in changes }: RuleOptions = {},
): { ok: true; config: CampaignConfig } | { ok: false; issues: ValidationIssue[] } {
  const checked = checkCampaignRules(merged, { zoneWritten });
  if (checked.config) return { ok: true, config: checked.config };
  const { issues } = checked;
  if (!onlyReduces(current, changes)) return { ok: false, issues };
  const held = checkCampaignRules(current).issues;
  const brought = issues.filter((i) => !held.some((h) => h.path === i.path && h.message === i.message));
  return brought.length > 0 ? { ok: false, issues } : { ok: true, config: merged as CampaignConfig };
}

/**
 * The refusal of a change that drops recipient states the campaign was launched for or a command
 * added (`declared`): they keep binding it for its life. `kept` is the list the change leaves.
 */
export function droppedStatesIssue(
  declared: readonly string[],
  kept: readonly unknown[],
): ValidationIssue | undefined {
  const dropped = declared.filter((s) => !kept.includes(s));
  if (dropped.length === 0) return undefined;
  return {
    path: 'recipientStates',
    message:
      `cannot drop ${dropped.join(', ')}: the campaign calls recipients there, and their state rules ` +
      'keep binding it; add states, or launch a new campaign for a different audience',
  };
}

/** Whether one dotted path is the other or lies inside it (`allowedCallTimes` and `allowedCallTimes.1.end`). */
function related(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}

/**
 * The problems of a patch that did not parse beyond its own shape errors (`shapeIssues`, whose paths
 * start with `prefix`: `patch.` in an action's body), so that one answer names them all: the
 * dropped-states refusal, then the problems of the config its patchable fields as sent leave on
 * `current` (checkCampaignRules: the compliance findings of what is usable of it, as /validate's), each
 * field replaced whole as a parsed patch's would be (withChanges).
 * Not repeated: a problem a shape error already names. A problem `current` already had (a window
 * widened in CXone's console) is named as validateChange would once the patch is fixed: beside any
 * change but a cut of the call rate or the agent capacity (onlyReduces; a malformed one counted as a
 * cut, its fix unknown), which goes through despite it. The caller owns `current`'s source: the
 * orchestrator's record, so that a malformed patch costs no CXone read. Pure.
 */
export function problemsOfMalformedPatch(
  current: CampaignConfig,
  declaredStates: readonly string[],
  sent: unknown,
  shapeIssues: readonly ValidationIssue[],
  prefix = '',
): ValidationIssue[] {
  if (!isPlainObject(sent)) return [];
  // The patchable leaves as sent, broken or not: a broken one is named by the rules' own shape check
  // and skipped by the compliance rules (withUsableCompliance), never read as a stand-in.
  const changes: FlatChanges = flattenPatch(sent as CampaignPatch);
  // A state spelt wrong (`fl`) may be the one meant to be kept: its shape error tells it, not a drop.
  // Judged on the entries themselves: a list past its maximum has its entries left unparsed.
  const states = sent['recipientStates'];
  const misspelt =
    Array.isArray(states) && states.some((state) => !usStateCodeSchema.safeParse(state).success);
  const dropped = Array.isArray(states) && !misspelt ? droppedStatesIssue(declaredStates, states) : undefined;
  const key = (issue: ValidationIssue) => `${issue.path}\n${issue.message}`;
  const named = new Set(
    shapeIssues
      .filter((issue) => issue.path.startsWith(prefix))
      .map((issue) => key({ ...issue, path: issue.path.slice(prefix.length) })),
  );
  const malformed = (field: string) => shapeIssues.some((issue) => related(issue.path, `${prefix}${field}`));
  const held = onlyReduces(current, changes, malformed)
    ? new Set(checkCampaignRules(current).issues.map(key))
    : new Set<string>();
  const found = checkCampaignRules(withChanges(current, changes), {
    zoneWritten: 'complianceTimeZone' in changes,
  }).issues.filter((issue) => !named.has(key(issue)) && !held.has(key(issue)));
  return dropped ? [dropped, ...found] : found;
}
