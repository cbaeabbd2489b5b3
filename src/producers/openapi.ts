import { z } from 'zod';
import { AUDIT_CURSOR, AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX } from '../shared/audit/trail.js';
import { campaignConfigBaseSchema } from '../shared/campaign-config.js';
import { campaignPatchSchema } from '../shared/lifecycle/patch.js';
import { LAUNCH_STATUSES } from '../shared/launch-store.js';
import { COMMAND_STATUSES } from '../shared/lifecycle/commands.js';
import { BULL_BOARD_PATH } from './bull-board.js';
import { isFleetGuarded } from './fleet-guard.js';
import { actionBodySchema, commandParams } from './routes/campaign-commands.js';
import { launchParamsSchema } from './routes/launches.js';
import { eventParamsSchema } from './routes/webhooks.js';
import { campaignIdParamsSchema } from './routes/campaigns.js';
import { auditParamsSchema } from './routes/audit.js';
import { IDEMPOTENCY_KEY_PATTERN } from '../shared/idempotency-key.js';
import { ACTOR_HEADER_PATTERN } from './auth.js';
import { AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS } from './auth-throttle.js';
import { RESERVED_ACTOR_LABEL } from '../shared/api-actor.js';
import { ALLOW, IDEMPOTENT_REPLAYED, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE } from './headers.js';
import { READS_NO_BODY } from './no-body.js';
import {
  auditPageSchema,
  auditRecordSchema,
  auditVerifySchema,
  historyImportSchema,
} from '../shared/responses/audit.js';
import { campaignViewSchema } from '../shared/responses/campaign-view.js';
import { commandRecordSchema, pendingCommandsSchema } from '../shared/responses/commands.js';
import { validationIssueSchema } from '../shared/responses/common.js';
import { complianceReportSchema } from '../shared/responses/compliance-report.js';
import { launchStatusSchema } from '../shared/responses/launch.js';
import {
  deadLetterListSchema,
  deadLetterReplaySchema,
  destinationEnabledSchema,
  eventReplayQueuedSchema,
  webhookDestinationSchema,
  webhookEventStatusSchema,
} from '../shared/responses/webhooks.js';

/**
 * The OpenAPI 3.1 document of the producer API, generated from the same zod schemas the routes
 * validate with, so the document cannot drift from what the API accepts. Response shapes live in
 * src/shared/responses/ (the code building an answer takes its type from there, or is checked
 * against it at compile time); those only this document names (errors, health, the accepted and
 * validate answers) are declared here once.
 */

const errorSchema = z
  .looseObject({
    error: z.string().describe('Machine-readable error code, e.g. not_found, conflict, unauthorized'),
    message: z.string().describe('What went wrong and, where possible, what to do about it'),
  })
  .describe('Every error is JSON in this shape, never an HTML page or a stack trace');

const validationErrorSchema = z.looseObject({
  error: z.literal('validation_failed'),
  message: z.string().optional(),
  issues: z.array(validationIssueSchema),
});

const validateResultSchema = z.object({
  valid: z.boolean(),
  issues: z.array(validationIssueSchema),
});

const launchAcceptedSchema = z.looseObject({
  launchId: z.string(),
  status: z.enum(LAUNCH_STATUSES),
});

export type { LaunchStatusBody } from '../shared/responses/launch.js';

const commandAcceptedSchema = z.looseObject({
  commandId: z.string(),
  campaignId: z.string(),
  status: z
    .enum(COMMAND_STATUSES)
    .describe('`queued` for a new command; for a replay, the earlier command as it stands now'),
});

const healthSchema = z.object({ status: z.literal('ok') });

const readinessCheckSchema = z.object({
  ok: z.boolean(),
  ms: z.number(),
  error: z.string().optional(),
});

const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.object({
    redis: readinessCheckSchema,
    cxone: readinessCheckSchema,
    // Processes that claim KEY_PREFIX for their fleet (the api, worker and all roles) only.
    fleet: readinessCheckSchema.optional(),
  }),
});

