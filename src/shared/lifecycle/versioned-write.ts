import type { CallOptions, CxoneApi } from '../cxone/api.js';
import type { CampaignResource, UpdateCampaignRequest } from '../cxone/wire.js';
import { CxoneConflictError } from '../errors.js';
import { lifecycleRebases } from '../metrics.js';
import { fullJitterDelayMs } from '../retry/backoff.js';
import type { CampaignLease } from './lock.js';

/**
 * One CXone write made safe against concurrent writers: decide from the latest version, PATCH with
 * `If-Match: version=N` of that version, and on 409 back off, re-read and decide again — the decision
 * is re-made on the new version, never the old body re-sent (the seed's bug).
 */
export interface VersionedWriteIO {
  cxone: CxoneApi;
  lease: CampaignLease;
  campaignId: string;
  callOpts: CallOptions;
  /** 409s resolved by re-reading before giving up. */
  maxRebases: number;
  /**
   * Runs just before each PATCH is sent, with the version its If-Match names and its body: what a
   * later run must know should the write be applied without its answer arriving.
   */
  beforePatch?: (version: number, body: UpdateCampaignRequest) => Promise<void>;
  /**
   * Runs on each read after a 409, before deciding on it: the version that 409 revealed was written
   * by someone else, and the write that follows (its sync) moves the record past it unseen.
   */
  onReread?: (resource: CampaignResource) => Promise<void>;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

/** Backoff between rebases: rival writers are usually people or other integrations, not a storm. */
export const REBASE_BACKOFF = { baseMs: 50, capMs: 2_000 };
export const DEFAULT_MAX_REBASES = 8;

/** Every rebase met another 409: somebody keeps writing. Transient: the job retries later. */
export class RebaseExhaustedError extends Error {
  constructor(
    readonly campaignId: string,
    readonly rebases: number,
  ) {
    super(
      `campaign ${campaignId} kept changing: ${rebases} rebases in a row met a newer version; will retry later`,
    );
    this.name = 'RebaseExhaustedError';
  }
}

export type WriteDecision<M, S> =
  | {
      write: UpdateCampaignRequest;
      meta: M;
      /**
       * Decided again when the write's rate-limit permit is granted, just before it is sent (the wait
       * may be long): a stop then keeps the write unsent and ends as a stop decided at once would.
       */
      atSend?: () => S | null;
    }
  | { stop: S };

/** Thrown from a write's beforeSend to keep it unsent; carries nothing (the stop is kept aside). */
class StoppedAtSendError extends Error {
  constructor(campaignId: string) {
    super(`campaign ${campaignId}: the write was stopped when its permit was granted, and not sent`);
    this.name = 'StoppedAtSendError';
  }
}

export type WriteResult<M, S> =
  | { kind: 'written'; resource: CampaignResource; before: CampaignResource; meta: M; rebases: number }
  | { kind: 'stopped'; stop: S; latest: CampaignResource; rebases: number };

export async function writeVersioned<M, S>(
  io: VersionedWriteIO,
  latest: CampaignResource,
  decide: (latest: CampaignResource) => WriteDecision<M, S>,
  /** Runs before each PATCH is sent, with its decision: what a later run must know if the answer is lost. */
  beforeWrite?: (meta: M) => Promise<void>,
): Promise<WriteResult<M, S>> {
  let current = latest;
  for (let rebases = 0; ; rebases++) {
    const decision = decide(current);
    if ('stop' in decision) return { kind: 'stopped', stop: decision.stop, latest: current, rebases };
    // A holder that lost its lock must not write; CXone's If-Match below is the last fence.
    await io.lease.verify();
    await beforeWrite?.(decision.meta);
    await io.beforePatch?.(current.version, decision.write);
    let stoppedAtSend: S | null = null;
    const { atSend } = decision;
    const callOpts =
      atSend === undefined
        ? io.callOpts
        : {
            ...io.callOpts,
            beforeSend: () => {
              stoppedAtSend = atSend();
              if (stoppedAtSend !== null) throw new StoppedAtSendError(io.campaignId);
            },
          };
    try {
      const resource = await io.cxone.updateCampaign(
        io.campaignId,
        current.version,
        decision.write,
        callOpts,
      );
      return { kind: 'written', resource, before: current, meta: decision.meta, rebases };
    } catch (err) {
      if (err instanceof StoppedAtSendError && stoppedAtSend !== null) {
        return { kind: 'stopped', stop: stoppedAtSend, latest: current, rebases };
      }
      if (!(err instanceof CxoneConflictError)) throw err;
      if (!err.isVersionConflict) {
        // Not a race (the campaign closed, or CXone refuses the transition from its status): decide
        // once more on the campaign as it is, which usually explains and stops; writing the same
        // thing again would only meet the same 409, as often as the rebase bound allows.
        const fresh = await io.cxone.getCampaign(io.campaignId, io.callOpts);
        await io.onReread?.(fresh);
        const again = decide(fresh);
        if ('stop' in again) return { kind: 'stopped', stop: again.stop, latest: fresh, rebases };
        throw err;
      }
      if (rebases >= io.maxRebases) throw new RebaseExhaustedError(io.campaignId, rebases);
      lifecycleRebases.inc();
      await io.sleep(fullJitterDelayMs(rebases + 1, REBASE_BACKOFF, io.random));
      current = await io.cxone.getCampaign(io.campaignId, io.callOpts);
      await io.onReread?.(current);
    }
  }
}
