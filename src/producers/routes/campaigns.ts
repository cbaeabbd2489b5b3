import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createCampaignStore, isResourceBehind, type CampaignRecord } from '../../shared/campaign-store.js';
import type { AppContext } from '../../shared/context.js';
import { API_LIMITER_MAX_WAIT_MS } from '../../shared/cxone/api.js';
import { callerActor } from '../auth.js';
import { ApiError, parseOrThrow, ValidationFailedError } from '../errors.js';
import { checkCampaignConfig } from '../../shared/campaign-check.js'; // (H7: the deployment's policy too)
import { parseIdempotencyKey, submitLaunch } from '../launch-submit.js';
import { campaignNotKnown } from '../launch-in-progress.js';
import { ALLOW, IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, LOCATION } from '../headers.js';
import { ANSWERS_DUPLICATE_KEYS, duplicateKeyIssues, readsJsonBody } from '../json-body.js';
import { decodedPath } from '../../shared/http/url-path.js';
import { answeredAtDeadline, unlessAbandoned } from '../request-guard.js';
import { planActivation } from '../../workers/launch-plan.js';
import { noteMissingOnCxone } from '../../shared/campaign-missing.js';
import { announceOutsideChange } from '../../shared/polling/outside-announce.js';
import { ifCampaignUnlocked, lockOwner } from '../../shared/lifecycle/lock.js';
import { foundAgainOnCxone } from '../found-again.js';
import { importIfChangedOutside } from '../../shared/audit/history-sync.js';
import {
  CxoneAuthError,
  CxoneForbiddenError,
  CxoneMalformedResponseError,
  CxoneNotFoundError,
  CxoneRateLimitError,
  CxoneUnavailableError,
  FleetBudgetBusyError,
  TokenWaitExceededError,
} from '../../shared/errors.js';
import { LimiterUnavailableError, LimiterWaitExceededError } from '../../shared/limiter/types.js';
import { pacingRecordSchema } from '../../shared/pacing/record-schema.js';
import { lastCommandSchema, type CampaignViewBody } from '../../shared/responses/campaign-view.js';

/**
 * Why the view could not be refreshed from CXone, for the operator reading a cached view: the
 * remedies differ (fix the credentials, wait for CXone, wait for budget). Never the error's own text,
 * which may carry URLs or CXone's bodies.
 */
export function staleReasonOf(err: unknown): string {
  if (err instanceof CxoneAuthError) return "CXone refused the orchestrator's credentials";
  if (err instanceof CxoneForbiddenError)
    return 'CXone refused access to the campaign (403: missing scope or role)';
  // Before the 429: the fleet's own budget being busy is a rate limit too, but not CXone's.
  if (err instanceof FleetBudgetBusyError) return "the fleet's CXone rate budget had no room in time";
  if (err instanceof TokenWaitExceededError) return 'CXone did not issue an access token in time';
  if (err instanceof LimiterWaitExceededError && err.reason === 'budget')
    return "the fleet's CXone rate budget had no room in time";
  if (err instanceof CxoneRateLimitError || err instanceof LimiterWaitExceededError)
    return 'CXone answered 429 (rate limited)';
  if (err instanceof LimiterUnavailableError) return 'the fleet limiter could not reach Redis';
  if (err instanceof CxoneUnavailableError) {
    return err.status !== undefined
      ? `CXone answered ${err.status}`
      : 'CXone did not answer (timeout or no connection)';
  }
  if (err instanceof CxoneMalformedResponseError)
    return 'CXone answered with something that is not a campaign';
  return 'an unexpected error (see the API log)';
}

/** What the launch and /validate read, for a request that sends no body (json-body.ts readsJsonBody). */
export const CAMPAIGN_CONFIG_BODY = 'the campaign config, as in examples/campaign.json';

/** How old the cached CXone view may be before GET /v1/campaigns/:id reads CXone again. */
export const CAMPAIGN_VIEW_MAX_AGE_MS = 10_000;

export const campaignIdParamsSchema = z.object({
  campaignId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be a campaign id as returned by a launch'),
});

const VALIDATE_PATH = '/v1/campaigns/validate';

/**
 * Of the methods routed on a path (allowed-methods.ts), those it serves: on `/v1/campaigns/validate`
 * only POST, though `:campaignId`'s GET and PATCH match it too (they answer it 405, below).
 */
