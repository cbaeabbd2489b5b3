import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CXONE_ENDPOINTS, CXONE_SCOPES, type CxoneEndpoint } from '../../shared/cxone/wire.js';
import { parseUpdateBody, toResource } from '../campaign-store.js';
import { notFound, SandboxHttpError, validationFailed } from '../errors.js';
import { FAULT_BODIES, RETRY_AFTER_FORMS } from '../faults.js';
import type { SandboxState } from '../state.js';
import { zodProblems } from '../validation.js';
import { catchUpGradually, skipGradually } from '../time-skip.js';

/** The last instant toISOString() writes in its fixed-width form (year 9999). */
const LAST_FIXED_WIDTH_ISO_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Actor recorded in history for changes made through the control surface ("from the console"). */
export const CONSOLE_ACTOR = 'console-operator';

const faultsBody = z
  .object({
    latencyMs: z.number().int().min(0).max(60_000).optional(),
    errorRate: z.number().min(0).max(1).optional(),
    /** Make the next N matching requests fail. */
    failNext: z.number().int().min(1).max(100_000).optional(),
    status: z
      .number()
      .int()
      .refine((s) => s === 429 || (s >= 500 && s <= 599), 'must be 429 or a 5xx status')
      .default(503),
    endpoint: z.enum(Object.values(CXONE_ENDPOINTS) as [CxoneEndpoint, ...CxoneEndpoint[]]).optional(),
    retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
    retryAfterForm: z.enum(RETRY_AFTER_FORMS).optional(),
    /** Carry the failed requests out first, then answer with the 5xx (ScriptedFailure.applied). */
    applied: z.boolean().optional(),
    /** The failure's body: the JSON error, a load balancer's HTML page, or none (ScriptedFailure.body). */
    body: z.enum(FAULT_BODIES).optional(),
    /** Scopes the token endpoint grants no more, though asked (FaultState.withheldScopes); [] = none. */
    withholdScopes: z.array(z.enum(CXONE_SCOPES)).max(CXONE_SCOPES.length).optional(),
  })
  .strict()
  .refine((body) => body.applied !== true || (body.failNext !== undefined && body.status !== 429), {
    path: ['applied'],
    message: 'needs failNext and a 5xx status: a 429 refuses a request, it never carries one out',
  })
  .refine(
    (body) =>
      body.body === undefined || body.body === 'json' || (body.failNext !== undefined && body.status !== 429),
    {
      path: ['body'],
      message:
        'html and empty need failNext and a 5xx status: they are a gateway failing a request, and a 429 is the rate limiter answering JSON',
    },
  );

/** A fault script as `POST /__sandbox/faults` takes it (docs/sandbox.md); tests script faults with it. */
export type FaultScript = z.input<typeof faultsBody>;

const directoryBody = z
  .object({
    targetLists: z
      .array(
        z
          .object({
            id: z.uuid(),
            name: z.string().min(1).max(200),
            /** The list's true contact rate (docs/sandbox.md); absent = DEFAULT_CONTACT_RATE. */
            contactRate: z.number().min(0).max(1).optional(),
          })
          .strict(),
      )
      .max(1000)
      .optional(),
    skillGroups: z
      .array(
        z
          .object({
            id: z.uuid(),
            name: z.string().min(1).max(200),
            agents: z.number().int().min(1).max(100_000),
          })
          .strict(),
      )
      .max(1000)
      .optional(),
  })
  .strict();

const skipBody = z
  .object({
    ms: z
      .number()
      .int()
      .min(1)
      .max(365 * 24 * 3600 * 1000),
  })
  .strict();

/**
 * A query value in epoch milliseconds: absent is 0; anything but plain decimal digits (given once) is
 * NaN. Number() alone read `` as 0 (every campaign) and `1e3` or `0x10` as 1000 and 16.
 */
function epochMsQuery(raw: unknown): number {
  if (raw === undefined) return 0;
  return typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationFailed(zodProblems(parsed.error, body ?? {}));
  return parsed.data;
}

