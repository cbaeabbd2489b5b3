import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { alertBrokenChains } from '../../shared/audit/alerts.js';
import { importCxoneHistory } from '../../shared/audit/history-import.js';
import {
  AUDIT_PAGE_DEFAULT,
  AUDIT_PAGE_MAX,
  auditStoreFor,
  isAuditCursor,
} from '../../shared/audit/trail.js';
import type { AppContext } from '../../shared/context.js';
import { API_LIMITER_MAX_WAIT_MS } from '../../shared/cxone/api.js';
import { isCxoneError } from '../../shared/errors.js';
import { ApiError, parseOrThrow } from '../errors.js';
import { pageLimitSchema } from '../query.js';
import { NO_BODY } from '../no-body.js';
import { noteHistoryImported } from '../../shared/audit/history-sync.js';
import { CampaignStore } from '../../shared/campaign-store.js';
import { campaignIdParamsSchema } from './campaigns.js';
import type { AuditVerifyBody, HistoryImportBody } from '../../shared/responses/audit.js';

/** Looser than a campaign id: the trail of a launch is `launch:<launchId>`. */
export const auditParamsSchema = z.object({ campaignId: z.string().min(1).max(200) });
/** `?cursor=&limit=` (CONTRACT.md's own spelling) means "not given", not an invalid value. */
const emptyAsAbsent = (value: unknown) => (value === '' ? undefined : value);

/**
 * Strict: a parameter the route does not read (`?limt=5`) is refused as an unknown field, as in a
 * body, rather than dropped while a page of the default size is answered.
 */
const pageQuerySchema = z
  .object({
    cursor: z.preprocess(
      emptyAsAbsent,
      z
        .string({ error: 'must be given once' })
        .refine(isAuditCursor, 'must be a nextCursor returned by a previous page')
        .optional(),
    ),
    limit: pageLimitSchema(AUDIT_PAGE_MAX, AUDIT_PAGE_DEFAULT),
  })
  .strict();

/**
 * The audit trail over HTTP: paging a campaign's records, verifying its chain, and importing its
 * CXone history. Read-only except the import, which only ever appends.
 */
export async function registerAuditRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  opts: { fleetContested?: () => string | undefined } = {},
): Promise<void> {
  const trail = auditStoreFor(ctx);

  app.get('/v1/campaigns/:campaignId/audit', async (request) => {
    const { campaignId: id } = parseOrThrow(auditParamsSchema, request.params);
    const { cursor, limit } = parseOrThrow(pageQuerySchema, request.query);
    // The schema refuses what page() would (same pattern), naming the field like every other 400.
    return trail.page(id, cursor ?? null, limit);
  });

  app.get('/v1/campaigns/:campaignId/audit/verify', async (request): Promise<AuditVerifyBody> => {
    const { campaignId: id } = parseOrThrow(auditParamsSchema, request.params);
    const result = await trail.verify(id);
    // The alert is an event (a webhook job): not while another fleet is on KEY_PREFIX, whose workers
    // could deliver it to its own receiver. Deduplicated when sent, so a later verify still raises it.
    if (!result.ok && opts.fleetContested?.() === undefined)
      await alertBrokenChains({ ...ctx, webhooksEnabled: ctx.config.webhook !== undefined }, result);
    // Nothing to verify is not "intact": a mistyped id must not read as a clean bill. (A chain whose
    // records were all deleted still has its head, so it shows as broken, not here; one whose
    // records retention trimmed all has its cut, and answers as intact, naming it and its anchor.)
    if (result.ok && result.checked === 0 && !result.retentionCuts?.length) {
      throw new ApiError(404, 'not_found', `no audit records for campaign ${id}`);
    }
    const { broken: _all, ...summary } = result;
    return summary;
  });

  // Runs inline: the import is bounded by the campaign's history and paced by the fleet limiter,
  // and the caller gets the real counts instead of a job id to poll.
  app.post(
    '/v1/campaigns/:campaignId/audit/import-history',
    NO_BODY,
    async (request): Promise<HistoryImportBody> => {
      // Only a CXone campaign has a CXone history: the looser trail ids the reads take (`launch:…`,
      // ` `) would each spend a call of the fleet's CXone budget just to hear 404.
      const { campaignId: id } = parseOrThrow(campaignIdParamsSchema, request.params);
      try {
        // The whole history, from the first page: an operator asking is making sure.
        const walked = await importCxoneHistory(ctx, id, { maxWaitMs: API_LIMITER_MAX_WAIT_MS });
        // The automatic imports of later outside changes then start from what this one covered.
        await noteHistoryImported(new CampaignStore(ctx), id, walked);
        const { resumeCursor: _cursor, restarted: _restarted, ...result } = walked;
        return result;
      } catch (err) {
        if (isCxoneError(err) && err.kind === 'not_found') {
          throw new ApiError(404, 'not_found', `campaign ${id} is not known to CXone`);
        }
        throw err;
      }
    },
  );
}
