import { z } from 'zod';

/**
 * One problem with a request or a config, as every 400 and every report names it; ValidationIssue
 * (campaign-config.ts) is its type.
 */
export const validationIssueSchema = z.object({
  path: z.string().describe('Dotted path of the offending field, e.g. dialerStrategy.callRate'),
  message: z.string(),
});
