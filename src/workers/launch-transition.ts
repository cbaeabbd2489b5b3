import { UnrecoverableError } from 'bullmq';
import type { AppContext } from '../shared/context.js';
import type { CampaignResource, CampaignStatus, UpdateCampaignRequest } from '../shared/cxone/wire.js';
import { CxoneConflictError } from '../shared/errors.js';
import { canTransition } from '../shared/lifecycle/state-machine.js';

/**
 * The versioned status write a launch moves its campaign with (schedule, activate, cancel).
 */

/** Version conflicts on one transition are re-read and retried this many times before giving up. */
const TRANSITION_ATTEMPTS = 3;

/**
 * Moves a campaign to `target` with If-Match on a fresh version. A 409 means somebody changed the
 * campaign between our read and our write: re-read and decide again (the target may already be
 * reached, or no longer reachable). `known` is what the caller just read (or the create response),
 * saving one GET. `alsoSet` adds other fields to the same versioned write, decided on the version
 * the write is based on (so a retry after a 409 decides again on the fresh read); it runs only when
 * the status actually changes. Throws UnrecoverableError when the campaign's state forbids the
 * transition.
 */
export async function transition(
  ctx: AppContext,
  campaignId: string,
  target: CampaignStatus,
  opts: {
    attempt: number;
    known?: Pick<CampaignResource, 'status' | 'version'>;
    alsoSet?: (current: CampaignResource) => Omit<UpdateCampaignRequest, 'status'>;
    /** Called with the extra fields of the write that went through. */
    onWritten?: (extra: Omit<UpdateCampaignRequest, 'status'>) => void;
    /** Runs when the write's permit is granted, just before it is sent; a throw keeps it unsent. */
    beforeSend?: () => void;
    /**
     * Awaited with the extra fields once they are decided, before the write asks for its permit (again
     * after a 409); a throw keeps it unsent. Where a run saves what its write carries, for a later run
     * that finds the write in place with its answer lost.
     */
    beforeWrite?: (extra: Omit<UpdateCampaignRequest, 'status'>, version: number) => Promise<void>;
    /**
     * Statuses that end the transition without a write when a fresh read finds them (the campaign
     * changed in CXone since): that resource is returned instead of the error, for the caller to act on.
     */
    settleOn?: (status: CampaignStatus) => boolean;
  },
): Promise<CampaignResource> {
  const read = () =>
    ctx.cxone.getCampaign(campaignId, { priority: 'control', campaignId, attempt: opts.attempt });
  let current: Pick<CampaignResource, 'status' | 'version'> = opts.known ?? (await read());
  let fresh = opts.known === undefined;
  for (let i = 1; ; i++) {
    if (current.status === target) {
      if (fresh) return current as CampaignResource;
      current = await read();
      fresh = true;
      continue;
    }
    if (opts.settleOn?.(current.status)) {
      if (fresh) return current as CampaignResource;
      current = await read();
      fresh = true;
      continue;
    }
    if (!canTransition(current.status, target)) {
      throw new UnrecoverableError(
        `campaign ${campaignId} is ${current.status} on CXone and cannot become ${target}`,
      );
    }
    // The extra fields are decided on the whole resource; a create response carries only its status.
    if (opts.alsoSet && !isFullResource(current)) {
      current = await read();
      fresh = true;
      continue;
    }
    const extra = opts.alsoSet && isFullResource(current) ? opts.alsoSet(current) : {};
    await opts.beforeWrite?.(extra, current.version);
    try {
      const written = await ctx.cxone.updateCampaign(
        campaignId,
        current.version,
        { ...extra, status: target },
        { priority: 'control', campaignId, attempt: opts.attempt, beforeSend: opts.beforeSend },
      );
      opts.onWritten?.(extra);
      return written;
    } catch (err) {
      if (!(err instanceof CxoneConflictError) || i >= TRANSITION_ATTEMPTS) throw err;
      ctx.logger.info(
        { campaignId, target, version: current.version },
        'version conflict; re-reading the campaign',
      );
      current = await read();
      fresh = true;
    }
  }
}

const isFullResource = (value: Pick<CampaignResource, 'status' | 'version'>): value is CampaignResource =>
  'dialerSettings' in value;
