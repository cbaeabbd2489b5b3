import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CampaignStore } from '../../shared/campaign-store.js';
import { complianceRefusal } from '../../shared/compliance/command-guard.js';
import { recordComplianceAction } from '../../shared/compliance/record.js';
import { getWindowState } from '../../shared/compliance/state-store.js';
import type { AppContext } from '../../shared/context.js';
import { API_LIMITER_MAX_WAIT_MS } from '../../shared/cxone/api.js';
import type { CampaignResource } from '../../shared/cxone/wire.js';
import { createLaunchStore } from '../../shared/launch-store.js';
import { CxoneNotFoundError, NotFoundError } from '../../shared/errors.js';
import { getCommand, enqueueCommand, newCommandId, NOT_QUEUED } from '../../shared/lifecycle/enqueue.js';
import type { CommandRecord } from '../../shared/lifecycle/commands.js';
import { createCommandOrder } from '../../shared/lifecycle/order.js';
import {
  applyPatch,
  configFromResource,
  droppedStatesIssue,
  isPlainObject,
  localPart,
  problemsOfMalformedPatch,
  validateChange,
} from '../../shared/lifecycle/config-view.js';
import {
  campaignPatchSchema,
  captureBase,
  explainNotPatchable,
  flattenPatch,
  type CampaignPatch,
} from '../../shared/lifecycle/patch.js';
import {
  CAMPAIGN_ACTIONS,
  isFinal,
  acceptsAction,
  type CampaignAction,
} from '../../shared/lifecycle/state-machine.js';
import { lifecycleCommands } from '../../shared/metrics.js';
import { callerActor } from '../auth.js';
import { answeredAtDeadline, apiDeadlineMs, unlessAbandoned } from '../request-guard.js';
import { ApiError, parseOrThrow, ValidationFailedError } from '../errors.js';
import { toValidationIssues, type ValidationIssue } from '../../shared/campaign-config.js';
import { noteMissingOnCxone } from '../../shared/campaign-missing.js';
import { foundAgainOnCxone } from '../found-again.js';
import { importIfChangedOutside } from '../../shared/audit/history-sync.js';
import { campaignIdParamsSchema, refuseValidatePathEarly } from './campaigns.js';
import { campaignNotKnown, launchInProgress } from '../launch-in-progress.js';
import { IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, LOCATION, RETRY_AFTER } from '../headers.js';
import {
  claimIsDead,
  commandFingerprint,
  createCommandKeys,
  type CommandKeyClaim,
  type FoundClaim,
} from '../command-idempotency.js';
import { parseIdempotencyKey } from '../launch-submit.js';
import { readsJsonBody } from '../json-body.js';
import type { CommandRecordBody, PendingCommandsBody } from '../../shared/responses/commands.js';

/**
 * Operator commands on a running campaign. Each is checked against CXone's current state (a fresh
 * read: the orchestrator's record is never trusted over CXone) and against compliance BEFORE anything
 * is enqueued, so a refused command leaves no trace on the queue. Accepted commands are carried out by
 * the adjust worker; their outcome is read back at GET /v1/commands/:commandId.
 */
export const commandParams = z.object({ commandId: z.string().min(1).max(200) });

export const actionBodySchema = z
  .object({
    action: z.enum(CAMPAIGN_ACTIONS),
    // e.g. widen the window, then resume
    patch: campaignPatchSchema
      .optional()
      .describe(
        'Settings to change in the same command: before a resume; with a pause or a stop, in the one CXone write that changes the status',
      ),
  })
  .strict();

/** What PATCH and the actions read, for a request that sends no body (json-body.ts readsJsonBody). */
const PATCH_BODY = 'the fields to change, e.g. {"dialerStrategy": {"callRate": 0.5}}';
const ACTION_BODY = `the action, e.g. {"action": "pause"} (${CAMPAIGN_ACTIONS.join(', ')})`;

/** The patch schema's refusal of an object that changes nothing (`{}`, `{dialerStrategy: {}}`). */
const CHANGES_NOTHING = /^must change at least one (dialer |pacing )?field$/;

/**
 * The schema's parse of a command's body, or its issues — telling a field that exists but may not be
 * patched from one that does not exist. An object whose only fields are refused (`{"targetListId": …}`)
 * is empty to the schema's "changes nothing" check, which runs after them; that issue beside the
 * refusal would tell a client who did name a field that it named none, so it is dropped where another
 * issue names a field inside it.
 */
