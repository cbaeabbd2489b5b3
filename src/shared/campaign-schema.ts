import { campaignConfigBaseSchema } from './campaign-config.js';
import { refineCampaignCompliance } from './compliance/config-rules.js';

/** The full submit-time schema: shape (campaign-config.ts) plus compliance rules (compliance/). */
export const campaignConfigSchema = campaignConfigBaseSchema.superRefine(refineCampaignCompliance);
