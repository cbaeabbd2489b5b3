import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/producers/openapi.js';
import {
  COMMAND_AT_WORK_STALE_REASON,
  FLEET_CONTESTED_STALE_REASON,
} from '../../src/producers/routes/campaigns.js';

interface Property {
  description?: string;
}

/** The CampaignView's own words on a stale view, as the OpenAPI document carries them. */
function viewProperty(name: string): Property {
  const doc = buildOpenApiDocument() as {
    components: { schemas: Record<string, { properties: Record<string, Property> }> };
  };
  return doc.components.schemas['CampaignView']!.properties[name]!;
}

describe('CampaignView.staleReason in the OpenAPI document', () => {
  it('names every cause GET /v1/campaigns/{id} serves a stale view for, the contested fleet claim too', () => {
    const { description } = viewProperty('staleReason');
    expect(description).toMatch(/credentials/);
    expect(description).toMatch(/5xx/);
    expect(description).toMatch(/rate budget/);
    // GET serves the cached view, stale, with FLEET_CONTESTED_STALE_REASON while another fleet is on
    // KEY_PREFIX (routes/campaigns.ts): a client reading the document learns of that cause too.
    expect(FLEET_CONTESTED_STALE_REASON).toMatch(/another fleet is on KEY_PREFIX/);
    expect(description).toMatch(/fleet claim is contested/);
    expect(description).toMatch(/another fleet is on KEY_PREFIX/);
    // And COMMAND_AT_WORK_STALE_REASON while a command holds the campaign (its write not yet synced).
    expect(COMMAND_AT_WORK_STALE_REASON).toMatch(/a command is changing the campaign on CXone/);
    expect(description).toMatch(/a command is changing the campaign on CXone/);
  });

  it('says `stale` marks a view that was not refreshed, not only one that could not be', () => {
    expect(viewProperty('stale').description).toMatch(/could not be, or was not, refreshed/);
  });
});