function parsePatchRequest<S extends z.ZodType>(
  schema: S,
  body: unknown,
  prefix: string,
): { data: z.output<S>; issues?: undefined } | { data?: undefined; issues: ValidationIssue[] } {
  const parsed = schema.safeParse(body);
  if (parsed.success) return { data: parsed.data };
  const issues = explainNotPatchable(toValidationIssues(parsed.error, body), prefix);
  const inside = (outer: string, path: string) =>
    path !== outer && (outer === '(body)' || path.startsWith(`${outer}.`));
  return {
    issues: issues.filter(
      (issue) =>
        !CHANGES_NOTHING.test(issue.message) ||
        !issues.some((other) => !CHANGES_NOTHING.test(other.message) && inside(issue.path, other.path)),
    ),
  };
}

/**
 * The 400 for a command whose body did not parse, naming every problem of its patch at once: the
 * shape errors, and (config-view.ts problemsOfMalformedPatch) the dropped-states refusal and the
 * problems of what is usable of the patch merged onto the campaign. The base is the orchestrator's
 * record, the last synced view, not a fresh read: a request that cannot be carried out spends none of
 * CXone's budget (the authoritative check on a fresh read runs once the patch parses). Answered before
 * anything about the campaign is refused — unknown (404), still launching or final (409) — as the body
 * is wrong whatever they are; for a campaign without a record, the shape errors alone.
 */
async function refuseMalformed(
  ctx: AppContext,
  campaignId: string,
  sent: unknown,
  issues: ValidationIssue[],
  prefix: string,
): Promise<never> {
  let more: ValidationIssue[] = [];
  try {
    const record = await new CampaignStore(ctx).get(campaignId);
    if (record) {
      const declared = record.config.recipientStates ?? [];
      more = problemsOfMalformedPatch(record.config, declared, sent, issues, prefix);
    }
  } catch (err) {
    // The shape errors are a complete answer to the body; the record only adds to them.
    ctx.logger.warn(
      { err, campaignId },
      'campaign record unreadable: a malformed patch answered with its shape errors only',
    );
  }
  throw new ValidationFailedError([...issues, ...more]);
}

/** 409 with a stable machine-readable code. */
class CommandRefusedError extends ApiError {
  constructor(
    code: 'invalid_state' | 'compliance_refused',
    message: string,
    details: Record<string, unknown>,
  ) {
    super(409, code, message, details);
  }
}

async function freshRead(ctx: AppContext, campaignId: string, actor: string): Promise<CampaignResource> {
  try {
    // Bounded: under a long 429 penalty the client gets 503 + Retry-After now, and nothing is queued,
    // rather than a command carried out minutes later for a client that has gone.
    return await ctx.cxone.getCampaign(campaignId, {
      priority: 'control',
      campaignId,
      maxWaitMs: API_LIMITER_MAX_WAIT_MS,
    });
  } catch (err) {
    if (err instanceof CxoneNotFoundError) {
      await noteMissingOnCxone(ctx, campaignId, 'api', actor);
      throw new NotFoundError(`campaign ${campaignId} does not exist on CXone`);
    }
    throw err;
  }
}

interface Prepared {
  base: Record<string, unknown>;
  baseVersion: number;
  /** The campaign's commands queued before the base was read (see CommandRequest.after). */
  after: string[];
}

/**
 * The checks every command passes before it is queued: the state allows it, the merged config is
 * valid (compliance rules included), compliance does not veto it now. Returns the base the worker will
 * detect conflicts against.
 */