/** Named component schemas; every `$ref` in the document points at one of these. */
const COMPONENTS = {
  CampaignConfig: { schema: campaignConfigBaseSchema, io: 'input' },
  CampaignPatch: { schema: campaignPatchSchema, io: 'input' },
  ActionRequest: { schema: actionBodySchema, io: 'input' },
  ValidationIssue: { schema: validationIssueSchema, io: 'output' },
  ValidateResult: { schema: validateResultSchema, io: 'output' },
  Error: { schema: errorSchema, io: 'output' },
  ValidationError: { schema: validationErrorSchema, io: 'output' },
  LaunchAccepted: { schema: launchAcceptedSchema, io: 'output' },
  LaunchStatus: { schema: launchStatusSchema, io: 'output' },
  CampaignView: { schema: campaignViewSchema, io: 'output' },
  CommandAccepted: { schema: commandAcceptedSchema, io: 'output' },
  AuditRecord: { schema: auditRecordSchema, io: 'output' },
  AuditPage: { schema: auditPageSchema, io: 'output' },
  AuditVerification: { schema: auditVerifySchema, io: 'output' },
  HistoryImport: { schema: historyImportSchema, io: 'output' },
  Command: { schema: commandRecordSchema, io: 'output' },
  PendingCommands: { schema: pendingCommandsSchema, io: 'output' },
  ComplianceReport: { schema: complianceReportSchema, io: 'output' },
  EventReplayQueued: { schema: eventReplayQueuedSchema, io: 'output' },
  DeadLetterReplay: { schema: deadLetterReplaySchema, io: 'output' },
  DeadLetterList: { schema: deadLetterListSchema, io: 'output' },
  WebhookEventStatus: { schema: webhookEventStatusSchema, io: 'output' },
  WebhookDestination: { schema: webhookDestinationSchema, io: 'output' },
  DestinationEnabled: { schema: destinationEnabledSchema, io: 'output' },
  Health: { schema: healthSchema, io: 'output' },
  Readiness: { schema: readinessSchema, io: 'output' },
} as const satisfies Record<string, { schema: z.ZodType; io: 'input' | 'output' }>;

export type ComponentName = keyof typeof COMPONENTS;

type JsonObject = Record<string, unknown>;

/**
 * A refinement has no JSON Schema, so an object refined to "change at least one field" (a PATCH body,
 * its dialerStrategy and pacing) would be documented as accepting `{}`, which the API refuses. An
 * object with no required property that its own schema still refuses empty is stated as such.
 */
function refusesEmptyObject({
  zodSchema,
  jsonSchema,
}: {
  zodSchema: z.core.$ZodTypes;
  jsonSchema: JsonObject;
}) {
  if (jsonSchema.type !== 'object' || (Array.isArray(jsonSchema.required) && jsonSchema.required.length > 0))
    return;
  if (zodSchema._zod.def.type === 'object' && !z.safeParse(zodSchema, {}).success)
    jsonSchema.minProperties = 1;
}

/** JSON Schema 2020-12 for one component, without the per-document keys OpenAPI does not want. */
function componentSchema(name: ComponentName): JsonObject {
  const { schema, io } = COMPONENTS[name];
  const json = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
    override: (ctx) =>
      refusesEmptyObject({ zodSchema: ctx.zodSchema, jsonSchema: ctx.jsonSchema as JsonObject }),
  }) as JsonObject;
  delete json.$schema;
  delete json.$id;
  return json;
}

const ref = (name: ComponentName) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: ComponentName, description: string) => ({
  description,
  content: { 'application/json': { schema: ref(name) } },
});
const errorResponse = (description: string) => json('Error', description);

/**
 * The response headers the API sends (headers.ts), by the name the code sets them, as OpenAPI header
 * objects under their usual spelling. `required`: every answer the header is documented on carries it.
 */
const RESPONSE_HEADERS = {
  [LOCATION]: {
    name: 'Location',
    required: true,
    description: 'Where to follow what was accepted (a path on this API)',
    schema: { type: 'string', pattern: '^/v1/' },
  },
  [IDEMPOTENT_REPLAYED]: {
    name: 'Idempotent-Replayed',
    required: false,
    description:
      'Only on an answer to an earlier request with the same Idempotency-Key: nothing new was enqueued',
    schema: { type: 'string', const: 'true' },
  },
  [RETRY_AFTER]: {
    name: 'Retry-After',
    required: true,
    description: 'Whole seconds to wait before retrying (also `retryAfterSeconds` in some bodies)',
    schema: { type: 'integer', minimum: 1 },
  },
  [WWW_AUTHENTICATE]: {
    name: 'WWW-Authenticate',
    required: true,
    description: 'The scheme to authenticate with',
    schema: { type: 'string' },
  },
  [ALLOW]: {
    name: 'Allow',
    required: true,
    description: 'The methods the path serves, comma-separated',
    schema: { type: 'string' },
  },
} as const;
type ResponseHeader = keyof typeof RESPONSE_HEADERS;

/** A response with headers (by the code's names), each described in components.headers; `about` says more. */
function withHeaders(
  response: JsonObject,
  headers: Partial<Record<ResponseHeader, string | undefined>>,
): JsonObject {
  return {
    ...response,
    headers: Object.fromEntries(
      Object.entries(headers).map(([wire, about]) => {
        const { name } = RESPONSE_HEADERS[wire as ResponseHeader];
        return [name, { $ref: `#/components/headers/${name}`, ...(about ? { description: about } : {}) }];
      }),
    ),
  };
}

