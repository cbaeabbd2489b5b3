import { ENDPOINT_SCOPES, type CxoneEndpoint, type CxoneScope } from './wire.js';

/**
 * What the fleet cannot do without each scope, in an operator's words. The first sign of a missing
 * scope would otherwise be a 403 on every call of its endpoints — and for the statistics scope not
 * even that at first: the campaign dials on, unmeasured, until the guard's blind pause.
 */
export const SCOPE_USES: Record<CxoneScope, string> = {
  'outbound:campaigns:read':
    'reading campaigns and their CXone history: lifecycle commands (pause, resume, stop, changes), ' +
    "the launch's checks and the audit import of console changes fail with 403",
  'outbound:campaigns:write':
    'creating and changing campaigns: launches, pause/resume/stop, pacing changes and the compliance ' +
    'pause at a calling window close fail with 403',
  'outbound:campaigns:stats:read':
    'statistics polling: the abandonment guard is blind and pacing stops; each active campaign dials ' +
    "unmeasured until the guard's blind pause (GUARD_BLIND_PAUSE_AFTER_MS, 5 min by default)",
};

/** The scope of the statistics polls, whose absence blinds the abandonment guard. */
export const STATS_SCOPE: CxoneScope = 'outbound:campaigns:stats:read';

/** How many granted scopes a shortfall keeps for its message, and how much of each: they are the server's text. */
const SHOWN_SCOPES = 20;
const SHOWN_SCOPE_CHARS = 100;

export interface ScopeShortfall {
  /** Scopes asked for and not granted, in the order they were asked for. */
  missing: CxoneScope[];
  /** What the token endpoint said it granted (at most SHOWN_SCOPES, each cut at SHOWN_SCOPE_CHARS). */
  granted: string[];
  /** Per missing scope: the endpoints that answer 403 without it and what that stops. */
  blocks: Array<{ scope: CxoneScope; endpoints: CxoneEndpoint[]; what: string }>;
}

/**
 * The scopes a token response granted. Absent (or without a single scope token, which RFC 6749 §3.3's
 * syntax does not allow), they are the ones asked for: §5.1 makes `scope` optional exactly when it
 * is identical to the request's. Space separated per §3.3; a comma separates too, as some servers
 * write it — no CXone scope contains one, and read as one token it would look like nothing granted.
 */
export function grantedScopes(field: string | undefined, requested: readonly string[]): string[] {
  const said = (field ?? '').split(/[\s,]+/).filter((s) => s.length > 0);
  return said.length === 0 ? [...requested] : said;
}

/**
 * The scopes `requested` that the token response's `scope` field does not grant, with what each
 * blocks; undefined when every one was granted. Pure.
 */
export function scopeShortfall(
  requested: readonly CxoneScope[],
  field: string | undefined,
): ScopeShortfall | undefined {
  const granted = grantedScopes(field, requested);
  const have = new Set(granted);
  const missing = [...new Set(requested)].filter((s) => !have.has(s));
  if (missing.length === 0) return undefined;
  const endpoints = Object.entries(ENDPOINT_SCOPES) as Array<[CxoneEndpoint, CxoneScope]>;
  return {
    missing,
    granted: granted
      .slice(0, SHOWN_SCOPES)
      .map((s) => (s.length > SHOWN_SCOPE_CHARS ? `${s.slice(0, SHOWN_SCOPE_CHARS)}…` : s)),
    blocks: missing.map((scope) => ({
      scope,
      endpoints: endpoints.filter(([, s]) => s === scope).map(([e]) => e),
      what: SCOPE_USES[scope],
    })),
  };
}

/**
 * Whether the missing scopes stop what an API replica is routed traffic for: launches, commands and
 * campaign views need the read and write scopes, and without them the replica is as useless as with
 * refused credentials. The statistics scope alone does not: like a statistics outage
 * (docs/operations.md) it shows in the log and /metrics, not in readiness, because taking every
 * replica out of rotation would also refuse the pauses an operator needs while the guard is blind.
 */
export function shortfallStopsRouting(missing: readonly string[]): boolean {
  return missing.some((scope) => scope !== STATS_SCOPE);
}

/** One line for an operator: what is missing, what it stops, what to do. */
export function shortfallMessage(shortfall: ScopeShortfall): string {
  const each = shortfall.blocks.map((b) => `${b.scope} (${b.endpoints.join(', ')}: ${b.what})`);
  return (
    `CXone granted this OAuth client fewer scopes than asked: missing ${each.join('; ')}. ` +
    `Granted: ${shortfall.granted.join(' ') || 'none'}. ` +
    'Grant the missing scopes to the client (CXONE_CLIENT_ID) in CXone admin'
  );
}
