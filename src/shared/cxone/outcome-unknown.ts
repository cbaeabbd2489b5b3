import { CxoneError, CxoneMalformedResponseError, CxoneUnavailableError } from '../errors.js';
import { CXONE_ENDPOINTS } from './wire.js';

/**
 * Failures that prove the request never reached CXone: nothing was done, so sending it again is
 * safe even for a create.
 */
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * A create sent without an Idempotency-Key whose answer never came (a timeout, a reset) or came as a
 * 5xx/408: CXone may have created the campaign. Not retryable, unlike the CxoneUnavailableError it
 * replaces, because a blind retry could create a second campaign that dials the same list.
 */
export class CxoneCreateOutcomeUnknownError extends CxoneError {
  readonly kind = 'unavailable';
  readonly retryable = false;
  constructor(cause: CxoneUnavailableError) {
    super(
      `${cause.message}; the campaign may have been created on CXone, and the create carried no ` +
        'Idempotency-Key, so it is not retried: look the campaign up on CXone before creating it again',
      {
        endpoint: cause.endpoint,
        status: cause.status,
        campaignId: cause.campaignId,
        attempt: cause.attempt,
        body: cause.body,
      },
      { cause },
    );
  }
}

/**
 * A launch whose earlier run sent its create without an Idempotency-Key (CXONE_CREATE_IDEMPOTENCY=none)
 * and recorded no answer — it died with the create in flight, or the answer was lost: CXone may hold
 * the campaign, and a create sent again could not be told from a new one. Not retryable: a person
 * looks in CXone.
 */
export class CreateSentUnansweredError extends CxoneError {
  readonly kind = 'unavailable';
  readonly retryable = false;
  constructor(launchId: string, sentAt: string, campaignName: string) {
    super(
      `an earlier run of launch ${launchId} sent its create at ${sentAt} and recorded no answer, and ` +
        'creates carry no Idempotency-Key (CXONE_CREATE_IDEMPOTENCY=none), so it is not sent again: ' +
        `CXone may hold the campaign; look for one named ${JSON.stringify(campaignName)} created since ` +
        'then, cancel it if there is one, and launch again',
      { endpoint: CXONE_ENDPOINTS.createCampaign },
    );
  }
}

/** Whether CXone may have acted on a request that failed with `err`. */
export function mayHaveReachedCxone(err: CxoneUnavailableError): boolean {
  if (err.status !== undefined) return true;
  const code = (err.cause as { code?: unknown } | undefined)?.code;
  return !(typeof code === 'string' && NEVER_SENT_CODES.has(code));
}

/**
 * Whether a write that left for CXone and failed with `err` may have been applied: yes when its answer
 * was lost (a timeout, a reset, a 5xx or 408: mayHaveReachedCxone), when CXone answered off its
 * contract (a 2xx that does not parse), and for a failure that is not CXone's (nothing says what became
 * of the request); no when CXone refused it (a 4xx: 400, 401, 403, 404, 409, 422, 429), and no for a
 * failure of the token endpoint: a write that left meets one only after CXone answered it 401 (refused)
 * and the client waits for a fresh token to send it again, the write not leaving a second time. Pure.
 */
export function mayHaveBeenApplied(err: unknown): boolean {
  if (err instanceof CxoneCreateOutcomeUnknownError) return true;
  if (err instanceof CxoneError && err.endpoint === CXONE_ENDPOINTS.token) return false;
  if (err instanceof CxoneUnavailableError) return mayHaveReachedCxone(err);
  if (err instanceof CxoneMalformedResponseError) return true;
  return !(err instanceof CxoneError);
}
