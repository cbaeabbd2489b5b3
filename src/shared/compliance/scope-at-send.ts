import { CxoneScopesNotGrantedError } from '../errors.js';
import { CXONE_ENDPOINTS } from '../cxone/wire.js';
import { STATS_SCOPE } from '../cxone/scopes.js';
import { SCOPE_RECHECK_MS } from '../cxone/token-provider.js';
import { TimeoutError, withTimeout } from '../with-timeout.js';

/**
 * Without the statistics scope every statistics poll is a 403: the abandonment guard measures
 * nothing, and a campaign started then dials unmeasured until the guard's blind pause. So a campaign
 * is not started while this process's token is known to lack it (checked as the activating write
 * leaves, beside the calling window: start-at-send.ts). Pauses and stops need only the write scope
 * and are never held back by it.
 *
 * What the activation check reads: the CXone client's token provider (cxone/client.ts `tokens`).
 */
interface ScopeSource {
  scopeShortfall(): { missingScopes: readonly string[]; grantedScopes?: readonly string[] } | undefined;
  getToken?(): Promise<unknown>;
}

/** The client's token provider, when it has one (test doubles of the CXone API may not). */
function scopeSourceOf(cxone: unknown): ScopeSource | undefined {
  const tokens = (cxone as { tokens?: Partial<ScopeSource> } | null)?.tokens;
  return typeof tokens?.scopeShortfall === 'function' ? (tokens as ScopeSource) : undefined;
}

/**
 * An activating write was not sent: the token this process holds lacks the statistics scope, so the
 * campaign would dial with nobody measuring its abandonment rate. Not retryable: a launch activating
 * now fails as a launch CXone refuses does, and an operator grants the scope and submits it again; a
 * scheduled campaign's activation at its start holds on it instead (launch-activation.ts), as the
 * calling window's resume does (enforcement.ts), and goes once the scope is back.
 */
export class StatsScopeMissingError extends CxoneScopesNotGrantedError {
  constructor(campaignId: string, granted: readonly string[] = []) {
    super(
      `campaign ${campaignId} not activated: CXone did not grant this OAuth client the scope ` +
        `${STATS_SCOPE}, so every statistics poll would be refused (403) and the abandonment guard ` +
        "would be blind: the campaign would dial unmeasured until the guard's blind pause. " +
        `Grant ${STATS_SCOPE} to the client (CXONE_CLIENT_ID) ` +
        `in CXone admin (the fleet asks for a new token within ${SCOPE_RECHECK_MS / 60_000} minutes), ` +
        'then submit the launch again (a scheduled campaign whose start this refused stays scheduled and ' +
        'is activated once the scope is granted)',
      [STATS_SCOPE],
      granted,
      { endpoint: CXONE_ENDPOINTS.updateCampaign, campaignId },
    );
  }
}

/**
 * The `beforeSend` of a campaign's activating write: throws StatsScopeMissingError, the write
 * unsent, while the CXone client's last token lacks the statistics scope. Read at the moment of
 * sending, after the write's token is in hand, so a scope granted meanwhile lets it go.
 */
export function statsScopeCheck(cxone: unknown, campaignId: string): () => void {
  const source = scopeSourceOf(cxone);
  return () => {
    const missing = statsScopeMissing(source, campaignId);
    if (missing) throw missing;
  };
}

/**
 * Whether the CXone client's last token carried the statistics scope: false while it lacked it,
 * undefined when nothing tells (a CXone double without a token provider). Asks for no token: read
 * after a call that took one, it is that token's grant.
 */
export function statsScopeGranted(cxone: unknown): boolean | undefined {
  const source = scopeSourceOf(cxone);
  if (!source) return undefined;
  return source.scopeShortfall()?.missingScopes.includes(STATS_SCOPE) !== true;
}

function statsScopeMissing(
  source: ScopeSource | undefined,
  campaignId: string,
): StatsScopeMissingError | undefined {
  const lacking = source?.scopeShortfall();
  return lacking?.missingScopes.includes(STATS_SCOPE)
    ? new StatsScopeMissingError(campaignId, lacking.grantedScopes ?? [])
    : undefined;
}

/**
 * How long the window's resume waits for a token before it decides without one. A token request
 * with none cached waits its turn in the fleet's limiter and then up to CXONE_TIMEOUT_MS: the window
 * job would hold a slot of the compliance worker that long, and other campaigns' closes, due on the
 * same worker, would go out late. A cached token answers at once.
 */
export const SCOPE_LOOK_MAX_WAIT_MS = 1_000;

/**
 * For a start that sends no write of its own yet (the calling window's resume at an open): whether
 * the token lacks the statistics scope. The token is asked for first, so that the provider's
 * re-check (SCOPE_RECHECK_MS) is made even when nothing else of this process calls CXone; should
 * that fail, the last token's grant decides (the resume's own write would fail then anyway).
 * `'undecided'` when no token came within SCOPE_LOOK_MAX_WAIT_MS and none known lacked the scope:
 * the caller looks again shortly, as the resume could not leave without a token either — resumed
 * now, it would go out with whatever grant that token brings.
 */
export async function statsScopeMissingNow(
  cxone: unknown,
  campaignId: string,
): Promise<StatsScopeMissingError | 'undecided' | undefined> {
  const source = scopeSourceOf(cxone);
  const asked = source?.getToken?.();
  // A token request that fails has answered too: the last token's grant decides.
  const answered = asked
    ? await withTimeout(asked, SCOPE_LOOK_MAX_WAIT_MS, 'the CXone token').then(
        () => true,
        (err: unknown) => !(err instanceof TimeoutError),
      )
    : true;
  return statsScopeMissing(source, campaignId) ?? (answered ? undefined : 'undecided');
}
