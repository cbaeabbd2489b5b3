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

export interface CallOptions {
  priority?: CallPriority;
  /** For error context and logs. */
  campaignId?: string;
  /** Attempt number of the job making the call, for error context. */
  attempt?: number;
  signal?: AbortSignal;
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
  /** Walks cursor pages lazily; each page is fetched through the limiter when the caller asks for it. */
  history(id: string, opts?: CallOptions & { pageSize?: number }): AsyncIterable<HistoryRecord[]>;
}
