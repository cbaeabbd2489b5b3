import type { FastifyInstance } from 'fastify';
import { createCampaignStore } from '../../shared/campaign-store.js';
import { buildComplianceReport, type ComplianceReport } from '../../shared/compliance/report.js';
import { getGuardState, getWindowState, listActions } from '../../shared/compliance/state-store.js';
import type { AppContext } from '../../shared/context.js';
import { parseOrThrow } from '../errors.js';
import { campaignIdParamsSchema } from './campaigns.js';
import { campaignNotKnown } from '../launch-in-progress.js';
import type { ComplianceReportBody } from '../../shared/responses/compliance-report.js';

/** Builds the campaign's compliance report; null when the campaign is unknown. */
export async function generateComplianceReport(
  ctx: AppContext,
  campaignId: string,
): Promise<ComplianceReport | null> {
  const record = await createCampaignStore(ctx).get(campaignId);
  if (!record) return null;
  const [guard, window, actions] = await Promise.all([
    getGuardState(ctx, campaignId),
    getWindowState(ctx, campaignId),
    listActions(ctx, campaignId),
  ]);
  return buildComplianceReport({
    campaignId,
    status: record.status,
    config: record.config,
    lastStats: record.lastStats,
    guard,
    window,
    actions,
    nowMs: ctx.clock.now(),
    policy: ctx.config,
  });
}

/**
 * GET /v1/campaigns/:campaignId/compliance — the report, built from stored state. A read never
 * writes: every compliance action (window pause/resume, guard throttle/pause/release) is already in
 * the audit trail when it happens, and each closed measurement period is recorded there once, at
 * its rollover, as 'period_closed' with its figures (guard-actions.ts). Auditing reads would make the
 * never-trimmed trail grow with every poll of this endpoint.
 */
export async function registerComplianceRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  app.get('/v1/campaigns/:campaignId/compliance', async (request): Promise<ComplianceReportBody> => {
    const { campaignId } = parseOrThrow(campaignIdParamsSchema, request.params);
    const report = await generateComplianceReport(ctx, campaignId);
    if (!report) throw await campaignNotKnown(ctx, campaignId);
    return report;
  });
}
