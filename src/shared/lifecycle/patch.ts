import { z } from 'zod';
import {
  campaignConfigBaseSchema,
  dialerStrategySchema,
  pacingSchema,
  type CampaignConfig,
} from '../campaign-config.js';
import type { UpdateCampaignRequest } from '../cxone/wire.js';

/**
 * A partial campaign change, in the API's config vocabulary (not CXone's). Built from the very
 * schemas in campaign-config.ts so a field means the same thing at launch and on change; the merged
 * result is re-checked with the full schema and its compliance rules (`checkCampaignRules`) before anyone
 * enqueues it and again by the adjust worker after every rebase.
 *
 * Not patchable, on purpose: `targetListId` (CXone does not accept it on PATCH), `startDateTime`
 * (the activation is a delayed job scheduled at launch; rescheduling is a new launch) and `compliance`
 * (the regulatory regime and the do-not-call assertion are fixed for the life of a campaign).
 */
const base = campaignConfigBaseSchema.shape;

/** Pacing fields without their defaults: a patch that omits a field must leave it alone, not reset it. */
const pacingPatchSchema = z
  .object({
    strategy: pacingSchema.shape.strategy.unwrap().optional(),
    targetAbandonment: pacingSchema.shape.targetAbandonment.unwrap().optional(),
    pollIntervalMs: pacingSchema.shape.pollIntervalMs.unwrap().optional(),
    // One field, as a list is: its bounds are meant together (lower below upper, min below max).
    thresholds: pacingSchema.shape.thresholds,
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, { message: 'must change at least one pacing field' });

export const campaignPatchSchema = z
  .object({
    name: base.name.optional(),
    description: z.string().max(2000).optional(),
    skillGroupId: base.skillGroupId.optional(),
    complianceTimeZone: base.complianceTimeZone.optional(),
    allowedCallTimes: base.allowedCallTimes.optional(),
    recipientStates: base.recipientStates,
    blackoutDates: base.blackoutDates,
    dialerStrategy: dialerStrategySchema
      .partial()
      .strict()
      .refine((d) => Object.keys(d).length > 0, { message: 'must change at least one dialer field' })
      .optional(),
    pacing: pacingPatchSchema.optional(),
  })
  .strict()
  .refine((p) => Object.keys(p).length > 0, { message: 'must change at least one field' });

export type CampaignPatch = z.infer<typeof campaignPatchSchema>;

/** Where a patchable field lives: on CXone (its dotted path in the campaign resource) or only in our record. */
export interface FieldSpec {
  /** Dotted path in the API config, e.g. `dialerStrategy.callRate`. */
  path: string;
  /** Dotted path in CXone's campaign resource; undefined for orchestrator-only fields. */
  wire?: string;
}

/**
 * Every leaf a patch can touch. Arrays (calling windows, states) are one field each: two people
 * editing the same list is a conflict, never an element-wise merge that could yield a window neither
 * of them asked for.
 */
export const PATCHABLE_FIELDS: readonly FieldSpec[] = [
  { path: 'name', wire: 'name' },
  { path: 'description' },
  { path: 'skillGroupId', wire: 'dialerSettings.skillGroupId' },
  { path: 'complianceTimeZone', wire: 'complianceSettings.timeZone' },
  { path: 'allowedCallTimes', wire: 'complianceSettings.allowedCallTimes' },
  { path: 'recipientStates' },
  { path: 'blackoutDates' },
  { path: 'dialerStrategy.strategy', wire: 'dialerSettings.strategy' },
  { path: 'dialerStrategy.agentCapacity', wire: 'dialerSettings.agentCapacity' },
  { path: 'dialerStrategy.callRate', wire: 'dialerSettings.callRate' },
  { path: 'dialerStrategy.answerRate', wire: 'dialerSettings.answerRate' },
  { path: 'pacing.strategy' },
  { path: 'pacing.targetAbandonment' },
  { path: 'pacing.pollIntervalMs' },
  { path: 'pacing.thresholds' },
];

const SPEC_BY_PATH = new Map(PATCHABLE_FIELDS.map((f) => [f.path, f]));

/**
 * The config's path for each field of CXone's resource the config names: the patchable ones, and the
 * regime and do-not-call check no PATCH may change. (`startDateTime`, `targetListId` and `name` are
 * spelt alike in both.)
 */
const CONFIG_PATH_BY_WIRE = new Map<string, string>([
  ...PATCHABLE_FIELDS.flatMap((f): [string, string][] => (f.wire ? [[f.wire, f.path]] : [])),
  ['complianceSettings.regulatoryCompliance', 'compliance.regime'],
  ['complianceSettings.doNotCallListCheck', 'compliance.doNotCallCheck'],
]);

/**
 * A field of CXone's resource by the name the campaign config, the API and the orchestrator's own
 * `campaign.settings.changed` give it (`dialerSettings.callRate` → `dialerStrategy.callRate`), so one
 * setting goes by one name whoever changed it; a field the config has no name for (`wrapUpTime`)
 * keeps CXone's. Pure.
 */
export function configPathOfWire(wire: string): string {
  return CONFIG_PATH_BY_WIRE.get(wire) ?? wire;
}

/** Config fields a patch may not touch, and why: a client sending one hears it exists, not "unknown". */
export const NOT_PATCHABLE: Readonly<Record<string, string>> = {
  startDateTime:
    'cannot be changed on a launched campaign: its activation was scheduled at launch; rescheduling is a new launch',
  targetListId: 'cannot be changed by PATCH (CXone does not accept it): a new list is a new launch',
  compliance: "is fixed for the campaign's life (the regulatory regime and the do-not-call assertion)",
};

/** Replaces "unknown field" for a config field a patch may not touch with the reason it may not. */
export function explainNotPatchable<I extends { path: string; message: string }>(
  issues: I[],
  prefix = '',
): I[] {
  return issues.map((issue) => {
    const field = issue.path.startsWith(prefix) ? issue.path.slice(prefix.length) : undefined;
    // Own keys only: the field is the client's, and `toString` is a key of every object literal.
    const reason =
      field !== undefined && issue.message === 'unknown field' && Object.hasOwn(NOT_PATCHABLE, field)
        ? NOT_PATCHABLE[field]
        : undefined;
    return reason ? { ...issue, message: reason } : issue;
  });
}

export function fieldSpec(path: string): FieldSpec | undefined {
  return SPEC_BY_PATH.get(path);
}

/** Field path → new value, one entry per touched leaf. */
export type FlatChanges = Record<string, unknown>;

/** The value at a dotted path (`dialerStrategy.callRate`), or undefined. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cur[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

/** The touched leaves of a validated patch, keyed by config path. */
export function flattenPatch(patch: CampaignPatch): FlatChanges {
  const out: FlatChanges = {};
  for (const spec of PATCHABLE_FIELDS) {
    const value = getPath(patch, spec.path);
    if (value !== undefined) out[spec.path] = value;
  }
  return out;
}

/** The fields of a flat change set that live on CXone (the rest are the orchestrator's own). */
export function wireChanges(changes: FlatChanges): FlatChanges {
  return Object.fromEntries(Object.entries(changes).filter(([path]) => fieldSpec(path)?.wire));
}

export function localChanges(changes: FlatChanges): FlatChanges {
  return Object.fromEntries(
    Object.entries(changes).filter(([path]) => {
      const spec = fieldSpec(path);
      return spec !== undefined && spec.wire === undefined;
    }),
  );
}

/** Maps flat config-path changes onto a CXone PATCH body (orchestrator-only fields are dropped). */
export function flatToWire(changes: FlatChanges): UpdateCampaignRequest {
  const body: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(changes)) {
    const wire = fieldSpec(path)?.wire;
    if (wire) setPath(body, wire, value);
  }
  return body as UpdateCampaignRequest;
}

/**
 * Maps a patch onto CXone's PATCH body. The result is empty (`{}`) when the patch touches only
 * orchestrator-side fields (description, pacing, recipientStates, blackoutDates); check with
 * `isEmptyUpdate` before sending.
 */
export function patchToWire(patch: CampaignPatch): UpdateCampaignRequest {
  return flatToWire(flattenPatch(patch));
}

export function isEmptyUpdate(body: UpdateCampaignRequest): boolean {
  return Object.keys(body).length === 0;
}

/** Reads a config-path field from the current CXone resource, or from our record for local fields. */
export function currentValue(
  path: string,
  resource: unknown,
  localConfig: Partial<CampaignConfig> | undefined,
): unknown {
  const spec = fieldSpec(path);
  if (!spec) return undefined;
  return spec.wire ? getPath(resource, spec.wire) : getPath(localConfig, path);
}

/** The current values of every field a change set touches (the `base` captured at request time). */
export function captureBase(
  changes: FlatChanges,
  resource: unknown,
  localConfig: Partial<CampaignConfig> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of Object.keys(changes)) {
    // JSON has no undefined; null stands for "absent" so the base survives the job payload.
    out[path] = currentValue(path, resource, localConfig) ?? null;
  }
  return out;
}