function adminGuard(state: SandboxState) {
  const expected = state.adminToken === undefined ? undefined : Buffer.from(state.adminToken);
  return async (request: FastifyRequest): Promise<void> => {
    if (expected === undefined) return;
    const given = request.headers['x-sandbox-admin'];
    const actual = Buffer.from(typeof given === 'string' ? given : '');
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      throw new SandboxHttpError(
        401,
        'unauthorized',
        'the sandbox control surface needs header x-sandbox-admin',
      );
    }
  };
}

/** What the sandbox holds about one campaign: its resource, how much history it has, and its dialer's counters. */
export function campaignState(state: SandboxState, id: string): unknown {
  const campaign = state.campaigns.find(id);
  if (!campaign) return undefined;
  return {
    resource: toResource(campaign),
    historyLength: state.campaigns.historyLength(id),
    dialer: state.dialers.snapshot(campaign),
  };
}

/**
 * /__sandbox/*: control and introspection, never part of the CXone contract (no token, no rate
 * limit, not counted). Open unless the sandbox was given an admin token.
 */
export async function registerControlRoutes(app: FastifyInstance, state: SandboxState): Promise<void> {
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', adminGuard(state));

      scope.get('/config', async () => ({
        rateLimit: state.rate.limits,
        tokenRateLimit: state.tokenRate.limits,
        authFailureLimit: state.authFailures.limits,
        tokenTtlSeconds: state.tokens.ttl,
        timeScale: state.simTime.timeScale,
        seed: state.seed,
        clients: state.clientList.map((c) => ({
          clientId: c.clientId,
          tenant: c.tenant ?? c.clientId,
          scopes: c.scopes,
        })),
      }));

      scope.get('/faults', async () => state.faults.state());
      scope.post('/faults', async (request) => {
        const body = parse(faultsBody, request.body);
        state.faults.set({
          ...(body.latencyMs !== undefined ? { latencyMs: body.latencyMs } : {}),
          ...(body.errorRate !== undefined ? { errorRate: body.errorRate } : {}),
          ...(body.withholdScopes !== undefined ? { withholdScopes: body.withholdScopes } : {}),
        });
        if (body.failNext !== undefined) {
          state.faults.failNext({
            remaining: body.failNext,
            status: body.status,
            ...(body.endpoint !== undefined ? { endpoint: body.endpoint } : {}),
            ...(body.retryAfterSeconds !== undefined ? { retryAfterSeconds: body.retryAfterSeconds } : {}),
            ...(body.retryAfterForm !== undefined ? { retryAfterForm: body.retryAfterForm } : {}),
            ...(body.applied === true ? { applied: true } : {}),
            ...(body.body !== undefined && body.body !== 'json' ? { body: body.body } : {}),
          });
        }
        return state.faults.state();
      });
      scope.delete('/faults', async () => {
        state.faults.clear();
        return state.faults.state();
      });

      /**
       * Revokes issued access tokens (`?clientId=` one registered client's only, 400 for an id no
       * client has): they are refused from now on, before their expiry, so a client's refresh on a
       * 401 can be exercised without waiting for the TTL or restarting the sandbox (which forgets
       * campaigns too). Tokens issued afterwards are valid: the client's key is not deactivated.
       */
      scope.delete<{ Querystring: { clientId?: string | string[] } }>('/tokens', async (request, reply) => {
        const { clientId, ...rest } = request.query;
        const unknown = Object.keys(rest);
        if (unknown.length > 0 || Array.isArray(clientId) || clientId === '') {
          return reply.code(400).send({
            error: 'invalid_query',
            message:
              unknown.length > 0
                ? `unknown query parameter ${unknown.join(', ')}; only clientId is read`
                : 'clientId must be given once, and not empty',
          });
        }
        // A misspelt id would revoke nothing and look like a client with no token left.
        if (clientId !== undefined && !state.clientList.some((c) => c.clientId === clientId)) {
          return reply.code(400).send({
            error: 'invalid_query',
            message: `clientId ${JSON.stringify(clientId)} is no client of this sandbox (its clients: ${state.clientList.map((c) => c.clientId).join(', ')})`,
          });
        }
        return { revoked: state.tokens.revoke(clientId) };
      });

      scope.get('/counters', async () => state.counters.snapshot());
      scope.delete('/counters', async () => {
        state.counters.reset();
        return state.counters.snapshot();
      });

      /** Forget every rate window and failed-login count, e.g. between benchmark phases. */
      scope.delete('/rate-limits', async () => {
        state.rate.reset();
        state.tokenRate.reset();
        state.authFailures.reset();
        return { ok: true };
      });

      /** `?createdSince=<epoch ms>` lists only campaigns created at or after it (a benchmark's round). */
      scope.get<{ Querystring: { createdSince?: unknown } }>('/campaigns', async (request, reply) => {
        const since = epochMsQuery(request.query.createdSince);
        if (!Number.isSafeInteger(since) || since < 0) {
          return reply.code(400).send({
            error: 'invalid_query',
            message: 'createdSince must be a time in epoch milliseconds (a whole number >= 0)',
          });
        }
        // createdAt is always toISOString()'s fixed-width UTC form, which sorts as the times do: one
        // string comparison per campaign instead of parsing each of the thousands a benchmark leaves.
        // (Past year 9999 the form changes, and no campaign is created then.)
        const sinceIso = since > LAST_FIXED_WIDTH_ISO_MS ? undefined : new Date(since).toISOString();
        const campaigns =
          sinceIso === undefined
            ? []
            : state.campaigns.list().filter((c) => since === 0 || c.createdAt >= sinceIso);
        return {
          campaigns: campaigns.map((c) => ({
            id: c.id,
            name: c.name,
            status: c.status,
            version: c.version,
            createdAt: c.createdAt,
            updatedAt: c.updatedAt,
          })),
        };
      });
      scope.get<{ Params: { id: string } }>('/campaigns/:id', async (request) => {
        const found = campaignState(state, request.params.id);
        if (found === undefined) throw notFound(`campaign ${request.params.id}`);
        return found;
      });
      /**
       * A change "from the CXone console": the same write path as PATCH (version bump, state machine,
       * history), applied to the current version with actor console-operator.
       */
      scope.post<{ Params: { id: string } }>('/campaigns/:id/console', async (request) => {
        // As the API's PATCH: the stretch before the change, caught up a chunk at a time.
        await catchUpGradually(state.simTime, state.dialers, state.campaigns.get(request.params.id).id);
        const campaign = state.campaigns.get(request.params.id);
        // The console refuses what the API refuses: a group the tenant lacks, too few agents.
        const patch = parseUpdateBody(request.body, {
          directory: state.directory,
          current: campaign.dialerSettings,
        });
        return toResource(state.campaigns.update(campaign.id, campaign.version, patch, CONSOLE_ACTOR));
      });

      /** The tenant's target lists and skill groups; POST adds (or replaces by id) entries. */
      scope.get('/directory', async () => state.directory.snapshot());
      scope.post('/directory', async (request) => {
        const entries = parse(directoryBody, request.body);
        // Every dialing campaign runs up to now under the directory as it was: a chunk at a time first.
        for (const id of state.dialers.campaignIds())
          await catchUpGradually(state.simTime, state.dialers, id);
        state.directory.add(entries);
        // A list's new contact rate reaches the campaigns dialing it from now on.
        state.dialers.followDirectory();
        return state.directory.snapshot();
      });

      scope.get('/time', async () => ({
        simNow: new Date(state.simTime.now()).toISOString(),
        simNowMs: state.simTime.now(),
        timeScale: state.simTime.timeScale,
      }));
      scope.post('/time/skip', async (request) => {
        await skipGradually(state.simTime, state.dialers, parse(skipBody, request.body).ms);
        return { simNow: new Date(state.simTime.now()).toISOString(), simNowMs: state.simTime.now() };
      });

      /**
       * Back to a fresh start with the same seed: forget campaigns (and restart the creation count
       * that seeds their dialers), history, idempotency keys, counters, rate windows and failed-login
       * counts (a fresh sandbox has no client locked out), simulated time's progress and skips, and
       * faults (back to the start's, their random draws replayed from the seed). Tokens stay valid
       * and the directory is kept.
       */
      scope.post('/reset', async () => {
        state.campaigns.clear();
        state.dialers.clear();
        state.simTime.restart();
        state.idempotency.clear();
        state.counters.reset();
        state.rate.reset();
        state.tokenRate.reset();
        state.authFailures.reset();
        state.faults.reset();
        return { ok: true };
      });
    },
    { prefix: '/__sandbox' },
  );
}