/** The request headers the API reads beyond Authorization, in components.parameters. */
const REQUEST_HEADERS = {
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    // The pattern the API checks the key with (src/shared/idempotency-key.ts).
    schema: { type: 'string', minLength: 1, maxLength: 200, pattern: IDEMPOTENCY_KEY_PATTERN.source },
    description:
      'Makes a retry safe: the same key with the same request again answers with what the first one made (the same launchId or commandId, `Idempotent-Replayed: true`) and enqueues nothing new; kept 24 h. Launch keys and command keys are apart. 1 to 200 printable ASCII characters, no spaces',
  },
  XActor: {
    name: 'X-Actor',
    in: 'header',
    required: false,
    // The rule auth.ts checks the label by (actorHeaderProblem): the pattern, less the reserved labels.
    schema: {
      type: 'string',
      pattern: ACTOR_HEADER_PATTERN.source,
      not: { pattern: RESERVED_ACTOR_LABEL.source },
    },
    description:
      'Who is behind a shared token, recorded as the actor `api:<X-Actor>` in the audit trail and logs; ' +
      'without it the actor is the token fingerprint, `api:token-…`. 1 to 64 letters, digits and `._@:+-`, ' +
      'given once; `anonymous` and labels starting with `token-` (in any case) are reserved, as they would ' +
      'read as `api:anonymous` or a token fingerprint. Any other value is refused with 400 `invalid_actor`',
  },
} as const;
const requestHeader = (name: keyof typeof REQUEST_HEADERS) => ({ $ref: `#/components/parameters/${name}` });

/** Every 503 of the API says when to retry (RETRY_AFTER_S, the CXone penalty, the fleet claim's renewal). */
const unavailable = (description: string) =>
  withHeaders(errorResponse(description), { [RETRY_AFTER]: undefined });
/** A 400 that is either a schema violation (`issues`) or another bad request (`invalid_json`, …). */
const badRequest = (description: string) => ({
  description,
  content: { 'application/json': { schema: { anyOf: [ref('ValidationError'), ref('Error')] } } },
});

const bearer = [{ bearerAuth: [] }];
/** Any route behind the token (auth-throttle.ts): a refusal once its address is past the limit. */
const TOO_MANY_FAILED_AUTH = {
  '429': withHeaders(
    errorResponse(
      `\`too_many_failed_auth\`: more than ${AUTH_FAILURE_LIMIT} requests from this client address failed ` +
        `authentication within ${AUTH_FAILURE_WINDOW_MS / 1000} s; this one failed too (missing or wrong ` +
        'credentials). A request with the right token is still accepted; `Retry-After` (and ' +
        '`retryAfterSeconds`) says when the count starts again',
    ),
    { [RETRY_AFTER]: undefined },
  ),
};
const STANDARD_ERRORS = {
  '401': withHeaders(errorResponse('Missing or wrong API token'), {
    [WWW_AUTHENTICATE]: '`Bearer`',
  }),
  ...TOO_MANY_FAILED_AUTH,
  '503': unavailable(
    'Redis or CXone is not answering: `redis_unavailable` (Redis not connected, answered at once; or ' +
      'refusing commands for now, READONLY after a failover, OOM: `message` quotes it), ' +
      '`request_timeout` (no answer by the request deadline) or `upstream_unavailable` (CXone rate limiting ' +
      "or down, the fleet's own CXone budget busy, or no CXone access token within 3 s); `Retry-After` " +
      'says when to retry. No launch or command was enqueued',
  ),
  '500': errorResponse('Unexpected server error (details are in the server log, never in the response)'),
};
/**
 * Routes that enqueue or write (src/producers/fleet-guard.ts): the standard errors, with the 503 that
 * refuses them while another fleet is on KEY_PREFIX.
 */
const WRITE_ERRORS = {
  ...STANDARD_ERRORS,
  '503': unavailable(
    'Another fleet is on this KEY_PREFIX (`fleet_contested`: `message` names it and what to stop, retry once ' +
      '/readyz answers 200), or Redis or CXone is not answering: `redis_unavailable` (Redis not connected, ' +
      'answered at once; or refusing commands for now, READONLY after a failover, OOM: `message` quotes it), `request_timeout` (no answer by the request deadline) or `upstream_unavailable` ' +
      "(CXone rate limiting or down, the fleet's own CXone budget busy, or no CXone access token within " +
      '3 s); `Retry-After` says when to retry. No launch or command was enqueued, though one Redis ' +
      'refused partway, or that passed the deadline, may be left recorded',
  ),
};
/** Routes that read the campaign from CXone before they act (commands, the history import). */
const UPSTREAM_ERRORS = {
  '502': errorResponse(
    'CXone refused the read this request makes first (`upstream_error`; `kind` says how, e.g. `auth`); nothing was enqueued',
  ),
};
/** Any route that reads a JSON body. */
const BODY_ERRORS = {
  '413': errorResponse('The body is above 64 KiB'),
  '415': errorResponse(
    'The body is not application/json, or is sent compressed (`Content-Encoding`; bodies are read uncompressed)',
  ),
};
/**
 * POSTs that read no body (src/producers/no-body.ts): a body sent anyway is refused, not ignored, and
 * each refusal is listed so a client learns why rather than meeting an error only `default` covers.
 */