async function prepare(
  ctx: AppContext,
  campaignId: string,
  action: CampaignAction | undefined,
  patch: CampaignPatch | undefined,
  reason: string,
  actor: string,
): Promise<Prepared> {
  // Only campaigns this orchestrator launched are steered (GET answers 404 for the others too); and
  // not while their launch is still writing the record: its activation would overwrite the
  // orchestrator-only fields (description, pacing, compliance) a command had just set.
  const launches = createLaunchStore(ctx);
  // Before its record exists (the launch's last step writes it), a campaign CXone has created is
  // known by its launch's marker: still being launched, not unknown. The marker is read first: the
  // launch writes the record before it drops the marker, so one of the two is always seen.
  const marker = await launches.launchOfCampaign(campaignId);
  const record = await new CampaignStore(ctx).get(campaignId);
  const launchId = record ? record.launchId : marker;
  if (launchId) {
    const launch = await launchInProgress(ctx, launchId);
    if (launch) {
      throw new ApiError(
        409,
        'launch_in_progress',
        `campaign ${campaignId} is still being launched (launch ${launchId} is ${launch.status}); retry once GET /v1/launches/${launchId} shows it finished`,
        { launchId },
      );
    }
  }
  if (!record) throw new NotFoundError(`campaign ${campaignId} is not known to this orchestrator`);
  // Read before the campaign: a command queued ahead that writes after this read is then known to be
  // the orchestrator's own, not someone else's change to what the base says.
  const after = await createCommandOrder(ctx).pending(campaignId);
  const resource = await freshRead(ctx, campaignId, actor);
  // A campaign noted missing that CXone answers for again: known again, and polled if it dials.
  await foundAgainOnCxone(ctx, record, resource.status);
  // Changed outside the orchestrator since the record's version, whether or not the command goes on:
  // the trail gets CXone's account of it.
  await importIfChangedOutside(ctx, record, resource.version);
  const kind = action ?? 'patch';
  const refuse = (code: 'invalid_state' | 'compliance_refused', message: string): never => {
    lifecycleCommands.inc({ kind, outcome: 'rejected' });
    throw new CommandRefusedError(code, message, { status: resource.status, version: resource.version });
  };

  if (action) {
    const accepted = acceptsAction(action, resource.status);
    if (!accepted.ok) refuse('invalid_state', accepted.reason);
  } else if (isFinal(resource.status)) {
    refuse(
      'invalid_state',
      `campaign is ${resource.status}; a ${resource.status} campaign cannot be changed`,
    );
  }

  // CXone's settings completed with the orchestrator-only fields of our record (pacing, description,
  // the recipient states: CXone never holds them).
  const local = localPart(record.config);
  // The recipients the campaign calls bind it for its life: checked against, and never dropped by a PATCH.
  const declaredStates = record.config.recipientStates ?? [];
  const current = configFromResource(resource, local);
  let config = current;
  if (patch) {
    // One answer names the dropped states and every problem of the config the patch leaves.
    const dropped = droppedStatesIssue(declaredStates, patch.recipientStates ?? declaredStates);
    // A rate cut goes through on a campaign whose settings CXone's console left breaking a rule (the
    // cut brings no problem of its own); a resume is still refused for them below.
    const checked = validateChange(current, applyPatch(current, patch), flattenPatch(patch));
    const issues = [...(dropped ? [dropped] : []), ...(checked.ok ? [] : checked.issues)];
    if (dropped || !checked.ok) throw new ValidationFailedError(issues);
    config = checked.config;
  }

  // Only a resume can be refused for a close the window paused it ahead of: read only for one.
  const closingAt = action === 'resume' ? (await getWindowState(ctx, campaignId)).closingAt : undefined;
  const refusal = complianceRefusal({
    action,
    reason,
    config,
    atMs: ctx.clock.now(),
    policy: ctx.config,
    closingAt,
  });
  if (refusal) {
    // Provable like every other compliance decision: the campaign's compliance log, the audit trail
    // and cxo_compliance_actions_total{kind="refused_resume"}.
    await recordComplianceAction(ctx, {
      campaignId,
      kind: 'refused_resume',
      details: { reason: refusal, requestedBy: actor, version: resource.version },
      cxoneVersion: resource.version,
      actor,
    });
    refuse('compliance_refused', refusal);
  }

  const flat = patch ? flattenPatch(patch) : {};
  return {
    base: { ...captureBase(flat, resource, local), status: resource.status },
    baseVersion: resource.version,
    after,
  };
}

/** The request's deadline, and its 503 naming the command once its id exists. */
const deadlineOptions = (request: FastifyRequest) => ({
  signal: request.deadline,
  onCommandId: (commandId: string) => void (request.deadlineDetails = { commandId }),
});

