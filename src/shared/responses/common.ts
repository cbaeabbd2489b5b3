import { z } from 'zod';
import type { ValidationIssue } from '../campaign-config.js';
import type { Describes } from './shape-check.js';

/** One problem with a request or a config, as every 400 and every report names it. */
export const validationIssueSchema = z.object({
  path: z.string().describe('Dotted path of the offending field, e.g. dialerStrategy.callRate'),
  message: z.string(),
});

export const _validationIssue: Describes<ValidationIssue, z.output<typeof validationIssueSchema>> = true;
