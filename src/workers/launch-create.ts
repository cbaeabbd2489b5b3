import { randomUUID } from 'node:crypto';
import { launchIdempotencyKey } from '../shared/cxone/idempotency.js';
import { CreateSentUnansweredError, mayHaveBeenApplied } from '../shared/cxone/outcome-unknown.js';
import { toCreateCampaignRequest } from '../shared/cxone/to-wire.js';
import type { CreateCampaignResponse } from '../shared/cxone/wire.js';
import type { LaunchJob } from '../shared/jobs.js';
import type { LaunchRecord } from '../shared/launch-store.js';
import type { Deps } from './launch-deps.js';

/**
 * A launch's create on CXone, as safe to repeat as the platform lets it be.
 *
 * With CXONE_CREATE_IDEMPOTENCY=key (the default) the create carries the launch's Idempotency-Key:
 * every run and redelivery sends the same one, and CXone answers the campaign it already made.
 *
 * With `none` CXone cannot tell a create sent again from a new one, so the launch says when one may
 * have left: `createSentAt`, written before the create waits for its permit, and only when no other
 * run's mark or campaign is there. A failure that proves it was not carried out (never sent, or
 * refused with a 4xx) takes it back; anything else — a lost answer, a worker that died with the create
 * in flight — leaves it, and a later run that finds it with no campaign recorded sends nothing and
 * fails the launch naming what to look for in CXone (CreateSentUnansweredError). A create whose own
 * answer was lost fails at once the same way (CxoneCreateOutcomeUnknownError, from the client).
 * `earlier` is the record as this run began it.
 */
export async function createLaunchCampaign(
  deps: Deps,
  data: LaunchJob,
  attempt: number,
  earlier: Pick<LaunchRecord, 'createSentAt'> | null,
): Promise<CreateCampaignResponse> {
  const { ctx, launches } = deps;
  // Whatever the mode now: a mark is only ever written for a create sent without a key.
  if (earlier?.createSentAt !== undefined) {
    throw new CreateSentUnansweredError(data.launchId, earlier.createSentAt, data.config.name);
  }
  const body = toCreateCampaignRequest(data.config);
  if (ctx.config.cxone.createIdempotency === 'key') {
    return ctx.cxone.createCampaign(body, {
      priority: 'control',
      attempt,
      idempotencyKey: launchIdempotencyKey(data.launchId),
    });
  }
  // Marked in one script that refuses when a mark or a campaign is already there: a run that began
  // before another marked (the other lost its job's lock to it, or the reverse) must not send a second.
  const token = randomUUID();
  const mark = await launches.markCreateSent(data.launchId, token);
  if (mark.kind === 'sent') throw new CreateSentUnansweredError(data.launchId, mark.at, data.config.name);
  if (mark.kind !== 'marked') {
    // Finished, claimed by a failure, or its campaign recorded since this run began it: that stands.
    throw new Error(
      `launch ${data.launchId} was ${mark.kind === 'created' ? 'given its campaign' : 'finished or failed'} by another run; its create is not sent`,
    );
  }
  /** Whether the create left for CXone (its permit granted): only then can it have been carried out. */
  let sent = false;
  try {
    return await ctx.cxone.createCampaign(body, {
      priority: 'control',
      attempt,
      // Again before the one retry after a 401, which CXone refused.
      beforeSend: () => {
        sent = true;
      },
    });
  } catch (err) {
    if (!sent || !mayHaveBeenApplied(err)) {
      // Taken back, the next run creates; left (Redis failing), it fails the launch for a person to
      // look — the safe way round.
      await launches.forgetCreateSent(data.launchId, token).catch((forgetErr: unknown) => {
        ctx.logger.warn(
          { launchId: data.launchId, err: (forgetErr as Error).message },
          'could not take back the mark of a create CXone did not carry out; the next run will not create',
        );
      });
    }
    throw err;
  }
}
