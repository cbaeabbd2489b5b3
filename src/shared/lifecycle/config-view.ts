import type { CampaignConfig } from '../campaign-config.js';
import { configFromResource as storeConfigFromResource } from '../campaign-store.js';
import type { CampaignResource } from '../cxone/wire.js';
import { flattenPatch, unflattenChanges, type CampaignPatch } from './patch.js';

/** The orchestrator-only parts of a campaign config, which CXone does not hold. */
export type LocalConfig = Pick<
  Partial<CampaignConfig>,
  'description' | 'pacing' | 'compliance' | 'recipientStates'
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
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepMerge(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(source)) {
    const existing = out[key];
    out[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

/**
 * The config after a patch, before validation (the caller re-checks it with campaignConfigSchema).
 * Nested objects merge field by field; arrays are replaced whole.
 */
export function applyPatch(config: CampaignConfig, patch: CampaignPatch): unknown {
  return deepMerge(
    config as unknown as Record<string, unknown>,
    unflattenChanges(flattenPatch(patch)) as Record<string, unknown>,
  );
}