export function campaignsServedMethods(path: string, routed: readonly string[]): string[] {
  // As the router reads it (`valid%61te` is `validate`), so Allow agrees with the 405 a GET gets there.
  const read = decodedPath(path);
  const bare = read.length > VALIDATE_PATH.length && read.endsWith('/') ? read.slice(0, -1) : read;
  return bare === VALIDATE_PATH ? routed.filter((m) => m === 'POST') : [...routed];
}

/**
 * `/v1/campaigns/validate` is served under POST alone, but the router hands its other methods to
 * `/v1/campaigns/:campaignId`, where "validate" read as a campaign not known (404): a GET sent where a
 * POST was meant is told so, 405 with `Allow: POST`. (No CXone campaign id is a word.)
 */
export function refuseValidatePath(campaignId: string, method: string): void {
  if (campaignId !== 'validate') return;
  throw new ApiError(
    405,
    'method_not_allowed',
    `${method} is not served on /v1/campaigns/validate; allowed: POST (with the campaign config as its body)`,
    { allowed: ['POST'] },
    { [ALLOW]: 'POST' },
  );
}

/**
 * refuseValidatePath as a route's `onRequest` hook (after the token is checked, before the body is
 * read): a PATCH to `/v1/campaigns/validate` is the wrong method whatever it sends, so one with no
 * body, or one not JSON, gets the 405 too, not a 400 asking for the fields to change or a 415.
 */
export async function refuseValidatePathEarly(request: FastifyRequest): Promise<void> {
  const { campaignId } = request.params as { campaignId?: unknown };
  if (typeof campaignId === 'string') refuseValidatePath(campaignId, request.method);
}

/**
 * When the cached CXone data was last known to be current: the last full read, or a later stats
 * poll that saw the stored resource's version (nothing on CXone changed in between). Never, once a
 * poll has seen a newer version than the stored resource (its re-read failed): the view is then
 * known to be out of date, however recent the poll.
 */
export function lastConfirmedAt(record: CampaignRecord): number {
  if (isResourceBehind(record)) return 0;
  const synced = record.syncedAt ? Date.parse(record.syncedAt) : 0;
  const polled =
    record.lastStats && record.lastStats.version === record.cxone.version
      ? Date.parse(record.lastStats.at)
      : 0;
  return Math.max(synced || 0, polled || 0);
}

/**
 * When a scheduled campaign goes active, as its activation job plans it from the config the record
 * holds (its start, moved to the next calling-window open). Undefined when no window lies ahead, when
 * CXone no longer knows the campaign, and once the moment is due: a scheduled campaign past its start
 * is being activated, held for settings that break a rule, or given up on (its launch says which),
 * and an "activates at" that moves with every read would say none of that.
 */