const NO_BODY_REFUSED = `a body with something in it (\`validation_failed\` naming each field, or \`invalid_json\`): ${READS_NO_BODY}; \`{}\` or an empty body is the bare POST`;
const NO_BODY_ERRORS = {
  '413': errorResponse(`The body is above 64 KiB: ${READS_NO_BODY}`),
  '415': errorResponse(
    `A non-empty body that is not application/json (\`unsupported_media_type\`): ${READS_NO_BODY}`,
  ),
};
const COMMAND_LOCATION = 'The command: `/v1/commands/{commandId}`';
const COMMAND_ACCEPTED_HEADERS = { [LOCATION]: COMMAND_LOCATION, [IDEMPOTENT_REPLAYED]: undefined };
const KEY_IN_USE =
  'or the first request with this Idempotency-Key is still being carried out (`idempotency_key_in_use`, with `Retry-After`)';

/**
 * A command's 409: of its codes only `idempotency_key_in_use` says when to retry, so its Retry-After is
 * documented here as optional, not by the component every answer documenting it must carry.
 */
function commandConflict(description: string): JsonObject {
  const { name, schema } = RESPONSE_HEADERS[RETRY_AFTER];
  return {
    ...errorResponse(description),
    headers: {
      [name]: {
        required: false,
        description: 'Only on `idempotency_key_in_use`: whole seconds to wait before retrying',
        schema,
      },
    },
  };
}
const KEY_REUSED =
  'The Idempotency-Key was already used for a different command (`idempotency_key_reused`; `commandId` names that command)';

/** A path parameter as the route's own params schema checks it. */
function pathParam(params: z.ZodObject, name: string, description?: string): JsonObject {
  const json = z.toJSONSchema(params, { io: 'input' }) as unknown as {
    properties: Record<string, JsonObject>;
  };
  return {
    name,
    in: 'path',
    required: true,
    schema: json.properties[name] ?? { type: 'string' },
    ...(description ? { description } : {}),
  };
}
/** As GET /v1/campaigns/:campaignId and the command routes check it. */
const campaignIdParam = pathParam(campaignIdParamsSchema, 'campaignId', 'The CXone campaign id');
const eventIdParam = pathParam(eventParamsSchema, 'eventId');
/** As the audit routes check it: a trail's id, looser than a campaign id. */
const auditIdParam = pathParam(
  auditParamsSchema,
  'campaignId',
  'The CXone campaign id, or `launch:<launchId>` for the trail of a launch',
);

export interface DocumentedRoute {
  method: string;
  path: string;
}

export interface OpenApiOptions {
  /** Where the API is reachable, for the `servers` list. */
  serverUrl?: string;
  /**
   * Routes the running app serves that this module does not describe (added by other areas); each
   * gets a minimal operation so the document still lists every route.
   */
  extraRoutes?: DocumentedRoute[];
}

