import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../shared/context.js';
import { createLaunchStore } from '../../shared/launch-store.js';
import { ApiError, parseOrThrow } from '../errors.js';
import type { LaunchStatusBody } from '../openapi.js';

export const launchParamsSchema = z.object({ launchId: z.uuid('must be a launch id (a UUID)') });

export async function registerLaunchRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const store = createLaunchStore(ctx);

  app.get('/v1/launches/:launchId', async (request): Promise<LaunchStatusBody> => {
    // Launch ids are UUIDs we mint in lower case; a UUID is the same id in either case (RFC 9562).
    const launchId = parseOrThrow(launchParamsSchema, request.params).launchId.toLowerCase();
    const record = await store.get(launchId);
    if (!record)
      throw new ApiError(404, 'not_found', `launch ${launchId} is not known (or older than 30 days)`);
    return {
      launchId: record.launchId,
      status: record.status,
      name: record.name,
      requestedAt: record.requestedAt,
      updatedAt: record.updatedAt,
      ...(record.campaignId ? { campaignId: record.campaignId } : {}),
      ...(record.campaignStatus ? { campaignStatus: record.campaignStatus } : {}),
      ...(record.cxoneVersion !== undefined ? { cxoneVersion: record.cxoneVersion } : {}),
      // A campaign stopped before its start never activates: its planned start would mislead.
      ...(record.activateAt && record.campaignStatus !== 'cancelled'
        ? { activateAt: record.activateAt }
        : {}),
      ...(record.activatedAt ? { activatedAt: record.activatedAt } : {}),
      ...(record.activationError ? { activationError: record.activationError } : {}),
      ...(record.error ? { error: record.error } : {}),
      ...(record.lastError && record.status === 'running' ? { lastError: record.lastError } : {}),
      ...(record.cancelled !== undefined ? { cancelled: record.cancelled } : {}),
      ...(record.cancelCommandId ? { cancelCommandId: record.cancelCommandId } : {}),
    };
  });
}
