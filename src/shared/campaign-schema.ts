import { campaignConfigBaseSchema } from './campaign-config.js';
import { refineCampaignCompliance } from './compliance/config-rules.js';

/**
 * The full submit-time schema: shape (campaign-config.ts) plus compliance rules (compliance/). zod
 * skips an object's refinements once a field failed with an aborting issue (a wrong type, a day
 * spelt "Mon"); `when` runs this one anyway, on what is usable of the config (see
 * refineCampaignCompliance), so one answer names the compliance problems beside the shape errors.
 * zod still skips it after an explicitly aborting issue: no schema here raises one with `abort: true`,
 * but zod refuses a list past its maximum (eight days in a window, 29 windows, 61 states) that way,
 * before parsing its elements. checkCampaignConfig (campaign-check.ts) runs the same rules on such
 * a config, so the API, /validate, `cxo validate` and a PATCH (checkCampaignRules) answer it in full;
 * a bare safeParse does not. Nor does it hold the zone to the input-only rule (no fixed offset such as
 * `Etc/GMT+5`; config-rules.ts checkWrittenTimeZone), which checkCampaignRules adds where a zone is
 * written: this schema also re-checks stored configs on every change.
 */
export const campaignConfigSchema = campaignConfigBaseSchema.superRefine(refineCampaignCompliance, {
  when: () => true,
});