/** Fastify `:param` paths to OpenAPI `{param}` paths. */
export function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function describedPaths(): Record<string, Record<string, JsonObject>> {
  return {
    '/healthz': {
      get: {
        operationId: 'healthz',
        tags: ['operations'],
        summary: 'Liveness: 200 while the process runs',
        security: [],
        responses: { '200': json('Health', 'The process is alive') },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readyz',
        tags: ['operations'],
        summary:
          'Readiness: 200 only when Redis answers and accepts writes, a CXone token can be had, CXone is answering (its host accepts connections; not 3 failed calls in a row) and no other fleet contests KEY_PREFIX',
        security: [],
        responses: {
          '200': json('Readiness', 'Ready to take traffic'),
          '503': json(
            'Readiness',
            'Not ready; `checks` names the failing dependency (`fleet`: another fleet works on this KEY_PREFIX)',
          ),
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        security: [],
        responses: {
          '200': {
            description: 'Metrics in Prometheus text format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    '/docs': {
      get: {
        operationId: 'docsPage',
        tags: ['operations'],
        summary: 'This document as a human-readable HTML page',
        security: [],
        responses: {
          '200': { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/docs/json': {
      get: {
        operationId: 'docsJson',
        tags: ['operations'],
        summary: 'This OpenAPI 3.1 document',
        security: [],
        responses: {
          '200': {
            description: 'OpenAPI document',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    '/v1/campaigns/validate': {
      post: {
        operationId: 'validateCampaign',
        tags: ['campaigns'],
        summary: 'Validate a campaign config without launching anything',
        security: bearer,
        requestBody: { required: true, content: { 'application/json': { schema: ref('CampaignConfig') } } },
        responses: {
          '200': json('ValidateResult', '`valid` with the list of problems (empty when valid)'),
          '400': badRequest(
            "The body is not JSON (`invalid_json`); a key given twice in one object is one of the 200's `issues`",
          ),
          ...BODY_ERRORS,
          ...STANDARD_ERRORS,
        },
      },
    },
    '/v1/campaigns': {
      post: {
        operationId: 'launchCampaign',
        tags: ['campaigns'],
        summary: 'Launch a campaign: validate, then enqueue its creation on CXone',
        security: bearer,
        parameters: [requestHeader('IdempotencyKey')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('CampaignConfig') } } },
        responses: {
          '202': withHeaders(
            json('LaunchAccepted', 'Launch accepted; follow it at /v1/launches/{launchId}'),
            {
              [LOCATION]: 'The launch: `/v1/launches/{launchId}`',
              [IDEMPOTENT_REPLAYED]: undefined,
            },
          ),
          '400': badRequest(
            'The config is invalid (`validation_failed`, with `issues`), the body is not JSON (`invalid_json`), or the Idempotency-Key is unusable (`invalid_idempotency_key`); nothing was enqueued',
          ),
          '422': errorResponse(
            'The Idempotency-Key was already used for a different config (`idempotency_key_reused`; `launchId` names that launch)',
          ),
          ...BODY_ERRORS,
          ...WRITE_ERRORS,
        },
      },
    },
    '/v1/launches/{launchId}': {
      get: {
        operationId: 'getLaunch',
        tags: ['campaigns'],
        summary: 'Status of a launch',
        security: bearer,
        parameters: [pathParam(launchParamsSchema, 'launchId')],
        responses: {
          '200': json('LaunchStatus', 'The launch'),
          '400': badRequest(
            'The launch id is not a UUID (`validation_failed`), or the path is not valid (`invalid_url`)',
          ),
          '404': errorResponse('No such launch'),
          ...STANDARD_ERRORS,
        },
      },
    },
    '/v1/campaigns/{campaignId}': {
      get: {
        operationId: 'getCampaign',
        tags: ['campaigns'],
        summary: "The orchestrator's view of a campaign: status, version, config, stats, efficiency, pacing",
        security: bearer,
        parameters: [campaignIdParam],
        responses: {
          '200': json(
            'CampaignView',
            'The campaign; `stale: true` with a `staleReason` when the cached view could not be refreshed from CXone, ' +
              'or was not while another fleet is on KEY_PREFIX (a refresh writes; `fleet_contested` refuses writes)',
          ),
          '400': badRequest(
            'The campaign id is malformed (`validation_failed`), or the path is not valid (`invalid_url`)',
          ),
          '404': errorResponse('No campaign this orchestrator launched'),
          ...STANDARD_ERRORS,
        },
      },
      patch: {
        operationId: 'patchCampaign',
        tags: ['campaigns'],
        summary: 'Change part of a running campaign (applied through the versioned adjust queue)',
        security: bearer,
        parameters: [campaignIdParam, requestHeader('IdempotencyKey')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('CampaignPatch') } } },
        responses: {
          '202': withHeaders(json('CommandAccepted', 'Change accepted'), COMMAND_ACCEPTED_HEADERS),
          '400': badRequest(
            'The patch or the campaign id is invalid (`validation_failed`), the body is not JSON (`invalid_json`), or the Idempotency-Key is unusable (`invalid_idempotency_key`)',
          ),
          '404': errorResponse('No campaign this orchestrator launched'),
          '409': commandConflict(
            `The current state forbids the change (\`invalid_state\`), or the launch is still running (\`launch_in_progress\`); ${KEY_IN_USE}`,
          ),
          '422': errorResponse(KEY_REUSED),
          ...BODY_ERRORS,
          ...UPSTREAM_ERRORS,
          ...WRITE_ERRORS,
        },
      },
    },
    '/v1/campaigns/{campaignId}/actions': {
      post: {
        operationId: 'campaignAction',
        tags: ['campaigns'],
        summary: 'Pause, resume or stop a campaign',
        security: bearer,
        parameters: [campaignIdParam, requestHeader('IdempotencyKey')],
        requestBody: { required: true, content: { 'application/json': { schema: ref('ActionRequest') } } },
        responses: {
          '202': withHeaders(json('CommandAccepted', 'Action accepted'), COMMAND_ACCEPTED_HEADERS),
          '400': badRequest(
            'Unknown action, invalid patch or malformed campaign id (`validation_failed`), the body is not JSON (`invalid_json`), or the Idempotency-Key is unusable (`invalid_idempotency_key`)',
          ),
          '404': errorResponse('No campaign this orchestrator launched'),
          '409': commandConflict(
            `The current state (or the calling window) forbids the action, or the launch is still running; \`message\` says why; ${KEY_IN_USE}`,
          ),
          '422': errorResponse(KEY_REUSED),
          ...BODY_ERRORS,
          ...UPSTREAM_ERRORS,
          ...WRITE_ERRORS,
        },
      },
    },
    '/v1/campaigns/{campaignId}/audit': {
      get: {
        operationId: 'campaignAudit',
        tags: ['audit'],
        summary: "A page of the campaign's hash-chained audit trail, oldest first",
        security: bearer,
        parameters: [
          auditIdParam,
          {
            name: 'cursor',
            in: 'query',
            required: false,
            schema: { type: 'string', pattern: AUDIT_CURSOR.source },
            description: 'The `nextCursor` of the previous page; absent (or empty) for the first page',
          },
          {
            name: 'limit',
            in: 'query',
            required: false,
            schema: { type: 'integer', minimum: 1, maximum: AUDIT_PAGE_MAX, default: AUDIT_PAGE_DEFAULT },
          },
        ],
        responses: {
          '200': json(
            'AuditPage',
            'Records, the cursor of the next page (null at the end), and the records of the range it could not return (`gaps`)',
          ),
          '400': badRequest(
            'A bad `cursor` or `limit`, a query parameter the route does not read, or a campaign id above 200 characters (`validation_failed`, naming each in `issues`), or the path is not valid (`invalid_url`)',
          ),
          ...STANDARD_ERRORS,
        },
      },
    },
    [BULL_BOARD_PATH]: {
      get: {
        operationId: 'bullBoard',
        tags: ['operations'],
        summary: 'Bull Board UI for every queue (Bearer token, or HTTP Basic with the API token as password)',
        security: [{ bearerAuth: [] }, { basicAuth: [] }],
        responses: {
          '200': { description: 'HTML UI', content: { 'text/html': { schema: { type: 'string' } } } },
          '401': withHeaders(errorResponse('Missing or wrong credentials'), {
            [WWW_AUTHENTICATE]: '`Basic`, so a browser shows its login prompt',
          }),
          ...TOO_MANY_FAILED_AUTH,
        },
      },
    },
  };
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * A route nobody described yet still appears in the document; its answer is declared as anything, which
 * the conformance test refuses (every served route must name its response schema).
 */
const undescribed = (description: string) => ({
  description,
  content: { 'application/json': { schema: {} } },
});
const WEBHOOKS_DISABLED = '`webhooks_disabled`: no WEBHOOK_URL is configured';
const badId = (what: string) =>
  badRequest(`The ${what} is malformed (\`validation_failed\`), or the path is not valid (\`invalid_url\`)`);

/**
 * Summaries and status codes of routes other areas add, for the generated operations (keyed
 * "METHOD template"); a route not listed gets 200 and a default error.
 */
interface KnownOperation {
  summary: string;
  /** Query (or header) parameters the route reads. */
  parameters?: JsonObject[];
  /** Path parameters the route checks beyond "a string", by name. */
  pathParameters?: Record<string, JsonObject>;
  responses?: JsonObject;
}

const KNOWN_OPERATIONS: Record<string, KnownOperation> = {
  'get /v1/commands/{}': {
    summary: 'Outcome of a campaign command (PATCH or action): queued, applied, conflict, failed',
    pathParameters: { commandId: pathParam(commandParams, 'commandId') },
    responses: {
      '200': json('Command', 'The command: its request, progress and outcome'),
      '400': badId('command id'),
      '404': errorResponse('Unknown or expired (kept 7 days)'),
    },
  },
  'get /v1/campaigns/{}/commands': {
    summary: "The campaign's commands still waiting or running, in the order they will be applied",
    pathParameters: { campaignId: campaignIdParam },
    responses: {
      '200': json('PendingCommands', 'The unfinished commands, in the order they will be applied'),
      '400': badId('campaign id'),
      '404': errorResponse('No campaign this orchestrator launched'),
    },
  },
  'get /v1/campaigns/{}/compliance': {
    summary: "The campaign's compliance state: window, abandonment guard, overrides",
    pathParameters: { campaignId: campaignIdParam },
    responses: {
      '200': json('ComplianceReport', 'The compliance report'),
      '400': badId('campaign id'),
      '404': errorResponse('No campaign this orchestrator launched'),
    },
  },
  'get /v1/campaigns/{}/audit/verify': {
    summary: "Verify the campaign's audit hash chain",
    pathParameters: { campaignId: auditIdParam },
    responses: {
      '200': json(
        'AuditVerification',
        '`ok`, and the first break if any; `retentionCuts` names a chain that starts at a retention cut, with its `anchor` (with `checked: 0`: every record was trimmed, and the head is the anchor)',
      ),
      '400': badId('campaign id'),
      '404': errorResponse('No audit records for this id, nor a retention cut of its chain'),
    },
  },
  'post /v1/campaigns/{}/audit/import-history': {
    summary: "Import CXone's change history into the audit trail",
    pathParameters: { campaignId: campaignIdParam },
    responses: {
      '200': json('HistoryImport', 'What was imported, up to which CXone version'),
      '400': badRequest(
        `The campaign id is malformed (\`validation_failed\`), the path is not valid (\`invalid_url\`), or ${NO_BODY_REFUSED}`,
      ),
      '404': errorResponse('The campaign is not known to CXone'),
      ...NO_BODY_ERRORS,
      ...UPSTREAM_ERRORS,
    },
  },
  'post /v1/webhooks/{}/replay': {
    summary: 'Deliver a webhook event again',
    pathParameters: { eventId: eventIdParam },
    responses: {
      '202': json('EventReplayQueued', 'The event is queued for delivery'),
      '400': badRequest(
        `Not an \`evt_…\` id (\`validation_failed\`), the path is not valid (\`invalid_url\`), or ${NO_BODY_REFUSED}`,
      ),
      '404': errorResponse('The event is not stored (unknown, or expired after 30 days)'),
      '409': errorResponse(`\`already_queued\`: still waiting for delivery; or ${WEBHOOKS_DISABLED}`),
      ...NO_BODY_ERRORS,
    },
  },
  'post /v1/webhooks/dead-letters/replay': {
    summary:
      'Queue dead-lettered webhook events for delivery again, oldest first, for at most a few seconds; call again while `remaining` is above 0',
    responses: {
      '202': json(
        'DeadLetterReplay',
        'The dead letters this call replayed, by what became of each, and how many of its snapshot are left (`remaining`)',
      ),
      '400': badRequest(`The request sent ${NO_BODY_REFUSED}`),
      '409': errorResponse(WEBHOOKS_DISABLED),
      ...NO_BODY_ERRORS,
    },
  },
  'get /v1/webhooks/dead-letters': {
    summary: 'Webhook events whose delivery gave up, newest first',
    parameters: [
      {
        name: 'limit',
        in: 'query',
        required: false,
        schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        description: 'How many dead letters to list (the newest first)',
      },
    ],
    responses: {
      '200': json('DeadLetterList', 'How many are held, and the newest of them'),
      '400': json('ValidationError', 'Bad limit'),
    },
  },
  'get /v1/webhooks/events/{}': {
    summary: 'One webhook event and its delivery attempts',
    pathParameters: { eventId: eventIdParam },
    responses: {
      '200': json('WebhookEventStatus', 'The event and its delivery state'),
      '400': badRequest('Not an `evt_…` id (`validation_failed`), or the path is not valid (`invalid_url`)'),
      '404': errorResponse('Unknown, or expired after 30 days'),
    },
  },
  'get /admin/webhooks/destination': {
    summary: 'Webhook destination status (enabled, or disabled after 410)',
    responses: { '200': json('WebhookDestination', 'Whether a destination is configured, and its state') },
  },
  'post /admin/webhooks/destination/enable': {
    summary: 'Re-enable a disabled webhook destination',
    responses: {
      '200': json('DestinationEnabled', 'The destination, enabled'),
      '400': badRequest(`The request sent ${NO_BODY_REFUSED}`),
      '409': errorResponse(WEBHOOKS_DISABLED),
      ...NO_BODY_ERRORS,
    },
  },
};

/** A minimal operation for a route served by the app but not described above. */
function genericOperation(method: string, path: string): JsonObject {
  const known = KNOWN_OPERATIONS[`${method} ${templateKey(path)}`];
  const params = [...path.matchAll(/\{([^}]+)\}/g)].map(
    (m) =>
      known?.pathParameters?.[m[1] ?? ''] ?? {
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      },
  );
  const protectedRoute = path.startsWith('/v1') || path.startsWith('/admin');
  return {
    operationId: `${method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    tags: [path.split('/')[2] ?? 'other'],
    summary: known?.summary ?? `${method.toUpperCase()} ${path}`,
    security: protectedRoute ? bearer : [],
    ...(params.length + (known?.parameters?.length ?? 0) > 0
      ? { parameters: [...params, ...(known?.parameters ?? [])] }
      : {}),
    responses: {
      ...(known?.responses ?? { '200': undescribed('Success') }),
      ...(protectedRoute ? (isFleetGuarded(method, path) ? WRITE_ERRORS : STANDARD_ERRORS) : {}),
      default: errorResponse('Error'),
    },
  };
}

const INVALID_ACTOR =
  '`X-Actor` is unusable (`invalid_actor`): not 1 to 64 letters, digits and `._@:+-`, given twice, or reserved';

/** An operation's 400 with the `invalid_actor` every route behind the token may answer added to it. */
function withInvalidActor(response: JsonObject | undefined): JsonObject {
  if (response === undefined) return errorResponse(INVALID_ACTOR);
  const content = response.content as Record<string, { schema: JsonObject }> | undefined;
  const schema = content?.['application/json']?.schema ?? {};
  const takesError = JSON.stringify(schema).includes(`"${ref('Error').$ref}"`);
  return {
    ...response,
    description: `${String(response.description)}; or ${INVALID_ACTOR}`,
    content: { 'application/json': { schema: takesError ? schema : { anyOf: [schema, ref('Error')] } } },
  };
}

/** `/v1/campaigns/{id}` and `/v1/campaigns/{campaignId}` are the same template (OpenAPI forbids both). */
const templateKey = (path: string) => path.replace(/\{[^}]+\}/g, '{}');

export function buildOpenApiDocument(opts: OpenApiOptions = {}): JsonObject {
  const paths = describedPaths();
  const byTemplate = new Map(Object.keys(paths).map((p) => [templateKey(p), p]));
  for (const route of opts.extraRoutes ?? []) {
    const method = route.method.toLowerCase();
    // Bull Board's own asset and API routes are one UI, documented once at /admin/queues.
    if (!HTTP_METHODS.has(method) || method === 'head' || route.path.startsWith(BULL_BOARD_PATH)) continue;
    // One name for the campaign id under every campaign route, whatever the route file calls it.
    const served =
      toOpenApiPath(route.path)
        .replace(/\/+$/, '')
        .replace(/^\/v1\/campaigns\/\{(?!campaignId\})[^}]+\}/, '/v1/campaigns/{campaignId}') || '/';
    const path = byTemplate.get(templateKey(served)) ?? served;
    byTemplate.set(templateKey(path), path);
    const item = (paths[path] ??= {});
    item[method] ??= genericOperation(method, path);
  }
  // Every route behind the API token reads X-Actor, and refuses one it cannot record (app.ts: the
  // actor is taken with the token); Bull Board checks its own credentials and records no actor.
  for (const [path, item] of Object.entries(paths)) {
    if (path.startsWith(BULL_BOARD_PATH)) continue;
    for (const op of Object.values(item)) {
      if (!(Array.isArray(op.security) && op.security.length > 0)) continue;
      op.parameters = [...((op.parameters as JsonObject[] | undefined) ?? []), requestHeader('XActor')];
      const responses = op.responses as Record<string, JsonObject | undefined>;
      responses['400'] = withInvalidActor(responses['400']);
    }
  }
  const schemas: Record<string, JsonObject> = {};
  for (const name of Object.keys(COMPONENTS) as ComponentName[]) schemas[name] = componentSchema(name);
  const headers = Object.fromEntries(
    Object.values(RESPONSE_HEADERS).map(({ name, ...header }) => [name, header]),
  );
  const parameters = Object.fromEntries(Object.entries(REQUEST_HEADERS));

  return {
    openapi: '3.1.0',
    info: {
      title: 'cxone-orchestrator',
      version: '0.1.0',
      description:
        'Launch, watch and steer outbound calling campaigns on NICE CXone. Everything under /v1 and ' +
        '/admin needs `Authorization: Bearer <API_TOKEN>`; /healthz, /readyz, /metrics and /docs are open. ' +
        'A method a path does not serve answers 405 `method_not_allowed` (`#/components/responses/MethodNotAllowed`), ' +
        'its `Allow` header naming the methods the path serves.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
    tags: [
      { name: 'campaigns', description: 'Validate, launch, inspect and steer campaigns' },
      { name: 'audit', description: 'The hash-chained audit trail' },
      { name: 'operations', description: 'Health, metrics, documentation, Bull Board' },
    ],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: {
      schemas,
      headers,
      parameters,
      responses: {
        MethodNotAllowed: withHeaders(
          errorResponse(
            'The path is served, but not under this method (`method_not_allowed`; `allowed` lists the methods)',
          ),
          { [ALLOW]: undefined },
        ),
      },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'The API_TOKEN' },
        basicAuth: {
          type: 'http',
          scheme: 'basic',
          description: 'Bull Board only: any user name, the API_TOKEN as password',
        },
      },
    },
  };
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/**
 * A self-contained HTML page listing every operation (no script, no CDN: Swagger UI and Redoc are
 * not available offline, and an operator's browser may not reach the internet either).
 */
export function renderDocsHtml(doc: JsonObject, jsonHref = '/docs/json'): string {
  const info = (doc.info ?? {}) as { title?: string; version?: string; description?: string };
  const paths = (doc.paths ?? {}) as Record<string, Record<string, JsonObject>>;
  const rows: string[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      const responses = Object.keys((op.responses ?? {}) as JsonObject).join(' ');
      const secured = Array.isArray(op.security) && op.security.length > 0 ? 'token' : 'open';
      rows.push(
        `<tr><td class="m ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</td>` +
          `<td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(String(op.summary ?? ''))}</td>` +
          `<td>${secured}</td><td>${escapeHtml(responses)}</td></tr>`,
      );
    }
  }
  const title = `${info.title ?? 'API'} ${info.version ?? ''}`.trim();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}.m{font-weight:700}
.get{color:#1565c0}.post{color:#2e7d32}.patch{color:#ef6c00}.delete{color:#c62828}</style></head>
<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(info.description ?? '')}</p>
<p>Machine-readable OpenAPI ${escapeHtml(String(doc.openapi ?? ''))} document: <a href="${escapeHtml(jsonHref)}">${escapeHtml(jsonHref)}</a></p>
<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Auth</th><th>Responses</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></body></html>
`;
}
