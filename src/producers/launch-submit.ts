import { createHash, randomUUID } from 'node:crypto';
import { complianceOptionsSchema, pacingSchema, type CampaignConfig } from '../shared/campaign-config.js';
import { canonicalJson } from '../shared/canonical-json.js';
import type { AppContext } from '../shared/context.js';
import type { LaunchJob } from '../shared/jobs.js';
import { createLaunchStore, launchAuditId, type LaunchStatus } from '../shared/launch-store.js';
import { auditOrLog, auditWithChange, publishOrLog } from '../shared/side-records.js';
import { RequestAbandonedError, throwIfAbandoned } from '../shared/errors.js';
import { idempotencyKeyProblem } from '../shared/idempotency-key.js';
import { ApiError } from './errors.js';

/** Job name of a launch on the `launch` queue (activation jobs are named ACTIVATE_JOB). */
export const LAUNCH_JOB = 'launch';

export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  // Node joins a header sent twice into one value, "a, b" (RFC 9110 reads that as two values too);
  // "no spaces allowed" would send the client looking for a space it never put in a key.
  const parts = value?.split(', ') ?? [];
  if (parts.length > 1 && parts.every((part) => idempotencyKeyProblem(part) === undefined)) {
    throw new ApiError(
      400,
      'invalid_idempotency_key',
      `Idempotency-Key must be given once; this request gives ${parts.length} keys`,
    );
  }
  const problem = idempotencyKeyProblem(value);
  if (problem) throw new ApiError(400, 'invalid_idempotency_key', problem);
  return value;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The config's identity for Idempotency-Key replays: SHA-256 of its canonical JSON after parsing, with
 * the optional groups whose every field has a default (`pacing`, `compliance`) filled in, so that
 * leaving one out and spelling out its defaults are the same config (docs/api.md). Marked `v2:`: a
 * claim stored in the earlier form (a plain hash, without the filling) is still recognised for the
 * 24 h such claims live (`sameConfig`).
 */
export function configFingerprint(config: CampaignConfig): string {
  const explicit = {
    ...config,
    pacing: config.pacing ?? pacingSchema.parse({}),
    compliance: config.compliance ?? complianceOptionsSchema.parse({}),
  };
  return `v2:${sha256(canonicalJson(explicit))}`;
}

/** Whether a stored claim's fingerprint is this config's, in either form. */
export function sameConfig(stored: string, config: CampaignConfig): boolean {
  return stored.startsWith('v2:')
    ? stored === configFingerprint(config)
    : stored === sha256(canonicalJson(config));
}

export interface SubmitResult {
  launchId: string;
  status: LaunchStatus;
  /** True when an Idempotency-Key matched an earlier request and nothing new was enqueued. */
  replayed: boolean;
}

/**
 * Records a launch and enqueues it, exactly once per Idempotency-Key.
 *
 * The key and the launch record are claimed in one Lua script, so of two concurrent requests with the
 * same key only one creates a launch. The job id is the launch id, so even the replay path below,
 * which re-adds a launch still marked queued (its first request may have died between the claim and
 * the enqueue), cannot create a second job: BullMQ ignores an add whose job id exists.
 */
