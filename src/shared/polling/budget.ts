/**
 * How often each campaign's statistics can be polled without the fleet outrunning CXone's limit on
 * the stats endpoint. Pure arithmetic; schedulers.ts applies it.
 */
export interface PollBudgetInput {
  /** Requests CXone allows on the stats endpoint per window (config.cxone.rateLimitPerWindow). */
  perWindow: number;
  windowMs: number;
  /** Campaigns being polled. */
  activeCampaigns: number;
  /**
   * Share of the endpoint's budget kept free for everything that is not a scheduled poll (operators'
   * reads, retries after a failure, the compliance guard). Default 0.2.
   */
  reserveFraction?: number;
}

export const DEFAULT_POLL_RESERVE = 0.2;

/** The shortest interval every campaign can be polled at, given how many share the budget. */
export function minPollIntervalMs(input: PollBudgetInput): number {
  const reserve = Math.min(0.9, Math.max(0, input.reserveFraction ?? DEFAULT_POLL_RESERVE));
  const usable = Math.max(1, Math.floor(input.perWindow * (1 - reserve)));
  const campaigns = Math.max(1, input.activeCampaigns);
  return Math.ceil((input.windowMs * campaigns) / usable);
}

/**
 * The interval a campaign is actually polled at: what it asked for, stretched when the budget cannot
 * afford it, rather than letting polls queue up behind the limiter and arrive late in a burst.
 */
export function effectivePollIntervalMs(desiredIntervalMs: number, input: PollBudgetInput): number {
  return Math.max(desiredIntervalMs, minPollIntervalMs(input));
}

/**
 * Ratio between consecutive budget tiers. The poll floor is computed for the tier the campaign count
 * falls in, not for the exact count, so adding a campaign only rewrites every scheduler when the count
 * crosses into the next tier: amortised 1 / (ratio − 1) = 4 scheduler writes per activation instead
 * of one per polled campaign. The price is polling at most ~25% slower than the exact budget allows.
 */
export const BUDGET_TIER_RATIO = 1.25;

/** The smallest tier (1, 2, 3, 4, 5, 7, 9, 12, 15, 19, 24, …) that holds `count` campaigns. */
export function budgetTier(count: number): number {
  let tier = 1;
  while (tier < count) tier = Math.max(tier + 1, Math.ceil(tier * BUDGET_TIER_RATIO));
  return tier;
}

/**
 * The tier the floor is computed for, given the campaign count and the tier in force (null when
 * none is recorded yet). It grows as soon as the count exceeds the tier, so the budget is never
 * overrun, and shrinks only once the count has fallen a whole ratio below it, so a count hovering at
 * a tier boundary does not rewrite every scheduler on each activation and completion.
 */
export function nextBudgetTier(count: number, current: number | null): number {
  if (current === null || count > current || count <= current / BUDGET_TIER_RATIO) return budgetTier(count);
  return current;
}