function accepted(reply: FastifyReply, campaignId: string, commandId: string) {
  if (answeredAtDeadline(reply, { campaignId, commandId })) return reply;
  return reply
    .code(202)
    .header(LOCATION, `/v1/commands/${encodeURIComponent(commandId)}`)
    .send({ commandId, campaignId, status: 'queued' });
}

/** The answer to a retry with a key an earlier command holds: that command, as it stands now. */
function replayed(reply: FastifyReply, command: CommandRecord) {
  const { commandId, campaignId } = command;
  if (answeredAtDeadline(reply, { campaignId, commandId, replayed: true })) return reply;
  return reply
    .code(202)
    .header(LOCATION, `/v1/commands/${encodeURIComponent(commandId)}`)
    .header(IDEMPOTENT_REPLAYED, 'true')
    .send({ commandId, campaignId, status: command.status });
}

/**
 * What a key already claimed stands for, to a request that carries it: its command (a replay), or a
 * claim dead without one that the request may take over; refused when the key was used for another
 * command (422) or its first request is still at work (409, retry in a moment).
 */
async function earlierCommand(
  ctx: AppContext,
  found: FoundClaim,
  fingerprint: string,
): Promise<{ command: CommandRecord } | { deadRaw: string }> {
  const { claim } = found;
  // A value no request of ours wrote (set by hand) holds no command: it is overwritten.
  if (!claim) return { deadRaw: found.raw };
  const command = await getCommand(ctx, claim.commandId);
  // The key never got its command, and its request is long gone; or its command was never queued and
  // the key outlived it (freeing it failed): free for whatever comes with it.
  if (
    (!command && claimIsDead(claim, ctx.clock.now(), apiDeadlineMs(ctx.config.cxone.timeoutMs))) ||
    (command?.status === 'failed' && command.error?.kind === NOT_QUEUED)
  ) {
    return { deadRaw: found.raw };
  }
  if (claim.fingerprint !== fingerprint) {
    throw new ApiError(
      422,
      'idempotency_key_reused',
      `this Idempotency-Key was already used for a different command (${claim.commandId} on campaign ${claim.campaignId}); use a new key for a new command`,
      { commandId: claim.commandId, campaignId: claim.campaignId },
    );
  }
  if (command) return { command };
  throw keyInUseError(claim.commandId);
}

/** The 409 for a key whose first request is still between its claim and its command. */
function keyInUseError(commandId: string | undefined): ApiError {
  return new ApiError(
    409,
    'idempotency_key_in_use',
    `a request with this Idempotency-Key is still being carried out${commandId ? ` (command ${commandId})` : ''}; retry in a few seconds`,
    { ...(commandId ? { commandId } : {}), retryAfterSeconds: KEY_IN_USE_RETRY_S },
    { [RETRY_AFTER]: String(KEY_IN_USE_RETRY_S) },
  );
}

const KEY_IN_USE_RETRY_S = 2;

