import { z } from 'zod';
import { callWindowSchema, DIALER_STRATEGIES, REGULATORY_REGIMES } from '../campaign-config.js';

/**
 * The CXone v2 campaign contract on the wire (../shared/reference/README.md). The client parses every
 * response with these schemas and the sandbox validates every request with them, so the two cannot
 * drift apart. Response objects are parsed loosely (unknown extra fields are kept, not rejected) so a
 * CXone that adds a field does not break us; requests are strict.
 */
export const CXONE_SCOPES = [
  'outbound:campaigns:read',
  'outbound:campaigns:write',
  'outbound:campaigns:stats:read',
] as const;
export type CxoneScope = (typeof CXONE_SCOPES)[number];

export const CAMPAIGN_STATUSES = [
  'draft',
  'scheduled',
  'active',
  'paused',
  'completed',
  'cancelled',
] as const;
export const campaignStatusSchema = z.enum(CAMPAIGN_STATUSES);
export type CampaignStatus = z.infer<typeof campaignStatusSchema>;

export const tokenRequestSchema = z.object({
  grant_type: z.literal('client_credentials'),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  scope: z.string().optional(),
});

export const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string(),
  expires_in: z.number().positive(),
  /**
   * RFC 6749 §5.1: space separated. Some servers write it as a JSON array, or null for absent; it is
   * only compared with the scopes asked for (cxone/scopes.ts), so neither refuses a token that works.
   */
  scope: z
    .union([
      z.string(),
      z.array(z.string()).transform((list) => list.join(' ')),
      z.null().transform(() => undefined),
    ])
    .optional(),
});
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

export const wireDialerSettingsSchema = z
  .object({
    strategy: z.enum(DIALER_STRATEGIES),
    agentCapacity: z.number().int().min(1).max(500),
    callRate: z.number().min(0.1).max(1.0),
    answerRate: z.number().min(0).max(1),
    wrapUpTime: z.number().int().min(0).max(3600),
    skillGroupId: z.uuid(),
  })
  .strict();
export type WireDialerSettings = z.infer<typeof wireDialerSettingsSchema>;

/**
 * Exactly the contract's four fields. The recipient states a campaign calls are the orchestrator's
 * own (campaign-config.ts `recipientStates`, kept in its campaign record): CXone never sees them.
 */
export const wireComplianceSettingsSchema = z
  .object({
    timeZone: z.string().min(1),
    allowedCallTimes: z.array(callWindowSchema).min(1),
    doNotCallListCheck: z.boolean(),
    regulatoryCompliance: z.enum(REGULATORY_REGIMES),
  })
  .strict();
export type WireComplianceSettings = z.infer<typeof wireComplianceSettingsSchema>;

export const createCampaignRequestSchema = z
  .object({
    name: z.string().min(1).max(200),
    type: z.enum(DIALER_STRATEGIES),
    startDateTime: z.iso.datetime({ offset: true }),
    targetListId: z.uuid(),
    dialerSettings: wireDialerSettingsSchema,
    complianceSettings: wireComplianceSettingsSchema,
  })
  .strict();
export type CreateCampaignRequest = z.infer<typeof createCampaignRequestSchema>;

export const createCampaignResponseSchema = z.looseObject({
  id: z.string().min(1),
  version: z.number().int().min(1),
  status: campaignStatusSchema,
  createdAt: z.string(),
});
export type CreateCampaignResponse = z.infer<typeof createCampaignResponseSchema>;

