import type { z } from 'zod';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import {
  campaignResourceSchema,
  createCampaignRequestSchema,
  historyRecordSchema,
  updateCampaignRequestSchema,
  type CampaignResource,
  type CampaignStatus,
  type CreateCampaignRequest,
  type HistoryRecord,
  type UpdateCampaignRequest,
  type WireComplianceSettings,
  type WireDialerSettings,
} from '../shared/cxone/wire.js';
import { allowedTransitions, canTransition, isFinal } from '../shared/lifecycle/state-machine.js';
import { notFound, SandboxHttpError, validationFailed } from './errors.js';
import { canonicalJson } from '../shared/canonical-json.js';
import type { Directory } from './directory.js';
import type { FieldProblem } from './errors.js';
import { complianceSettingsProblems, mergeProblems, nameProblems, zodProblems } from './validation.js';

/** The sandbox's own copy of a campaign; the wire resource is built from it. */
export interface StoredCampaign {
  id: string;
  version: number;
  status: CampaignStatus;
  name: string;
  type: CreateCampaignRequest['type'];
  startDateTime: string;
  targetListId: string;
  dialerSettings: WireDialerSettings;
  complianceSettings: WireComplianceSettings;
  createdAt: string;
  updatedAt: string;
  /** 0-based creation order; seeds the campaign's dialer simulation. */
  ordinal: number;
  /**
   * Tenant (business unit) of the token that created it. Internal, never on the wire: to every other
   * tenant the campaign does not exist, as on CXone, where every resource belongs to one tenant.
   */
  tenant: string;
}

export type Change = { from: unknown; to: unknown };

/** Called after every successful create or change, with the state before (null on create) and after. */
export type CampaignListener = (before: StoredCampaign | null, after: StoredCampaign) => void;

export interface HistoryPageResult {
  records: HistoryRecord[];
  nextCursor: string | null;
}

export const HISTORY_PAGE_SIZE = { default: 50, min: 1, max: 500 } as const;

/**
 * Validates a request body the way CXone does: schema, compliance and `extra` problems (checks on the
 * raw body, such as the tenant's directory) together, in one 422 naming every field.
 */
function parseBody<T>(
  schema: z.ZodType<T>,
  body: unknown,
  extra: (raw: Record<string, unknown>) => FieldProblem[] = () => [],
): T {
  const parsed = schema.safeParse(body);
  const raw = body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : undefined;
  const shape = parsed.success ? [] : zodProblems(parsed.error, body);
  // A field the schema refuses (a target list that is no UUID) is not also looked up.
  const refused = new Set(shape.map((p) => p.field));
  const checked = raw ? extra(raw).filter((p) => !refused.has(p.field)) : [];
  const semantic = raw
    ? [...nameProblems(raw.name), ...complianceSettingsProblems(raw.complianceSettings), ...checked]
    : [];
  const problems = mergeProblems(shape, semantic);
  if (!parsed.success || problems.length > 0) throw validationFailed(problems);
  return parsed.data;
}

/** A campaign's type is its dialing mode: two that disagree leave it unclear how it dials. */
function typeProblems(raw: Record<string, unknown>): FieldProblem[] {
  const strategy = (raw.dialerSettings as Record<string, unknown> | null | undefined)?.strategy;
  if (typeof raw.type !== 'string' || typeof strategy !== 'string' || raw.type === strategy) return [];
  return [
    {
      field: 'type',
      message: `must match dialerSettings.strategy ("${strategy}"): a campaign's type is its dialing mode`,
    },
  ];
}

export function parseCreateBody(body: unknown, directory?: Directory): CreateCampaignRequest {
  return parseBody(createCampaignRequestSchema, body, (raw) => [
    ...typeProblems(raw),
    ...(directory?.createProblems(raw) ?? []),
  ]);
}

/** `checks`: the campaign's settings now and the tenant's directory, which a change must still fit. */
export function parseUpdateBody(
  body: unknown,
  checks?: { directory: Directory; current: WireDialerSettings },
  extra: FieldProblem[] = [],
): UpdateCampaignRequest {
  return parseBody(updateCampaignRequestSchema, body, (raw) => [
    ...extra,
    ...(checks ? checks.directory.updateProblems(checks.current, raw) : []),
  ]);
}

/**
 * The body of `PATCH /api/v2/campaigns/:id`. The seed's PATCH bodies (seed-tutorial.txt, Step 2 and
 * the complete example) carry `version`, the version the change was written against, beside
 * `If-Match: version=N`: part of the contract's request, so taken here rather than refused as an
 * unknown field. It is a precondition, not a change: the caller holds it to the current version
 * (409 otherwise), exactly as If-Match. Anything but a whole number from 1 is named in the 422.
 */
export function parsePatchBody(
  body: unknown,
  checks?: { directory: Directory; current: WireDialerSettings },
): { patch: UpdateCampaignRequest; version: number | undefined } {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || !Object.hasOwn(body, 'version')) {
    return { patch: parseUpdateBody(body, checks), version: undefined };
  }
  const { version, ...rest } = body as Record<string, unknown>;
  const valid = typeof version === 'number' && Number.isSafeInteger(version) && version >= 1;
  const problems: FieldProblem[] = valid
    ? []
    : [{ field: 'version', message: 'must be a whole number from 1: the version you read, as in If-Match' }];
  return { patch: parseUpdateBody(rest, checks, problems), version: version as number };
}

