import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createCampaignResponseSchema } from '../../shared/cxone/wire.js';
import { parseCreateBody, parsePatchBody, toResource, versionConflict } from '../campaign-store.js';
import { SandboxHttpError } from '../errors.js';
import { grantOf } from '../request-context.js';
import type { SandboxState } from '../state.js';
import { catchUpGradually } from '../time-skip.js';

type IdParams = { Params: { id: string } };

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function idempotencyKey(request: FastifyRequest): string | undefined {
  const raw = request.headers['idempotency-key'];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (key === undefined || !IDEMPOTENCY_KEY.test(key)) {
    throw new SandboxHttpError(
      400,
      'invalid_idempotency_key',
      'Idempotency-Key must be 1..255 visible ASCII characters',
    );
  }
  return key;
}

/**
 * `If-Match: version=N`, exactly as the contract spells it. A bare number, a quoted or weak ETag or a
 * list is a 400: CXone has no ETags, and a stand-in that took them would hide a client that sends one.
 */
export function parseIfMatch(raw: string | string[] | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(',') : raw;
  const match = /^\s*version=(0|[1-9]\d{0,14})\s*$/.exec(value);
  if (!match) {
    throw new SandboxHttpError(
      400,
      'invalid_if_match',
      `If-Match must be "version=N", got ${JSON.stringify(value)}`,
    );
  }
  return Number(match[1]);
}

export async function registerCampaignRoutes(app: FastifyInstance, state: SandboxState): Promise<void> {
  app.post('/api/v2/campaigns', async (request, reply) => {
    const grant = grantOf(request);
    // A platform without the feature neither reads nor checks the header.
    const key = state.idempotencyKeys ? idempotencyKey(request) : undefined;
    if (key !== undefined) {
      const previous = state.idempotency.lookup(grant.tenant, key, request.body);
      if (previous.kind === 'replay') {
        void reply.code(previous.response.statusCode).header('idempotent-replayed', 'true');
        void reply.header('location', `/api/v2/campaigns/${previous.response.campaignId}`);
        return previous.response.body;
      }
      if (previous.kind === 'mismatch') {
        throw new SandboxHttpError(
          422,
          'idempotency_key_reused',
          'this Idempotency-Key was already used with a different request body; use a new key for a different campaign',
        );
      }
    }
    const campaign = state.campaigns.create(
      parseCreateBody(request.body, state.directory),
      grant.clientId,
      grant.tenant,
    );
    // Exactly the contract's answer, `{id, version, status, createdAt}`: the resource is GET's. A
    // create that echoed every field would let a client read its settings from the create's answer
    // here and find them missing on the platform.
    const { id, version, status, createdAt } = toResource(campaign);
    const body = createCampaignResponseSchema.parse({ id, version, status, createdAt });
    if (key !== undefined) {
      state.idempotency.remember(grant.tenant, key, request.body, {
        statusCode: 201,
        body,
        campaignId: campaign.id,
      });
    }
    void reply.code(201).header('location', `/api/v2/campaigns/${campaign.id}`);
    return body;
  });

  // Every route taking a campaign id looks it up in the token's tenant: another tenant's campaign
  // answers the same 404 as an unknown id, before any other check (If-Match, body, cursor).
  app.get<IdParams>('/api/v2/campaigns/:id', async (request) =>
    toResource(state.campaigns.getForTenant(request.params.id, grantOf(request).tenant)),
  );

  app.patch<IdParams>('/api/v2/campaigns/:id', async (request) => {
    const grant = grantOf(request);
    const { id } = state.campaigns.getForTenant(request.params.id, grant.tenant);
    // The change applies from now: the stretch before it runs under the settings it replaces, caught
    // up a chunk at a time (a change closes that stretch at once, in one synchronous call).
    await catchUpGradually(state.simTime, state.dialers, id);
    const current = state.campaigns.getForTenant(id, grant.tenant);
    const expected = parseIfMatch(request.headers['if-match']);
    if (expected === undefined) {
      throw new SandboxHttpError(
        428,
        'precondition_required',
        'PATCH needs If-Match: version=N with the version you read, so concurrent changes are not lost',
      );
    }
    const { patch, version } = parsePatchBody(request.body, {
      directory: state.directory,
      current: current.dialerSettings,
    });
    // A version in the body (the seed sends one) is held to the same rule as If-Match's: whichever of
    // the two is stale, the change was written against an older campaign.
    if (version !== undefined && version !== current.version) {
      throw versionConflict(current.id, current.version, version);
    }
    return toResource(
      state.campaigns.update(request.params.id, expected, patch, grant.clientId, grant.tenant),
    );
  });
}
