import { z } from 'zod';
import { campaignStatusSchema } from '../cxone/wire.js';
import { LAUNCH_STATUSES } from '../launch-store.js';
import type { ResponseBody } from './response-body.js';

/**
 * A launch as its Redis hash holds it (launch-store.ts takes LaunchRecord from here), and what GET
 * /v1/launches/:launchId shows of it. Fields without a description carry a comment instead: a
 * description would change the published document.
 */
export const launchRecordSchema = z.object({
  launchId: z.string(),
  status: z.enum(LAUNCH_STATUSES),
  /** Who asked (`api:<caller>`). */
  actor: z.string(),
  name: z.string().describe("The campaign's name, from the submitted config"),
  requestedAt: z.string(),
  updatedAt: z.string(),
  idempotencyKey: z.string().optional(),
  /** Set as soon as CXone has created the campaign, before anything else can fail. */
  campaignId: z.string().optional(),
  cxoneVersion: z.number().int().optional(),
  lastError: z
    .string()
    .optional()
    .describe('While the launch is retried (status running): its latest transient failure'),
  campaignStatus: campaignStatusSchema
    .optional()
    .describe("The campaign's CXone status when the launch finished, then as its delayed activation left it"),
  activateAt: z
    .string()
    .optional()
    .describe('A future start: when the campaign will be activated (absent once it was stopped before it)'),
  activatedAt: z.string().optional().describe('When the delayed activation found the campaign dialing'),
  activationError: z
    .string()
    .optional()
    .describe('Why the delayed activation gave up (the campaign stays scheduled on CXone)'),
  error: z
    .string()
    .optional()
    .describe('Why the launch failed, and what to fix (present when status is failed)'),
  cancelled: z
    .boolean()
    .optional()
    .describe('A failed launch that had created a campaign: whether it was cancelled on CXone'),
  cancelCommandId: z
    .string()
    .optional()
    .describe('When CXone refused that cancel: the stop command retrying it (GET /v1/commands/{id})'),
  /**
   * Written by the workers when the cleanup met CXone's 404 (launch-store.ts campaignGoneReason); the
   * view also shows it, unwritten, for a stop a stale record still names that has failed
   * (routes/launches.ts settleNamedStop). Both texts come from cleanupErrorText.
   */
  cleanupError: z
    .string()
    .optional()
    .describe(
      "A failed launch whose cleanup failed for good, no stop pending: CXone answered 404 for its campaign (the cancel or its stop), or the stop it names had failed — why (the stop's id, and its error); or its campaign was left running, not cancelled, because it was started outside the orchestrator (in CXone); or, naming no campaign, a create CXone may have carried out that could not be asked for again, or not safely once CXone may have forgotten its key (its Idempotency-Key, the name to look for; check CXone by hand)",
    ),
  /**
   * With CXONE_CREATE_IDEMPOTENCY=none: when a run's create was about to leave for CXone; taken back
   * when its failure proves it was not carried out. A later run finding it and no `campaignId` sends
   * no create (launch-create.ts).
   */
  createSentAt: z.string().optional(),
  /** The run that wrote `createSentAt` (a token of its own), so that only it takes the mark back. */
  createSentBy: z.string().optional(),
  /**
   * Set, to the failure's reason, once a failure has claimed the launch (`claimFailure`) and until
   * it is recorded failed. From then on no run may record a campaign or a success on it; a run or
   * handler that finds it set finishes the failure.
   */
  failing: z.string().optional(),
});

/**
 * GET /v1/launches/:launchId: the record without its internal fields (who asked, the idempotency
 * key, a failure's claim, a create's mark), as a named stop's own record may settle it (routes/launches.ts); loose,
 * as the document has always had it.
 */
export const launchStatusSchema = launchRecordSchema
  .omit({ actor: true, idempotencyKey: true, failing: true, createSentAt: true, createSentBy: true })
  .loose();
/** What GET /v1/launches/:launchId builds. */
export type LaunchStatusBody = ResponseBody<typeof launchStatusSchema>;
