import { campaignConfigBaseSchema } from './campaign-config.js';
import { refineCampaignCompliance } from './compliance/config-rules.js';

/**
 * The full submit-time schema: shape (campaign-config.ts) plus compliance rules (compliance/). zod
 * skips an object's refinements once a field failed with an aborting issue (a wrong type, a day
 * spelt "Mon"); `when` runs this one anyway, on what is usable of the config (see
 * refineCampaignCompliance), so one answer names the compliance problems beside the shape errors.
 * It is only skipped after an issue raised with `abort: true`, which no schema here raises.
 */
export const campaignConfigSchema = campaignConfigBaseSchema.superRefine(refineCampaignCompliance, {
  when: () => true,
});
