/**
 * How one endpoint's budget is spent (pure; see docs/limiter.md, "Spreading the budget").
 *
 * - minTimeMs: the fleet-wide gap between two calls. Spreading perWindow calls evenly over the
 *   window (plus a small margin) means there is never a burst when a window rolls over.
 * - marginMs: the hard window check counts calls over windowMs + marginMs, so that HTTP arrival
 *   jitter between processes cannot make CXone see perWindow + 1 calls inside its own window.
 * - maxConcurrent: how many permits may be handed out but not yet used, fleet-wide. Keeping it small
 *   keeps the queue of promised slots short, which is what lets a control call overtake polls
 *   queued in other processes. Handing a slot over costs a few Redis round trips, so with only two
 *   promised slots one endpoint could never go faster than about two calls per hand-over, whatever
 *   its budget; the number therefore scales with the rate so that the promised slots cover
 *   PENDING_COVER_MS of the budget: 2 at any realistic CXone rate (minTime >= 50 ms), more only for
 *   budgets of thousands of calls per minute. What a control call may have to wait behind stays
 *   bounded in time (about max(2 × minTime, PENDING_COVER_MS)), not in count.
 * - leaseSlots: when the spacing is shorter than LEASE_SPAN_MS (budgets of thousands of calls per
 *   minute and more), one Bottleneck permit is a lease of several consecutive slots rather than one:
 *   the permit stands for a time slice of permitGapMs = leaseSlots × minTime, the hard window takes
 *   the slice's slots in the same round trip, and the process spends them itself, minTime apart,
 *   within the slice. Handing out one slot per millisecond through Redis would cost more than the
 *   calls it spaces; at every realistic CXone rate leaseSlots is 1 and nothing changes.
 */
export interface EndpointSpacing {
  perWindow: number;
  windowMs: number;
  marginMs: number;
  minTimeMs: number;
  /** Slots one permit stands for (1 unless minTimeMs < LEASE_SPAN_MS). */
  leaseSlots: number;
  /** Bottleneck's minTime: the fleet-wide gap between two permits (leaseSlots × minTimeMs). */
  permitGapMs: number;
  maxConcurrent: number;
  /**
   * Clustered Bottleneck instances per endpoint per process. One instance asks Redis for one permit
   * at a time (its submit and register scripts run under local locks), so a process cannot get
   * permits faster than one per two round trips per instance; more lanes (each with its own
   * connection, as if it were another process) only where the spacing asks for more than that.
   */
  lanes: number;
  /** Bottleneck cluster heartbeat: re-drains queued permits if a capacity message was lost. */
  heartbeatMs: number;
  /** A granted permit the holder never used (its process died) is reclaimed after this long. */
  permitExpirationMs: number;
}

/** Promised-but-unused slots at ordinary rates (and the floor at any rate). */
export const MIN_PENDING_PERMITS = 2;
/**
 * The span of budget the promised slots cover at high rates: a few Redis round trips (register a
 * permit, free it, the pub/sub wake-up) on a loaded host. Kept well below MIN_MARGIN_MS, so that the
 * extra slots a Redis flush can briefly forget are absorbed by the margin (docs/limiter.md).
 */
export const PENDING_COVER_MS = 100;
export const MIN_MARGIN_MS = 250;
/**
 * The longest slice one lease covers. A lease's slots are counted in the hard window when it is
 * granted and spent up to this much later, so it must stay well inside the margin, next to the
 * promised slots (PENDING_COVER_MS) and arrival jitter.
 */
export const LEASE_SPAN_MS = 50;
/** Upper bound on Bottleneck lanes per endpoint (each lane needs two Redis connections). */
export const MAX_LANES = 8;

/**
 * Share of each endpoint's budget that operators' calls (bounded control calls: an HTTP client waits
 * for the answer) may take ahead of the fleet's jobs, in any window. Jobs keep the rest whatever the
 * API is asked, so a dashboard refreshing hundreds of campaigns cannot starve compliance pauses or
 * pacing; past it an operator's call queues for a permit as any control call.
 */
export const OPERATOR_SHARE = 0.5;

/** Operators' calls that may go ahead of jobs in any window of `perWindow` calls (at least 1). */
export function operatorSlots(perWindow: number): number {
  return Math.max(1, Math.floor(perWindow * OPERATOR_SHARE));
}

/** Promised slots for a spacing of `minTimeMs`: enough to cover PENDING_COVER_MS, at least 2. */
export function pendingPermits(minTimeMs: number): number {
  return Math.max(MIN_PENDING_PERMITS, Math.ceil(PENDING_COVER_MS / minTimeMs));
}

export function computeSpacing(perWindow: number, windowMs: number): EndpointSpacing {
  if (!Number.isInteger(perWindow) || perWindow < 1)
    throw new RangeError('perWindow must be an integer >= 1');
  if (!Number.isFinite(windowMs) || windowMs < 1) throw new RangeError('windowMs must be >= 1');
  // Arrival jitter is absolute (event-loop lag, network), not proportional to the window: at least
  // 250 ms, and 1 % of long windows.
  const marginMs = Math.max(MIN_MARGIN_MS, Math.ceil(windowMs * 0.01));
  const minTimeMs = Math.ceil((windowMs + marginMs) / perWindow);
  const leaseSlots = minTimeMs >= LEASE_SPAN_MS ? 1 : Math.floor(LEASE_SPAN_MS / minTimeMs);
  const permitGapMs = minTimeMs * leaseSlots;
  const maxConcurrent = pendingPermits(permitGapMs);
  return {
    perWindow,
    windowMs,
    marginMs,
    minTimeMs,
    leaseSlots,
    permitGapMs,
    maxConcurrent,
    lanes: Math.min(MAX_LANES, Math.ceil(maxConcurrent / MIN_PENDING_PERMITS)),
    heartbeatMs: Math.min(1_000, Math.max(250, permitGapMs)),
    permitExpirationMs: permitGapMs * (maxConcurrent + 1) + 2_000,
  };
}