function plannedActivation(record: CampaignRecord, nowMs: number): string | undefined {
  if (record.missingOnCxone || record.activationFailed) return undefined;
  try {
    const { activateAtMs, delayMs } = planActivation(record.config, nowMs);
    return delayMs > 0 ? new Date(activateAtMs).toISOString() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The API's view of a campaign: everything the orchestrator knows, without the raw CXone resource.
 * Parts nobody has written yet are left out; `efficiency` is null while the campaign has placed no call.
 * A scheduled campaign says when it activates: its config's start may be long past (a start outside
 * the calling windows waits for the next open), and an operator may hold only the campaign id.
 * Typed by the documented schema (src/shared/responses/campaign-view.ts); the fields other areas own
 * (pacing, the last command) are stored untyped, so they are parsed against their schemas here.
 */
export function campaignView(
  record: CampaignRecord,
  stale: boolean | { reason: string },
  nowMs: number,
): CampaignViewBody {
  const activateAt = record.status === 'scheduled' ? plannedActivation(record, nowMs) : undefined;
  const pacing = ownedField(pacingRecordSchema, record.pacing);
  const lastCommand = ownedField(lastCommandSchema, record.lastCommand);
  return {
    campaignId: record.campaignId,
    ...(record.launchId !== undefined ? { launchId: record.launchId } : {}),
    status: record.status,
    ...(activateAt !== undefined ? { activateAt } : {}),
    version: record.version,
    config: record.config,
    ...(record.lastStats ? { lastStats: record.lastStats, efficiency: record.efficiency ?? null } : {}),
    ...(pacing !== undefined ? { pacing } : {}),
    ...(record.polling !== undefined ? { polling: record.polling } : {}),
    ...(lastCommand !== undefined ? { lastCommand } : {}),
    ...(record.missingOnCxone !== undefined ? { missingOnCxone: record.missingOnCxone } : {}),
    ...(record.status === 'scheduled' && record.activationFailed !== undefined
      ? { activationFailed: record.activationFailed }
      : {}),
    ...(record.syncedAt !== undefined ? { syncedAt: record.syncedAt } : {}),
    updatedAt: record.updatedAt,
    ...(stale ? { stale: true as const } : {}),
    ...(typeof stale === 'object' ? { staleReason: stale.reason } : {}),
  };
}

/**
 * A record field another area owns, typed by its schema. Every object there is closed, so a field a
 * record of an earlier release still carries is left out rather than answered undocumented; a value
 * that is not the shape at all (nothing writes one) is left out whole, as a field nobody wrote is.
 */
function ownedField<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> | undefined {
  if (raw === undefined) return undefined;
  const parsed = schema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** Why a stale view was not refreshed while a command is changing the campaign (see refreshView). */
export const COMMAND_AT_WORK_STALE_REASON =
  'a command is changing the campaign on CXone: the view is refreshed once it has recorded its result';

/** Who an API read refreshing a view names when it takes the campaign's lock (lifecycle/lock.ts). */
const READ_OWNER = lockOwner('api-read');

/** Why a stale view was not refreshed while another fleet is on KEY_PREFIX (see registerCampaignRoutes). */
export const FLEET_CONTESTED_STALE_REASON =
  'another fleet is on KEY_PREFIX (fleet claim contested): the view is not refreshed from CXone until one fleet is stopped';

export interface CampaignRouteOptions {
  /** The fleet claim's message while another fleet is on KEY_PREFIX (src/producers/fleet-guard.ts). */
  fleetContested?: () => string | undefined;
}

export async function registerCampaignRoutes(
  app: FastifyInstance,
  ctx: AppContext,
  opts: CampaignRouteOptions = {},
): Promise<void> {
  const store = createCampaignStore(ctx);
  /** The CXone refresh under way for a campaign's view, by campaign id. */
  const refreshes = new Map<string, Promise<CampaignViewBody>>();

  // A key given twice is one issue among the config's others: every problem in one answer, and
  // /validate's answer is its 200 `{valid: false, issues}` for that one too.
  const checkBody = (request: FastifyRequest) => {
    const checked = checkCampaignConfig(request.body, ctx.config);
    const repeated = duplicateKeyIssues(request);
    return repeated.length === 0 ? checked : { config: undefined, issues: [...repeated, ...checked.issues] };
  };

  app.post(
    '/v1/campaigns/validate',
    {
      ...readsJsonBody(CAMPAIGN_CONFIG_BODY, (issues) => ({ valid: false, issues })),
      ...ANSWERS_DUPLICATE_KEYS,
    },
    async (request) => {
      const { issues } = checkBody(request);
      return { valid: issues.length === 0, issues };
    },
  );

  app.post(
    '/v1/campaigns',
    { ...readsJsonBody(CAMPAIGN_CONFIG_BODY), ...ANSWERS_DUPLICATE_KEYS },
    async (request, reply) => {
      const idempotencyKey = parseIdempotencyKey(request.headers[IDEMPOTENCY_KEY]);
      const { config, issues } = checkBody(request);
      if (!config) throw new ValidationFailedError(issues);
      const result = await unlessAbandoned(
        submitLaunch(ctx, {
          config,
          actor: callerActor(request),
          idempotencyKey,
          signal: request.deadline,
          onLaunchId: (launchId) => void (request.deadlineDetails = { launchId }),
        }),
      );
      if (!result) return reply;
      if (answeredAtDeadline(reply, { launchId: result.launchId, status: result.status })) return reply;
      if (result.replayed) void reply.header(IDEMPOTENT_REPLAYED, 'true');
      return reply
        .code(202)
        .header(LOCATION, `/v1/launches/${result.launchId}`)
        .send({ launchId: result.launchId, status: result.status });
    },
  );

  app.get('/v1/campaigns/:campaignId', async (request) => {
    const { campaignId } = parseOrThrow(campaignIdParamsSchema, request.params);
    refuseValidatePath(campaignId, request.method);
    const record = await store.get(campaignId);
    if (!record) throw await campaignNotKnown(ctx, campaignId);
    if (ctx.clock.now() - lastConfirmedAt(record) <= CAMPAIGN_VIEW_MAX_AGE_MS) {
      return campaignView(record, false, ctx.clock.now());
    }
    // A refresh writes (the record, the trail's import of outside changes, a poll scheduler for a
    // campaign found again): none of that while another fleet is on the prefix, whose jobs could run
    // it on the wrong CXone. The cached view, saying why it may be stale.
    if (opts.fleetContested?.() !== undefined) {
      return campaignView(record, { reason: FLEET_CONTESTED_STALE_REASON }, ctx.clock.now());
    }
    // Requests for one stale campaign at once (a dashboard, several `cxo watch`) share one CXone read:
    // each would spend the endpoint's fleet-wide budget, which the commands' fresh reads need too.
    let refresh = refreshes.get(campaignId);
    if (!refresh) {
      refresh = refreshView(campaignId, record, request).finally(() => refreshes.delete(campaignId));
      refreshes.set(campaignId, refresh);
    }
    return refresh;
  });

  /** The view of a campaign whose cached copy is stale, read again from CXone (or the cache, saying why). */
  async function refreshView(
    campaignId: string,
    record: CampaignRecord,
    request: FastifyRequest,
  ): Promise<CampaignViewBody> {
    try {
      const resource = await ctx.cxone.getCampaign(campaignId, {
        priority: 'control',
        campaignId,
        maxWaitMs: API_LIMITER_MAX_WAIT_MS,
      });
      // Under the campaign's lock: a command still at work holds it, and a newer version may be its
      // own write, not yet synced — neither told as an outside change nor synced here, but left to
      // the command (lifecycle/lock.ts ifCampaignUnlocked); the cached view says so.
      const synced = await ifCampaignUnlocked(
        { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, owner: READ_OWNER },
        campaignId,
        async () => {
          // Newer than the record as it is now (a command of ours may have synced its own write while
          // this read waited): changed outside the orchestrator, told before the record takes it, as
          // the poll tells it (the same event ids: one event whoever finds it first). Synced untold,
          // it left the poll finding the record current, with nothing to tell: no event for the change.
          const known = (await store.get(campaignId))?.cxone;
          if (known && resource.version > known.version) {
            await announceOutsideChange(ctx, campaignId, known, resource);
          }
          // Not the config read above: a command may have stored new orchestrator-only settings
          // while the CXone read was in flight (up to the limiter's wait), and that older copy would
          // write them away. Only onto the record read above: a retention trim may have removed it.
          await store.syncFromCxone(resource, {}, { onlyIfKnown: true });
        },
      );
      if (synced === null) {
        return campaignView(
          (await store.get(campaignId)) ?? record,
          { reason: COMMAND_AT_WORK_STALE_REASON },
          ctx.clock.now(),
        );
      }
      await foundAgainOnCxone(ctx, record, resource.status);
      // Newer than the record: changed outside the orchestrator; the trail gets CXone's account.
      await importIfChangedOutside(ctx, record, resource.version);
      return campaignView((await store.get(campaignId)) ?? record, false, ctx.clock.now());
    } catch (err) {
      if (err instanceof CxoneNotFoundError) {
        // Not a slow CXone but a gone campaign: the view says so, as every later one will.
        await noteMissingOnCxone(ctx, campaignId, 'api', callerActor(request));
        return campaignView((await store.get(campaignId)) ?? record, true, ctx.clock.now());
      }
      // The cached view is still useful when CXone is slow or rate-limited; say it may be stale.
      // A rate limit (the fleet's busy budget above all) is load, not a fault: no stack.
      request.log.warn(
        { err: err instanceof CxoneRateLimitError ? err.toJSON() : err, campaignId },
        'could not refresh the campaign from CXone; serving the cached view',
      );
      return campaignView(record, { reason: staleReasonOf(err) }, ctx.clock.now());
    }
  }
}