/** Field-by-field differences, with dotted paths for the nested settings objects. */
export function diffCampaigns(before: StoredCampaign, after: StoredCampaign): Record<string, Change> {
  const changes: Record<string, Change> = {};
  const compare = (path: string, from: unknown, to: unknown): void => {
    if (canonicalJson(from) !== canonicalJson(to)) changes[path] = { from: from ?? null, to: to ?? null };
  };
  for (const key of ['status', 'name', 'startDateTime'] as const) compare(key, before[key], after[key]);
  for (const group of ['dialerSettings', 'complianceSettings'] as const) {
    const a = before[group] as Record<string, unknown>;
    const b = after[group] as Record<string, unknown>;
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      compare(`${group}.${key}`, a[key], b[key]);
  }
  return changes;
}

/**
 * Cursors are opaque and signed: CXone's are, and a sandbox that read a client's own JSON back would
 * let a product craft offsets (or reuse another campaign's or tenant's cursor) and work here while
 * failing on the platform. The MAC binds the offset to the tenant and campaign it was issued for.
 */
class CursorCodec {
  // Per process: a cursor from an earlier run names a campaign that no longer exists anyway.
  private readonly key = randomBytes(32);

  encode(tenant: string, campaignId: string, offset: number): string {
    const body = Buffer.from(String(offset)).toString('base64url');
    return `${body}.${this.mac(tenant, campaignId, body).toString('base64url')}`;
  }

  /** The offset of a cursor this codec issued for this tenant and campaign; anything else is a 400. */
  decode(cursor: string, tenant: string, campaignId: string): number {
    const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/.exec(cursor);
    if (match) {
      const [, body, mac] = match as unknown as [string, string, string];
      // Compared as text: 43 base64url characters carry 258 bits for 256, so decoding would take
      // four spellings of the last character as the same MAC and honour altered cursors.
      const given = Buffer.from(mac);
      const expected = Buffer.from(this.mac(tenant, campaignId, body).toString('base64url'));
      if (given.length === expected.length && timingSafeEqual(given, expected)) {
        const text = Buffer.from(body, 'base64url').toString('utf8');
        if (/^(0|[1-9]\d{0,15})$/.test(text)) return Number(text);
      }
    }
    throw invalidCursor();
  }

  private mac(tenant: string, campaignId: string, body: string): Buffer {
    // Length-prefixed so no tenant/campaign pair can be shifted into another with the same bytes.
    return createHmac('sha256', this.key)
      .update(`history-cursor:${tenant.length}:${tenant}:${campaignId.length}:${campaignId}:${body}`)
      .digest();
  }
}

/** 409 for a write made against `expected` while the campaign is at `current`. */
export function versionConflict(id: string, current: number, expected: number): SandboxHttpError {
  return new SandboxHttpError(
    409,
    'version_conflict',
    `campaign ${id} is at version ${current}, not ${expected}; re-read it and apply your change to the current version`,
    { currentVersion: current },
  );
}

function invalidCursor(): SandboxHttpError {
  return new SandboxHttpError(
    400,
    'invalid_cursor',
    'cursor: not one this endpoint issued for this campaign; start again without a cursor',
    {
      errors: [{ field: 'cursor', message: 'unknown, altered or foreign cursor' }],
    },
  );
}

/**
 * Campaigns and their append-only history, in memory. Enforces what CXone enforces on writes:
 * optimistic concurrency on `version`, the lifecycle state machine, and no edits to a finished campaign.
 */
export class CampaignStore {
  private readonly campaigns = new Map<string, StoredCampaign>();
  private readonly histories = new Map<string, HistoryRecord[]>();
  private readonly listeners: CampaignListener[] = [];
  private readonly cursors = new CursorCodec();
  private created = 0;

  constructor(private readonly clock: Clock) {}

  onChange(listener: CampaignListener): void {
    this.listeners.push(listener);
  }

  count(): number {
    return this.campaigns.size;
  }

  list(): StoredCampaign[] {
    return [...this.campaigns.values()];
  }

  find(id: string): StoredCampaign | undefined {
    return this.campaigns.get(id);
  }

  /** Any tenant's campaign: for the control surface and the sandbox's own bookkeeping. */
  get(id: string): StoredCampaign {
    const campaign = this.campaigns.get(id);
    if (!campaign) throw notFound(`campaign ${id}`);
    return campaign;
  }

  /**
   * A campaign as `tenant`'s token sees it. Another tenant's campaign answers exactly what an id
   * nobody created answers (the same 404), so a tenant cannot even learn that the id is taken.
   */
  getForTenant(id: string, tenant: string): StoredCampaign {
    const campaign = this.campaigns.get(id);
    if (!campaign || campaign.tenant !== tenant) throw notFound(`campaign ${id}`);
    return campaign;
  }

