import type {
  CampaignResource,
  CampaignStats,
  CreateCampaignRequest,
  CreateCampaignResponse,
  HistoryRecord,
  UpdateCampaignRequest,
} from './wire.js';

/**
 * Priority of a CXone call across the whole fleet: control-plane work (create, activate,
 * pause/resume/stop, compliance pauses) goes ahead of statistics polls.
 */
export type CallPriority = 'control' | 'poll';

/**
 * How long a CXone call made while an HTTP client waits (request handlers) may wait for the fleet
 * limiter before giving up with CxoneRateLimitError (FleetBudgetBusyError when the fleet's own budget,
 * not a 429 penalty, had no slot), which the API answers with 503 + Retry-After.
 * Jobs do not pass a bound: they are meant to wait.
 */
export const API_LIMITER_MAX_WAIT_MS = 3_000;

export interface CallOptions {
  priority?: CallPriority;
  /** For error context and logs. */
  campaignId?: string;
  /** Attempt number of the job making the call, for error context. */
  attempt?: number;
  /** Aborts the HTTP call, and the wait for a limiter permit before it (the call is then not made). */
  signal?: AbortSignal;
  /**
   * Longest the call may wait for the fleet limiter (token included). Past it, or when a known 429
   * penalty outlasts it, the call is not made and fails with CxoneRateLimitError whose retryAfterMs
   * is the wait still ahead (FleetBudgetBusyError when it was the fleet's own budget, not a penalty). Unset = wait as long as it takes (what jobs want); request handlers pass
   * API_LIMITER_MAX_WAIT_MS so that a client is answered 503 + Retry-After instead of hanging.
   */
  maxWaitMs?: number;
  /**
   * Runs once the limiter's permit is granted, just before the request leaves (again before the one
   * retry after a 401): the last moment to find that a request decided before a rate-limit wait of
   * unknown length must no longer be sent (an activation whose calling window closed meanwhile). A
   * throw keeps the request unsent (its permit is spent) and rejects the call with what was thrown.
   */
  beforeSend?: (() => void) | undefined;
}

/** One method per endpoint of the v2 contract. Every call goes through the fleet-wide limiter. */
export interface CxoneApi {
  createCampaign(
    body: CreateCampaignRequest,
    opts?: CallOptions & { idempotencyKey?: string },
  ): Promise<CreateCampaignResponse>;
  getCampaign(id: string, opts?: CallOptions): Promise<CampaignResource>;
  updateCampaign(
    id: string,
    expectedVersion: number,
    body: UpdateCampaignRequest,
    opts?: CallOptions,
  ): Promise<CampaignResource>;
  getStats(id: string, opts?: CallOptions): Promise<CampaignStats>;
  /**
   * Walks cursor pages lazily, oldest first; each page is fetched through the limiter when the caller
   * asks for it. `from` starts at a page an earlier walk was given (HistoryPageRead.cursor) instead of
   * the first.
   */
  history(
    id: string,
    opts?: CallOptions & { pageSize?: number; from?: string },
  ): AsyncIterable<HistoryPageRead>;
}

/** One page of a history walk, with the cursor that fetched it (null for the first page). */
export interface HistoryPageRead {
  records: HistoryRecord[];
  cursor: string | null;
}