export async function submitLaunch(
  ctx: AppContext,
  input: {
    config: CampaignConfig;
    actor: string;
    idempotencyKey?: string | undefined;
    /** The request's deadline: once it fired, the launch is not enqueued (see abandon below). */
    signal?: AbortSignal | undefined;
    /** Told the launch id before anything is written, so a 503 at the deadline can name it. */
    onLaunchId?: (launchId: string) => void;
  },
): Promise<SubmitResult> {
  const store = createLaunchStore(ctx);
  const requestedAt = new Date(ctx.clock.now()).toISOString();
  const launchId = randomUUID();
  // With a key the launch may turn out to be an earlier one: named once the claim says which.
  if (!input.idempotencyKey) input.onLaunchId?.(launchId);
  const job: LaunchJob = { launchId, config: input.config, actor: input.actor, requestedAt };
  const idempotency = input.idempotencyKey
    ? { key: input.idempotencyKey, fingerprint: configFingerprint(input.config) }
    : undefined;

  // The request's event and audit record are written by the script that creates the launch, so a
  // launch is never recorded unannounced or unaudited (the trail of a launch starts with its request
  // whatever the worker does next; a launch refused at once appends `launch_failed` to the same
  // trail), and a replay (the key already claimed) announces and records nothing. A record the chain
  // cannot take there is appended right after, and its failure only logged: the launch is accepted.
  const created = await store.create(
    { launchId, actor: input.actor, name: input.config.name, requestedAt },
    idempotency,
    ctx.events.prepare('campaign.launch.requested', '', {
      launchId,
      name: input.config.name,
      startDateTime: input.config.startDateTime,
    }),
    auditWithChange(
      ctx,
      {
        campaignId: launchAuditId(launchId),
        action: 'launch_requested',
        actor: input.actor,
        details: {
          launchId,
          name: input.config.name,
          idempotencyKey: input.idempotencyKey,
          config: input.config,
        },
      },
      { launchId },
    ),
  );

  if (input.idempotencyKey) input.onLaunchId?.(created.created ? launchId : created.existing.launchId);
  if (!created.created) {
    const earlier = created.existing;
    if (idempotency && !sameConfig(earlier.fingerprint, input.config)) {
      throw new ApiError(
        422,
        'idempotency_key_reused',
        'this Idempotency-Key was already used for a different campaign config; use a new key for a new launch',
        { launchId: earlier.launchId },
      );
    }
    const record = await store.get(earlier.launchId);
    if (record?.status === 'queued') {
      throwIfAbandoned(input.signal, `launch ${earlier.launchId}`);
      await ctx.queues.launch.add(
        LAUNCH_JOB,
        { ...job, launchId: earlier.launchId, requestedAt: record.requestedAt, actor: record.actor },
        { jobId: earlier.launchId },
      );
    }
    return { launchId: earlier.launchId, status: record?.status ?? 'queued', replayed: true };
  }

  if (input.signal?.aborted) {
    await abandon(ctx, store, launchId, input.actor, idempotency !== undefined, ABANDONED_AT_DEADLINE);
  }
  try {
    await ctx.queues.launch.add(LAUNCH_JOB, job, { jobId: launchId });
  } catch (err) {
    // Redis refusing writes (`noeviction` at maxmemory), a connection lost past a command's retries:
    // the client hears a failure, and without a key nobody could ever claim the launch again.
    // (Should the add have landed without its answer, its job finds the launch finished and skips it.)
    await abandon(
      ctx,
      store,
      launchId,
      input.actor,
      idempotency !== undefined,
      `could not be enqueued (${(err as Error).message}); nothing was sent to CXone`,
    ).catch(() => undefined);
    throw err;
  }
  ctx.logger.info(
    { launchId, actor: input.actor, name: input.config.name, idempotent: Boolean(idempotency) },
    'launch queued',
  );
  return { launchId, status: 'queued', replayed: false };
}

const ABANDONED_AT_DEADLINE =
  'abandoned: the API request passed its deadline before the launch was enqueued; nothing was sent to CXone';

/**
 * The launch is not enqueued: the request's deadline passed first (Redis stalled, then came back), or
 * the enqueue failed. The client has been told it failed, so nothing is enqueued. With an
 * Idempotency-Key the record stays `queued`, and the client's retry with that key enqueues it (the
 * replay path above), exactly once — should no retry come before the key's claim lapses, the launch
 * sweep finds it in the queued-launch index and fails it (launch-sweep.ts sweepLostLaunches); without
 * one nobody can ever claim it, so it is closed as failed, saying why (which takes it out of the index).
 */
async function abandon(
  ctx: AppContext,
  store: ReturnType<typeof createLaunchStore>,
  launchId: string,
  actor: string,
  hasKey: boolean,
  reason: string,
): Promise<never> {
  if (!hasKey) {
    // The request was audited and announced, so its end is too.
    await auditOrLog(ctx, {
      campaignId: launchAuditId(launchId),
      action: 'launch_failed',
      actor,
      details: { launchId, reason },
      dedupeKey: `launch_failed:${launchId}`,
    });
    const failed = { launchId, reason };
    const written = await store.finish(
      launchId,
      { status: 'failed', error: reason },
      ctx.events.prepare('campaign.launch.failed', '', failed),
    );
    // Refused only when the record is gone (deleted by hand): its request was announced, so its end
    // still is, as a worker's failure is (launch-failure.ts failLaunch).
    if (!written) await publishOrLog(ctx, 'campaign.launch.failed', '', failed, { launchId });
  }
  ctx.logger.warn({ launchId, keptForRetry: hasKey, reason }, 'launch not enqueued');
  throw new RequestAbandonedError(`launch ${launchId}`);
}
