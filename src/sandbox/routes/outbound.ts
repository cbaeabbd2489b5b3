import type { FastifyInstance } from 'fastify';
import { campaignStatsSchema, historyPageSchema } from '../../shared/cxone/wire.js';
import { HISTORY_PAGE_SIZE } from '../campaign-store.js';
import { SandboxHttpError, type FieldProblem } from '../errors.js';
import { grantOf } from '../request-context.js';
import type { SandboxState } from '../state.js';
import { catchUpGradually } from '../time-skip.js';

type HistoryRequest = { Params: { id: string }; Querystring: Record<string, string | string[] | undefined> };

/** The paging parameters the history endpoint reads; any other is refused, not ignored. */
const HISTORY_PARAMS = ['pageSize', 'cursor'] as const;

export function parseHistoryQuery(query: Record<string, string | string[] | undefined>): {
  pageSize: number;
  cursor: string | undefined;
} {
  const problems: FieldProblem[] = [];
  // A misspelt parameter (`limit`, `page_size`) would silently page by the default, and a repeated
  // one leave the server to pick a value: the client is told instead.
  for (const key of Object.keys(query)) {
    if (!(HISTORY_PARAMS as readonly string[]).includes(key)) {
      problems.push({ field: key, message: `unknown query parameter; use ${HISTORY_PARAMS.join(' or ')}` });
    }
  }
  const single = (field: (typeof HISTORY_PARAMS)[number]): string | undefined => {
    const value = query[field];
    if (!Array.isArray(value)) return value;
    problems.push({ field, message: 'must be given once' });
    return undefined;
  };
  const rawSize = single('pageSize');
  let pageSize: number = HISTORY_PAGE_SIZE.default;
  if (rawSize !== undefined) {
    pageSize = /^[1-9]\d{0,5}$/.test(rawSize) ? Number(rawSize) : NaN;
    if (!(pageSize >= HISTORY_PAGE_SIZE.min && pageSize <= HISTORY_PAGE_SIZE.max)) {
      problems.push({
        field: 'pageSize',
        message: `must be a whole number from ${HISTORY_PAGE_SIZE.min} to ${HISTORY_PAGE_SIZE.max}`,
      });
    }
  }
  const cursor = single('cursor');
  if (cursor !== undefined && cursor.length === 0)
    problems.push({ field: 'cursor', message: 'must not be empty' });
  if (problems.length > 0) {
    throw new SandboxHttpError(
      400,
      'invalid_request',
      problems.map((p) => `${p.field}: ${p.message}`).join('; '),
      { errors: problems },
    );
  }
  return { pageSize, cursor };
}

export async function registerOutboundRoutes(app: FastifyInstance, state: SandboxState): Promise<void> {
  // Scoped to the token's tenant like GET/PATCH /api/v2/campaigns/:id: another tenant's campaign is
  // the same 404 as an unknown id.
  app.get<{ Params: { id: string } }>('/api/v2/outbound/campaigns/:id/stats', async (request) => {
    const { tenant } = grantOf(request);
    const { id } = state.campaigns.getForTenant(request.params.id, tenant);
    await catchUpGradually(state.simTime, state.dialers, id);
    // Read again: a PATCH served while it caught up may have changed it.
    const campaign = state.campaigns.getForTenant(id, tenant);
    return campaignStatsSchema.parse(state.dialers.stats(campaign));
  });

  app.get<HistoryRequest>('/api/v2/outbound/campaigns/:id/history', async (request) => {
    const { pageSize, cursor } = parseHistoryQuery(request.query);
    const tenant = grantOf(request).tenant;
    return historyPageSchema.parse(state.campaigns.historyPage(request.params.id, tenant, pageSize, cursor));
  });
}