export const campaignResourceSchema = z.looseObject({
  id: z.string().min(1),
  version: z.number().int().min(1),
  status: campaignStatusSchema,
  name: z.string(),
  type: z.enum(DIALER_STRATEGIES),
  startDateTime: z.string(),
  targetListId: z.string(),
  dialerSettings: z.looseObject(wireDialerSettingsSchema.shape),
  complianceSettings: z.looseObject(wireComplianceSettingsSchema.shape),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type CampaignResource = z.infer<typeof campaignResourceSchema>;

const namesAField = (obj: object) => Object.keys(obj).length > 0;
/**
 * Said only of an object that is otherwise valid: one whose only key is unknown is named for that
 * key (strict parsing drops it), not as empty besides.
 */
const NOTHING_TO_CHANGE = {
  message: 'must change at least one field',
  when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0,
};

/**
 * PATCH body: any subset of the mutable fields. Nested settings objects are merged field by field.
 * An update must name something to change, at every level: `{}` is refused, and so is a settings
 * object that names no field (`{"dialerSettings": {}}`), the same empty update one level down (the
 * issue names that object). Fields already at their value are still an update (a 200 no-op).
 */
export const updateCampaignRequestSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    status: campaignStatusSchema.optional(),
    startDateTime: z.iso.datetime({ offset: true }).optional(),
    dialerSettings: wireDialerSettingsSchema
      .partial()
      .strict()
      .refine(namesAField, NOTHING_TO_CHANGE)
      .optional(),
    complianceSettings: wireComplianceSettingsSchema
      .partial()
      .strict()
      .refine(namesAField, NOTHING_TO_CHANGE)
      .optional(),
  })
  .strict()
  .refine(namesAField, NOTHING_TO_CHANGE);
export type UpdateCampaignRequest = z.infer<typeof updateCampaignRequestSchema>;

export const campaignStatsSchema = z.looseObject({
  version: z.number().int().min(1),
  status: campaignStatusSchema,
  totalCalls: z.number().int().min(0),
  /** Calls answered by a live person. */
  answeredCalls: z.number().int().min(0),
  /** Live answers not connected to an agent within 2 s. */
  abandonedCalls: z.number().int().min(0),
  complianceViolations: z.number().int().min(0),
  /** Percentage 0..100 of agent time spent on calls. */
  agentUtilization: z.number().min(0).max(100),
});
export type CampaignStats = z.infer<typeof campaignStatsSchema>;

export const historyRecordSchema = z.looseObject({
  id: z.string().min(1),
  campaignId: z.string().min(1),
  version: z.number().int().min(1),
  occurredAt: z.string(),
  action: z.string(),
  actor: z.string(),
  changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })),
});
export type HistoryRecord = z.infer<typeof historyRecordSchema>;

export const historyPageSchema = z.looseObject({
  records: z.array(historyRecordSchema),
  nextCursor: z.string().min(1).nullable(),
});
export type HistoryPage = z.infer<typeof historyPageSchema>;

export const errorBodySchema = z.looseObject({
  error: z.string(),
  message: z.string().optional(),
  errors: z.array(z.looseObject({ field: z.string(), message: z.string() })).optional(),
  currentVersion: z.number().int().optional(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Route templates: the unit of rate limiting on CXone and in our limiter. */
export const CXONE_ENDPOINTS = {
  token: 'POST /oauth2/token',
  createCampaign: 'POST /api/v2/campaigns',
  getCampaign: 'GET /api/v2/campaigns/:id',
  updateCampaign: 'PATCH /api/v2/campaigns/:id',
  getStats: 'GET /api/v2/outbound/campaigns/:id/stats',
  getHistory: 'GET /api/v2/outbound/campaigns/:id/history',
} as const;
export type CxoneEndpoint = (typeof CXONE_ENDPOINTS)[keyof typeof CXONE_ENDPOINTS];

/** Scope each endpoint requires. */
export const ENDPOINT_SCOPES: Record<Exclude<CxoneEndpoint, 'POST /oauth2/token'>, CxoneScope> = {
  'POST /api/v2/campaigns': 'outbound:campaigns:write',
  'GET /api/v2/campaigns/:id': 'outbound:campaigns:read',
  'PATCH /api/v2/campaigns/:id': 'outbound:campaigns:write',
  'GET /api/v2/outbound/campaigns/:id/stats': 'outbound:campaigns:stats:read',
  'GET /api/v2/outbound/campaigns/:id/history': 'outbound:campaigns:read',
};