export async function registerCampaignCommandRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  /** Checks an operator's command, queues it, and answers 202 (or nothing, past the deadline). */
  const queueCommand = async (
    request: FastifyRequest,
    reply: FastifyReply,
    campaignId: string,
    command: { action?: CampaignAction | undefined; patch?: CampaignPatch | undefined },
  ) => {
    const actor = callerActor(request);
    const key = parseIdempotencyKey(request.headers[IDEMPOTENCY_KEY]);
    const { action, patch } = command;
    const fingerprint = commandFingerprint(campaignId, command);
    // A retry whose command exists is answered before the campaign is judged again: a stop that has
    // run would be refused now, and the client would read that as its stop failing.
    if (key) {
      const found = await commandKeys.find(key);
      const earlier = found && (await earlierCommand(ctx, found, fingerprint));
      if (earlier && 'command' in earlier) return replayed(reply, earlier.command);
    }
    const { base, baseVersion, after } = await prepare(ctx, campaignId, action, patch, 'operator', actor);
    // Claimed once the command is known to be accepted (a refused one holds no key), and before it is
    // written, so of two requests with one key only one queues a command.
    const commandId = newCommandId();
    if (key) {
      const claim = { commandId, campaignId, fingerprint, claimedAtMs: ctx.clock.now() };
      const earlier = await takeKey(key, claim);
      if (earlier) return replayed(reply, earlier);
    }
    let queued: { commandId: string } | null;
    try {
      queued = await unlessAbandoned(
        enqueueCommand(
          ctx,
          {
            campaignId,
            actor,
            reason: 'operator',
            ...(action ? { action } : {}),
            ...(patch ? { patch } : {}),
            base,
            baseVersion,
            after,
          },
          { ...deadlineOptions(request), commandId },
        ),
      );
    } catch (err) {
      if (key) await releaseKey(key, commandId);
      throw err;
    }
    if (!queued) {
      // Not queued (the deadline passed first): the client was told so, and its retry may queue it.
      if (key) await releaseKey(key, commandId);
      return reply;
    }
    return accepted(reply, campaignId, queued.commandId);
  };

  const commandKeys = createCommandKeys(ctx);

  /** Frees a key whose command was not queued; a key left claimed is taken over once dead. */
  const releaseKey = (key: string, commandId: string) =>
    commandKeys.release(key, commandId).catch((err: unknown) => {
      ctx.logger.warn(
        { err, commandId },
        'Idempotency-Key of a command not queued could not be freed: a retry with it waits until the claim is dead',
      );
    });

  /**
   * Claims the key for `claim`'s command: undefined once it is this request's, else the earlier
   * command to answer with (or the 422 or 409 earlierCommand throws). A dead claim is taken over;
   * should another request take it over (or free it) first, the key is judged again as it now stands.
   */
  const takeKey = async (key: string, claim: CommandKeyClaim): Promise<CommandRecord | undefined> => {
    for (let tries = 1; ; tries++) {
      const lost = await commandKeys.claim(key, claim);
      if (!lost) return undefined;
      const earlier = await earlierCommand(ctx, lost, claim.fingerprint);
      if ('command' in earlier) return earlier.command;
      if (await commandKeys.replace(key, earlier.deadRaw, claim)) return undefined;
      if (tries >= 3) throw keyInUseError(lost.claim?.commandId);
    }
  };

  // The id is checked as GET /v1/campaigns/:campaignId checks it, so a malformed one is the same 400
  // naming the same parameter on every method, not a 404 after a look-up here.
  const patchRoute = { ...readsJsonBody(PATCH_BODY), onRequest: refuseValidatePathEarly };
  app.patch('/v1/campaigns/:campaignId', patchRoute, async (request, reply) => {
    const { campaignId } = parseOrThrow(campaignIdParamsSchema, request.params);
    const parsed = parsePatchRequest(campaignPatchSchema, request.body, '');
    if (parsed.issues) return refuseMalformed(ctx, campaignId, request.body, parsed.issues, '');
    return queueCommand(request, reply, campaignId, { patch: parsed.data });
  });

  app.post('/v1/campaigns/:campaignId/actions', readsJsonBody(ACTION_BODY), async (request, reply) => {
    const { campaignId } = parseOrThrow(campaignIdParamsSchema, request.params);
    const parsed = parsePatchRequest(actionBodySchema, request.body, 'patch.');
    if (parsed.issues) {
      const sent = isPlainObject(request.body) ? request.body['patch'] : undefined;
      return refuseMalformed(ctx, campaignId, sent, parsed.issues, 'patch.');
    }
    const body = parsed.data;
    return queueCommand(request, reply, campaignId, { action: body.action, patch: body.patch });
  });

  /** The campaign's unfinished commands in the order they will run: why is my command still queued? */
  app.get('/v1/campaigns/:campaignId/commands', async (request): Promise<PendingCommandsBody> => {
    const { campaignId: id } = parseOrThrow(campaignIdParamsSchema, request.params);
    const ids = await createCommandOrder(ctx).pending(id);
    const pending = (await Promise.all(ids.map((commandId) => getCommand(ctx, commandId)))).filter(
      (c) => c !== null,
    );
    // As the command routes: a campaign this orchestrator does not know is a 404, not an empty list
    // (one still being launched says so, as the campaign view does).
    if (pending.length === 0 && !(await new CampaignStore(ctx).get(id))) {
      throw await campaignNotKnown(ctx, id);
    }
    return { campaignId: id, pending };
  });

  app.get('/v1/commands/:commandId', async (request): Promise<CommandRecordBody> => {
    const { commandId } = parseOrThrow(commandParams, request.params);
    const command = await getCommand(ctx, commandId);
    if (!command) throw new NotFoundError(`command ${commandId} is unknown or expired`);
    return command;
  });
}