  /** `tenant`: the creating token's tenant, which alone will see the campaign through the API. */
  create(request: CreateCampaignRequest, actor: string, tenant: string): StoredCampaign {
    const now = new Date(this.clock.now()).toISOString();
    const campaign: StoredCampaign = {
      id: randomUUID(),
      version: 1,
      status: 'draft',
      name: request.name,
      type: request.type,
      startDateTime: request.startDateTime,
      targetListId: request.targetListId,
      dialerSettings: structuredClone(request.dialerSettings),
      complianceSettings: structuredClone(request.complianceSettings),
      createdAt: now,
      updatedAt: now,
      ordinal: this.created,
      tenant,
    };
    this.created += 1;
    this.campaigns.set(campaign.id, campaign);
    this.histories.set(campaign.id, []);
    this.appendHistory(campaign, 'created', actor, { status: { from: null, to: 'draft' } });
    for (const listener of this.listeners) listener(null, campaign);
    return campaign;
  }

  /**
   * Applies a PATCH written against `expectedVersion`. A body that changes nothing succeeds without a
   * new version (there is no change to record); any real change bumps the version by exactly one.
   * `tenant`: the caller's, when a token makes the change (another tenant's campaign is a 404);
   * omitted for the control surface, which may change any tenant's campaign.
   */
  update(
    id: string,
    expectedVersion: number,
    patch: UpdateCampaignRequest,
    actor: string,
    tenant?: string,
  ): StoredCampaign {
    const before = tenant === undefined ? this.get(id) : this.getForTenant(id, tenant);
    if (expectedVersion !== before.version) throw versionConflict(id, before.version, expectedVersion);
    if (isFinal(before.status)) {
      throw new SandboxHttpError(
        409,
        'campaign_closed',
        `campaign ${id} is ${before.status} and can no longer change`,
        {
          currentVersion: before.version,
          status: before.status,
        },
      );
    }
    if (
      patch.status !== undefined &&
      patch.status !== before.status &&
      !canTransition(before.status, patch.status)
    ) {
      const allowed = allowedTransitions(before.status);
      throw new SandboxHttpError(
        409,
        'invalid_transition',
        `cannot change status from ${before.status} to ${patch.status}; allowed from ${before.status}: ${
          allowed.length > 0 ? allowed.join(', ') : 'none'
        }`,
        { from: before.status, to: patch.status, allowed, currentVersion: before.version },
      );
    }
    const after: StoredCampaign = {
      ...before,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.status !== undefined ? { status: patch.status } : {}),
      ...(patch.startDateTime !== undefined ? { startDateTime: patch.startDateTime } : {}),
      dialerSettings: { ...before.dialerSettings, ...stripUndefined(patch.dialerSettings) },
      complianceSettings: { ...before.complianceSettings, ...stripUndefined(patch.complianceSettings) },
    };
    // `type` cannot be patched: it follows the dialing mode a PATCH sets.
    after.type = after.dialerSettings.strategy;
    const changes = diffCampaigns(before, after);
    if (Object.keys(changes).length === 0) return before;
    after.version = before.version + 1;
    after.updatedAt = new Date(this.clock.now()).toISOString();
    this.campaigns.set(id, after);
    this.appendHistory(after, changes.status ? 'status_changed' : 'updated', actor, changes);
    for (const listener of this.listeners) listener(before, after);
    return after;
  }

  /** A page of `tenant`'s campaign's history; another tenant's campaign is a 404, before any cursor check. */
  historyPage(id: string, tenant: string, pageSize: number, cursor: string | undefined): HistoryPageResult {
    this.getForTenant(id, tenant);
    const records = this.histories.get(id) ?? [];
    const offset = cursor === undefined ? 0 : this.cursors.decode(cursor, tenant, id);
    // History only grows, so an issued cursor never points past its end; kept as a second guard.
    if (offset > records.length) throw invalidCursor();
    const end = Math.min(records.length, offset + pageSize);
    return {
      records: records.slice(offset, end),
      nextCursor: end < records.length ? this.cursors.encode(tenant, id, end) : null,
    };
  }

  historyLength(id: string): number {
    return this.histories.get(id)?.length ?? 0;
  }

  /** Forgets every campaign and restarts the creation count that seeds each campaign's dialer. */
  clear(): void {
    this.campaigns.clear();
    this.histories.clear();
    this.created = 0;
  }

  private appendHistory(
    campaign: StoredCampaign,
    action: string,
    actor: string,
    changes: Record<string, Change>,
  ): void {
    const record = historyRecordSchema.parse({
      id: randomUUID(),
      campaignId: campaign.id,
      version: campaign.version,
      occurredAt: campaign.updatedAt,
      action,
      actor,
      changes,
    });
    (this.histories.get(campaign.id) as HistoryRecord[]).push(record);
  }
}

function stripUndefined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The wire shape of a campaign, checked against the contract so the sandbox cannot drift from it.
 * Internal fields are dropped here: the resource schema is loose (it admits fields CXone may add), so
 * it would not strip them itself.
 */
export function toResource(campaign: StoredCampaign): CampaignResource {
  const { ordinal: _ordinal, tenant: _tenant, ...wire } = campaign;
  return campaignResourceSchema.parse(structuredClone(wire));
}
