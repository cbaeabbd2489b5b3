import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../shared/context.js';
import { cleanupErrorText, createLaunchStore, type LaunchRecord } from '../../shared/launch-store.js';
import type { CommandRecord } from '../../shared/lifecycle/commands.js';
import { getCommand } from '../../shared/lifecycle/enqueue.js';
import { isFinal } from '../../shared/lifecycle/state-machine.js';
import { ApiError, parseOrThrow } from '../errors.js';
import type { LaunchStatusBody } from '../openapi.js';

export const launchParamsSchema = z.object({ launchId: z.uuid('must be a launch id (a UUID)') });

/**
 * A failed launch that still names its cleanup stop (`cancelCommandId`) as retrying, read against
 * that stop's own record. A record written before the stop's outcome was noted on launches (or by a
 * worker that died before noting it) can name a stop that has long finished; the view says what the
 * stop did instead, as the worker would have recorded it (launch-store.ts recordCleanedUp,
 * recordCampaignGone). Pure: nothing is written, so GET stays a read. A stop not finished, expired
 * (commands are kept 7 days, launches 30), or of another campaign leaves the record as it is.
 */
export function settleNamedStop(record: LaunchRecord, stop: CommandRecord | null): LaunchRecord {
  if (record.status !== 'failed' || !record.cancelCommandId || !stop) return record;
  if (stop.commandId !== record.cancelCommandId || stop.campaignId !== record.campaignId) return record;
  const { cancelCommandId, ...rest } = record;
  if (stop.status === 'succeeded' && stop.result && isFinal(stop.result.status)) {
    // As on a cleanup done at once: cancelled when it ended cancelled (a campaign that had started
    // dialing ends completed).
    return {
      ...rest,
      campaignStatus: stop.result.status,
      cxoneVersion: stop.result.version,
      cancelled: stop.result.status === 'cancelled',
    };
  }
  if (stop.status === 'failed' || stop.status === 'conflict') {
    const why = stop.error
      ? `${stop.error.kind ? `${stop.error.kind}: ` : ''}${stop.error.message}`
      : `it ended ${stop.status}`;
    return { ...rest, cancelled: false, cleanupError: cleanupErrorText(cancelCommandId, why) };
  }
  return record;
}

export async function registerLaunchRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const store = createLaunchStore(ctx);

  /** The cleanup stop a failed launch names, or null when there is none or it cannot be read. */
  const namedStop = async (record: LaunchRecord, log: FastifyInstance['log']) => {
    if (record.status !== 'failed' || !record.cancelCommandId) return null;
    try {
      return await getCommand(ctx, record.cancelCommandId);
    } catch (err) {
      // Today's answer rather than none: the stop's record only refines it.
      log.warn(
        { launchId: record.launchId, commandId: record.cancelCommandId, err: (err as Error).message },
        "could not read the failed launch's cleanup stop; answering the launch record as it is",
      );
      return null;
    }
  };

  app.get('/v1/launches/:launchId', async (request): Promise<LaunchStatusBody> => {
    // Launch ids are UUIDs we mint in lower case; a UUID is the same id in either case (RFC 9562).
    const launchId = parseOrThrow(launchParamsSchema, request.params).launchId.toLowerCase();
    const stored = await store.get(launchId);
    if (!stored)
      throw new ApiError(404, 'not_found', `launch ${launchId} is not known (or older than 30 days)`);
    const record = settleNamedStop(stored, await namedStop(stored, request.log));
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
      ...(record.cleanupError ? { cleanupError: record.cleanupError } : {}),
    };
  });
}
