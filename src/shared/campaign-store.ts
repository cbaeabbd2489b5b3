import type { Redis } from 'ioredis';
import type { CampaignConfig } from './campaign-config.js';
import { systemClock, type Clock } from './clock.js';
import type { AppContext } from './context.js';
import type { CampaignResource, CampaignStats, CampaignStatus } from './cxone/wire.js';
import { efficiencyScore, type EfficiencyMetrics } from './efficiency.js';
import {
  decodeFieldMap,
  packText,
  resourceFromConfig,
  resourceResidue,
  unpackText,
  type ResourceResidue,
} from './campaign-record-codec.js';
import type { Keys } from './keys.js';
import type { LocalConfig } from './lifecycle/config-view.js';
import { evalScript } from './redis-script.js';
import { isWrongType } from './redis.js';

/**
 * The orchestrator's view of one campaign, kept in Redis. CXone is the source of truth for status,
 * version and settings; this record caches them next to what only the orchestrator knows (the
 * launch it came from, pacing and polling state, compliance state, the last operator command).
 */
export interface CampaignRecord {
  campaignId: string;
  launchId?: string;
  status: CampaignStatus;
  version: number;
  config: CampaignConfig;
  cxone: CampaignResource;
  lastStats?: CampaignStats & { at: string };
  efficiency?: EfficiencyMetrics | null;
  /** Owned by pacing (H6). */
  pacing?: unknown;
  /** Owned by polling (H6). */
  polling?: { effectiveIntervalMs: number; desiredIntervalMs: number };
  /** Owned by compliance (H7). */
  compliance?: unknown;
  /** Owned by lifecycle (H5). */
  lastCommand?: unknown;
  /**
   * Every recipient state the campaign was launched for or a command added; it only grows. The states
   * are the orchestrator's own (in `config`, never on CXone), but the config is rewritten whole by
   * every sync from the copy that sync read before its CXone call, and one that read before a state
   * was added would write it away: `get` joins these into `config.recipientStates`
   * (withDeclaredStates), so no sync can drop a state. (Records of earlier releases, which read the
   * list back from CXone's copy, keep theirs the same way.)
   */
  declaredStates?: string[];
  /**
   * Bumped by the write script whenever it stores `config`. A write that rebuilt the config on the
   * stored one (a sync taking the orchestrator-only fields as stored, a command's updateLocalConfig)
   * lands only if this is still the one it read, else it reads again: neither can write away what
   * the other stored in between (a PATCH of pacing, say, or a newer CXone version).
   */
  configRev?: number;
  /** Since when CXone answers 404 for the campaign (campaign-missing.ts); the rest is as last known. */
  missingOnCxone?: { since: string };
  /**
   * When a look that met CXone's 404 began telling it, written before its claim (campaign-missing.ts):
   * with no `missingOnCxone`, that look died before its note (or is still telling), and the first read
   * finding CXone answering removes the claim with this. Never shown.
   */
  missingClaimAt?: string;
  /**
   * The delayed activation gave up for good (launch-activation.ts): the campaign stays scheduled on CXone
   * and nothing will activate it, so no view may say when it activates.
   */
  activationFailed?: { reason: string; at: string };
  /**
   * Started in CXone (its console), not by the orchestrator, before its launch could: the launch took
   * it over (launch-takeover.ts takeOverStartedDraft). A failure of that launch leaves it running.
   */
  startedOutside?: StartedOutsideMark;
  /**
   * The CXone version the orchestrator's own activating write (→ active) was decided on, noted before
   * the write asks for its permit (launch-activate-now.ts activateNow; a number alone, as every activated
   * campaign's record carries it). A running campaign whose record lacks it was started by someone
   * else — an operator activating a scheduled campaign in CXone's console before its start — and a
   * failed launch's cleanup leaves it running (launch-store.ts startedOutsideOrchestrator).
   */
  activationSent?: number;
  /** The highest CXone version whose history is in the audit trail (history-sync.ts). */
  historyImportedVersion?: number;
  /** Where the next import of CXone's history starts (the walk that reached historyImportedVersion ended there). */
  historyResumeCursor?: string;
  /** When the CXone resource was last read or written (ISO); drives staleness of the API view. */
  syncedAt?: string;
  updatedAt: string;
}

/**
 * The mark of a campaign started outside the orchestrator. A takeover's mark also says where its safe
 * start stands (launch-takeover.ts), so a later run before pacing's first poll can tell the takeover's
 * own safe-start write, applied with its answer lost, from an operator's rate at the same figure:
 * - `pending` with `takenOverFrom`: a write of the safe start planned from that rate, on that version,
 *   may have been applied; CXone at exactly that safe start on a later version is that write;
 * - `refused`: its last write met a 409 (nothing of it applied); decided again on what CXone holds;
 * - `left`: the takeover left the rate as the operator set it (at or below the safe start, not
 *   active, out of pacing's hands, or changing on every try): no safe start is the orchestrator's.
 * Neither field on marks of earlier releases, nor on a start outside found by a watch (started-outside.ts).
 * Only on marked records, which are few: the size of a normal launch's record does not change.
 */
export interface StartedOutsideMark {
  at: string;
  from: CampaignStatus;
  takenOverFrom?: { callRate: number; version: number };
  safeStart?: 'pending' | 'refused' | 'left';
}

type FieldName = keyof CampaignRecord;

const FIELDS: readonly FieldName[] = [
  'campaignId',
  'launchId',
  'status',
  'version',
  'config',
  'cxone',
  'lastStats',
  'efficiency',
  'pacing',
  'polling',
  'compliance',
  'lastCommand',
  'declaredStates',
  'configRev',
  'missingOnCxone',
  'missingClaimAt',
  'activationFailed',
  'startedOutside',
  'activationSent',
  'historyImportedVersion',
  'historyResumeCursor',
  'syncedAt',
  'updatedAt',
];

/**
 * Stored field holding what of the CXone resource the config cannot reproduce (campaign-record-codec.ts).
 * `cxone` itself is only found in records written by an earlier release, which stored it whole.
 */
const CXONE_EXTRA = 'cxoneExtra';
type StoredField = FieldName | typeof CXONE_EXTRA;

/** Fields whose values come from CXone and must never move back to an older version. */
const CXONE_FIELDS: ReadonlySet<StoredField> = new Set([
  'status',
  'version',
  'cxone',
  CXONE_EXTRA,
  'config',
  'syncedAt',
]);

/** Keys a write deletes in its own step, and the value the first must hold (or be absent) for it to write. */
export interface AlsoDelete {
  delete: readonly string[];
  whileHolding?: string;
}

/** A key a write sets in its own step unless it is already set (a claim kept beside the field that marks it). */
interface AlsoClaim {
  claim: { key: string; value: string };
}

/** Rounds of read-merge-write for the orchestrator-only config before giving up (each lost to a newer version). */
const LOCAL_CONFIG_ATTEMPTS = 5;

/** Value that removes a stored field (no JSON text is empty). */
const DELETE = '';

/**
 * One Redis string per campaign: a MessagePack map of top-level property → JSON text, merged field by
 * field in Lua. Different areas own different properties (pacing, polling, compliance, lastCommand)
 * and write them concurrently; merging single fields inside the script means none of them can
 * overwrite another's property with a stale copy, which a JSON blob with read-modify-write in the
 * client would. (A hash did the same, but the values above 64 bytes force its `hashtable` encoding,
 * which roughly doubles the memory of a record; see docs/fleet-benchmark.md.) The campaign id is the key,
 * and the CXone resource and efficiency are rebuilt on read instead of stored (campaign-record-codec.ts).
 *
 * Writes carrying CXone state are version-guarded: a response that was in flight while a newer
 * version was stored (a slow stats poll racing an adjust) is dropped instead of moving the record back.
 * A record still kept as a hash by an earlier release is read as is and converted on its next write.
 *
 * KEYS[1] record, KEYS[2] campaign index set, KEYS[3..] keys deleted with the write (a side note that
 * must go in the same step as the field it stands beside; nothing is deleted when nothing is written),
 * or with ARGV[7] the one key claimed with it
 * ARGV[1] campaign id, ARGV[2] version of the CXone data ('' = none), ARGV[3] '1' = record must exist,
 * ARGV[4] number of guarded field/value pairs, ARGV[5] the `configRev` the write was built on ('' = no
 * check), ARGV[6] the value KEYS[3] must hold, or be absent, for anything to be written ('' = no
 * check), ARGV[7] a value KEYS[3] is set to unless it is set already, instead of deleting it ('' =
 * none), then the guarded pairs, then unguarded pairs; an empty value removes the field. Storing
 * `config` bumps `configRev`. Returns -1 when the record must exist and does not, 2 (nothing written)
 * when `configRev` moved, 3 (nothing written) when KEYS[3] holds another value, 0 when the guarded
 * fields were stale, 4 when the fields were written but KEYS[3] was set already (ARGV[7]), 1 otherwise.
 */
const WRITE_SCRIPT = `
local kind = redis.call('TYPE', KEYS[1])['ok']
local record
if kind == 'string' then
  record = cmsgpack.unpack(redis.call('GET', KEYS[1]))
elseif kind == 'hash' then
  record = {}
  local flat = redis.call('HGETALL', KEYS[1])
  for i = 1, #flat, 2 do record[flat[i]] = flat[i + 1] end
  record['campaignId'] = nil
elseif ARGV[3] == '1' then
  return -1
else
  record = {}
end
local guarded = tonumber(ARGV[4])
if ARGV[5] ~= '' and tonumber(record['configRev'] or '0') ~= tonumber(ARGV[5]) then
  return 2
end
if ARGV[6] ~= '' then
  local held = redis.call('GET', KEYS[3])
  if held and held ~= ARGV[6] then return 3 end
end
local applyGuarded = 1
if ARGV[2] ~= '' then
  local current = record['version']
  if current and tonumber(current) and tonumber(current) > tonumber(ARGV[2]) then
    applyGuarded = 0
  end
end
local function put(field, value)
  if value == '' then record[field] = nil else record[field] = value end
  if field == 'config' then record['configRev'] = tostring(tonumber(record['configRev'] or '0') + 1) end
end
local i = 8
local stop = 8 + guarded * 2
while i < stop do
  if applyGuarded == 1 then put(ARGV[i], ARGV[i + 1]) end
  i = i + 2
end
while i <= #ARGV do
  put(ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('SET', KEYS[1], cmsgpack.pack(record))
redis.call('SADD', KEYS[2], ARGV[1])
if ARGV[7] ~= '' then
  if not redis.call('SET', KEYS[3], ARGV[7], 'NX') then return 4 end
  return applyGuarded
end
for k = 3, #KEYS do redis.call('DEL', KEYS[k]) end
return applyGuarded
`;

/**
 * Whether CXone is known to hold a newer version than the stored resource: a stats poll carried it
 * (recordStats stores its version as `version`) but the campaign has not been re-read since. `version`
 * alone cannot tell, because a stats poll moves it without refreshing the settings; the stored
 * resource's own version is what the cached config is current to.
 */
export function isResourceBehind(record: Pick<CampaignRecord, 'version' | 'cxone' | 'lastStats'>): boolean {
  const known = Math.max(record.version, record.lastStats?.version ?? 0);
  return known > record.cxone.version;
}

export class UnknownCampaignError extends Error {
  constructor(readonly campaignId: string) {
    super(`campaign ${campaignId} is not known to the orchestrator`);
    this.name = 'UnknownCampaignError';
  }
}

/**
 * Rebuilds the API-shaped config from CXone's resource. CXone wins for everything it stores; the
 * orchestrator-only parts (description, pacing, recipientStates, blackoutDates) come from `base`. A
 * resource that carries a `complianceSettings.recipientStates` anyway (an earlier release wrote one)
 * is not read for them: the states are the orchestrator's, never CXone's.
 */
export function configFromResource(resource: CampaignResource, base?: CampaignConfig): CampaignConfig {
  const d = resource.dialerSettings;
  const c = resource.complianceSettings;
  const config: CampaignConfig = {
    ...(base ?? {}),
    name: resource.name,
    startDateTime: resource.startDateTime,
    targetListId: resource.targetListId,
    skillGroupId: d.skillGroupId,
    complianceTimeZone: c.timeZone,
    allowedCallTimes: withoutRepeatedDays(c.allowedCallTimes),
    dialerStrategy: {
      strategy: d.strategy,
      agentCapacity: d.agentCapacity,
      callRate: d.callRate,
      answerRate: d.answerRate,
    },
    compliance: { regime: c.regulatoryCompliance, doNotCallCheck: c.doNotCallListCheck },
  };
  return config;
}

/**
 * CXone's windows with each day once. Its console may list a day twice, which the orchestrator's own
 * configs may not (config-rules.ts): kept, every later check of the merged config (a PATCH, a pacing
 * write) would be refused for it. The same array when no day repeats. Pure.
 */
function withoutRepeatedDays(
  windows: CampaignConfig['allowedCallTimes'],
): CampaignConfig['allowedCallTimes'] {
  const repeats = windows.some((w) => w.days.some((day, i) => w.days.indexOf(day) !== i));
  return repeats ? windows.map((w) => ({ ...w, days: [...new Set(w.days)] })) : windows;
}

/**
 * The config as read: its recipient states joined with the `declared` ones kept beside them
 * (CampaignRecord.declaredStates), the listed ones first, so none the campaign was launched for or a
 * command added is lost to a sync that wrote the config from an older copy (or, in a record of an
 * earlier release, to CXone's copy of the list). The same config when nothing is missing. Pure.
 */
export function withDeclaredStates(config: CampaignConfig, declared: readonly string[]): CampaignConfig {
  const listed = config.recipientStates ?? [];
  const dropped = declared.filter((s) => !listed.includes(s as never));
  if (dropped.length === 0) return config;
  return { ...config, recipientStates: [...listed, ...dropped] as CampaignConfig['recipientStates'] };
}

/**
 * The declared states once a command's recipient list `written` is stored: every state the campaign
 * was launched for or a command added, so each binds it from then on; null when none is new. Pure.
 */
export function withAddedStates(declared: readonly string[], written: readonly string[]): string[] | null {
  const added = written.filter((s) => !declared.includes(s));
  return added.length === 0 ? null : [...declared, ...added];
}

export class CampaignStore {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly clock: Clock;

  constructor(ctx: Pick<AppContext, 'redis' | 'keys'> & { clock?: Clock }) {
    this.redis = ctx.redis;
    this.keys = ctx.keys;
    this.clock = ctx.clock ?? systemClock;
  }

  async get(campaignId: string): Promise<CampaignRecord | null> {
    const stored = await this.readStored(campaignId);
    if (stored === null) return null;
    const configText = stored.get('config');
    const cxoneText = stored.get('cxone');
    const extraText = stored.get(CXONE_EXTRA);
    if (configText === undefined || (cxoneText === undefined && extraText === undefined)) return null;
    const record: Record<string, unknown> = {};
    for (const [field, value] of stored) {
      if (field === CXONE_EXTRA || !(FIELDS as readonly string[]).includes(field)) continue;
      record[field] = JSON.parse(value);
    }
    record.campaignId = campaignId;
    if (cxoneText === undefined) {
      record.cxone = resourceFromConfig(
        campaignId,
        record.config as CampaignConfig,
        JSON.parse(extraText as string) as ResourceResidue,
      );
    }
    if (!stored.has('efficiency') && record.lastStats) {
      record.efficiency = efficiencyScore(record.lastStats as CampaignStats);
    }
    const declared = record.declaredStates as string[] | undefined;
    if (declared?.length) {
      record.config = withDeclaredStates(record.config as CampaignConfig, declared);
    }
    return record as unknown as CampaignRecord;
  }

  /** Writes a whole record (the launch pipeline after create); older CXone data never replaces newer. */
  async put(record: Omit<CampaignRecord, 'updatedAt'> & { updatedAt?: string }): Promise<boolean> {
    const { campaignId, version, ...rest } = record;
    const fields: Partial<CampaignRecord> = { ...rest, version };
    return (await this.write(campaignId, version, false, fields)) === true;
  }

  /**
   * Stores what CXone just said about a campaign. CXone always wins over the cached view: status,
   * version, settings (mapped back onto the config) are replaced, unless the record already holds a
   * newer version. `extra` sets orchestrator-side fields in the same write (e.g. launchId).
   * Returns false when the resource was older than what is stored.
   *
   * `onlyIfKnown`: writes nothing (false) when there is no record, for a caller that read the record
   * before its CXone call. The retention trim may have removed it meanwhile (campaign-retention.ts),
   * and a write then would bring back a record without its launch, declared states or
   * orchestrator-only settings.
   */
  async syncFromCxone(
    resource: CampaignResource,
    extra: Partial<CampaignRecord> = {},
    opts: { onlyIfKnown?: boolean } = {},
  ): Promise<boolean> {
    const mustExist = opts.onlyIfKnown ?? false;
    // A caller that passes the config owns its orchestrator-only parts (the launch creating the
    // record, a command: commands of one campaign run one at a time). Otherwise they come from the
    // stored config, and the write holds only if no command stored new ones since they were read.
    if (extra.config !== undefined)
      return (await this.writeSync(resource, extra, undefined, mustExist)) === true;
    for (let attempt = 0; attempt < LOCAL_CONFIG_ATTEMPTS; attempt++) {
      const stored = await this.storedConfig(resource.id);
      const result = await this.writeSync(
        resource,
        { ...extra, ...(stored ? { config: stored.config } : {}) },
        stored?.configRev ?? 0,
        mustExist,
      );
      if (result !== 2) return result === true;
    }
    throw new Error(
      `campaign ${resource.id}: its orchestrator-only settings kept changing while the record was synced`,
    );
  }

  private async writeSync(
    resource: CampaignResource,
    extra: Partial<CampaignRecord>,
    expectConfigRev?: number,
    mustExist = false,
  ): Promise<boolean | null | 2> {
    // Deletes no marker and takes no claim, so never 3 or 4.
    return this.write(
      resource.id,
      resource.version,
      mustExist,
      {
        ...extra,
        campaignId: resource.id,
        status: resource.status,
        version: resource.version,
        cxone: resource,
        config: configFromResource(resource, extra.config),
        syncedAt: new Date(this.clock.now()).toISOString(),
      },
      [],
      expectConfigRev,
    ) as Promise<boolean | null | 2>;
  }

  /**
   * Sets the orchestrator-only parts of a campaign's config (description, pacing, compliance,
   * recipientStates, blackoutDates: only we hold them) on top of the CXone part the record holds now,
   * whatever its version: a `syncFromCxone` with the caller's resource would be dropped whole by the
   * version guard whenever a stats poll or another read stored a newer version in between (or a poll
   * saw a newer version than the stored resource), and these fields exist nowhere else: the change
   * would be lost while the caller recorded it as applied. Read, merge, write guarded by `configRev`,
   * again if another write of the config landed meanwhile.
   */
  async updateLocalConfig(resource: CampaignResource, local: LocalConfig): Promise<void> {
    for (let attempt = 0; attempt < LOCAL_CONFIG_ATTEMPTS; attempt++) {
      const stored = await this.get(resource.id);
      if (!stored) {
        // No record yet: the resource and these settings are all there is.
        if (await this.syncFromCxone(resource, { config: local as CampaignConfig })) return;
        continue;
      }
      // On the CXone part as stored (whatever version a poll or read stored last: these fields do not
      // depend on it), guarded by configRev alone: a sync or another write in between means read again.
      const config = configFromResource(stored.cxone, { ...stored.config, ...local } as CampaignConfig);
      const result = await this.write(
        resource.id,
        undefined,
        true,
        { config, cxone: stored.cxone },
        [],
        stored.configRev ?? 0,
      );
      if (result === true) return;
    }
    throw new Error(
      `campaign ${resource.id}: its record's config kept changing; the orchestrator-only settings were not stored`,
    );
  }

  /** Records a statistics poll; the status/version it carries count as CXone data (version-guarded). */
  async recordStats(
    campaignId: string,
    stats: CampaignStats,
    efficiency: EfficiencyMetrics | null,
  ): Promise<void> {
    const at = new Date(this.clock.now()).toISOString();
    const result = await this.write(campaignId, stats.version, true, {
      status: stats.status,
      version: stats.version,
      lastStats: { ...stats, at },
      efficiency,
    });
    if (result === null) throw new UnknownCampaignError(campaignId);
  }

  /**
   * Sets the given top-level fields. For the orchestrator-side fields (pacing, polling, compliance,
   * lastCommand, launchId); CXone fields passed here are version-guarded like any other CXone write.
   */
  async patch(campaignId: string, partial: Partial<CampaignRecord>): Promise<void> {
    const result = await this.write(campaignId, partial.version, true, partial);
    if (result === null) throw new UnknownCampaignError(campaignId);
  }

  /**
   * Sets orchestrator-side fields and, in the same step, `claim.key` to `claim.value` unless it is
   * already set: a field that says a claim may be held, written apart from the claim, could be
   * cleared between the two by a reader acting on it, and the claim then taken after would be held
   * with nothing left saying so. Returns whether this write took the claim (false: it was held, the
   * fields are written all the same).
   */
  async patchAndClaim(
    campaignId: string,
    partial: Partial<CampaignRecord>,
    claim: AlsoClaim['claim'],
  ): Promise<boolean> {
    const result = await this.write(campaignId, partial.version, true, partial, [], undefined, { claim });
    if (result === null) throw new UnknownCampaignError(campaignId);
    return result !== 4;
  }

  /**
   * Removes orchestrator-owned fields that no longer hold (`polling` once the campaign is not polled,
   * `missingOnCxone` once CXone answers for it again, a history cursor CXone refused, an
   * `activationSent` whose write was never sent or refused), so the record does not go on reporting them.
   * A missing record is left missing. `also.delete` names keys that go in the same step (a marker kept
   * beside a field, which a crash between two writes would leave behind the field); with
   * `also.whileHolding`, nothing is written when the first of them holds another value (the marker
   * of a newer fact than the one the caller read). Returns whether it wrote.
   */
  async clear(
    campaignId: string,
    fields: readonly (
      'polling' | 'missingOnCxone' | 'missingClaimAt' | 'historyResumeCursor' | 'activationSent'
    )[],
    also: AlsoDelete = { delete: [] },
  ): Promise<boolean> {
    return (await this.write(campaignId, undefined, true, {}, fields, undefined, also)) === true;
  }

  async listIds(): Promise<string[]> {
    return this.redis.smembers(this.keys.campaignIndex());
  }

  async delete(campaignId: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.keys.campaign(campaignId))
      .srem(this.keys.campaignIndex(), campaignId)
      .exec();
  }

  /** The stored field → JSON text map; records an earlier release kept as a hash are read as is. */
  private async readStored(campaignId: string): Promise<Map<string, string> | null> {
    const key = this.keys.campaign(campaignId);
    try {
      const blob = await this.redis.getBuffer(key);
      if (blob === null) return null;
      return new Map([...decodeFieldMap(blob)].map(([field, value]) => [field, unpackText(value)]));
    } catch (err) {
      if (!isWrongType(err)) throw err;
      const legacy = await this.redis.hgetall(key);
      return Object.keys(legacy).length === 0 ? null : new Map(Object.entries(legacy));
    }
  }

  /**
   * The stored config, with the declared states a record of an earlier release kept beside it joined
   * in (as `get` reads it), or null.
   */
  private async storedConfig(
    campaignId: string,
  ): Promise<{ config: CampaignConfig; configRev: number } | null> {
    const stored = await this.readStored(campaignId);
    const configText = stored?.get('config');
    if (configText === undefined) return null;
    const config = JSON.parse(configText) as CampaignConfig;
    const declaredText = stored?.get('declaredStates');
    const declared = declaredText === undefined ? [] : (JSON.parse(declaredText) as string[]);
    const revText = stored?.get('configRev');
    return {
      config: withDeclaredStates(config, declared),
      configRev: revText === undefined ? 0 : Number(revText),
    };
  }

  private async readField<T>(campaignId: string, field: FieldName): Promise<T | null> {
    if (field === 'cxone') return ((await this.get(campaignId))?.cxone ?? null) as T | null;
    const raw = (await this.readStored(campaignId))?.get(field);
    return raw === undefined ? null : (JSON.parse(raw) as T);
  }

  /**
   * Returns null when mustExist and the record is missing, false when the CXone part was stale, 2 when
   * `configRev` moved and 3 when `also.whileHolding` did not hold (nothing written either way), 4 when
   * it wrote but `also.claim` was held already.
   */
  private async write(
    campaignId: string,
    version: number | undefined,
    mustExist: boolean,
    fields: Partial<CampaignRecord>,
    remove: readonly FieldName[] = [],
    expectConfigRev?: number,
    also: AlsoDelete | AlsoClaim = { delete: [] },
  ): Promise<boolean | null | 2 | 3 | 4> {
    const guarded: (string | Buffer)[] = [];
    const unguarded: (string | Buffer)[] = [];
    const add = (field: StoredField, text: string) => {
      // The script compares `version` and `configRev` as numbers, so they are never deflated.
      const stored = text === DELETE || field === 'version' || field === 'configRev' ? text : packText(text);
      (CXONE_FIELDS.has(field) ? guarded : unguarded).push(field, stored);
    };
    const all: Partial<CampaignRecord> = {
      ...fields,
      updatedAt: fields.updatedAt ?? new Date(this.clock.now()).toISOString(),
    };
    // Efficiency is a pure function of the stats: stored only when a caller passed something else.
    const derivedEfficiency = all.lastStats !== undefined ? efficiencyScore(all.lastStats) : undefined;
    for (const [field, value] of Object.entries(all)) {
      if (value === undefined || field === 'campaignId' || field === 'cxone') continue;
      if (!(FIELDS as readonly string[]).includes(field)) continue;
      const text = JSON.stringify(value);
      const derivable = field === 'efficiency' && JSON.stringify(derivedEfficiency) === text;
      add(field as FieldName, derivable ? DELETE : text);
    }
    for (const field of remove) add(field, DELETE);
    // The resource is kept as its difference from the config stored with it, so a write of either
    // one stores the difference against the pair as it will be after this write.
    if (all.cxone !== undefined || all.config !== undefined) {
      const config = all.config ?? (await this.readField<CampaignConfig>(campaignId, 'config'));
      const resource = all.cxone ?? (await this.readField<CampaignResource>(campaignId, 'cxone'));
      if (config !== null && resource !== null) {
        add(CXONE_EXTRA, JSON.stringify(resourceResidue(resource, config)));
        add('cxone', DELETE);
      }
    }
    const sideKeys = 'claim' in also ? [also.claim.key] : also.delete;
    const result = (await evalScript(
      this.redis,
      WRITE_SCRIPT,
      2 + sideKeys.length,
      this.keys.campaign(campaignId),
      this.keys.campaignIndex(),
      ...sideKeys,
      campaignId,
      version === undefined ? '' : String(version),
      mustExist ? '1' : '0',
      String(guarded.length / 2),
      expectConfigRev === undefined ? '' : String(expectConfigRev),
      'delete' in also && also.delete.length > 0 ? (also.whileHolding ?? '') : '',
      'claim' in also ? also.claim.value : '',
      ...guarded,
      ...unguarded,
    )) as number;
    if (result === -1) return null;
    return result === 2 || result === 3 || result === 4 ? result : result === 1;
  }
}

export function createCampaignStore(
  ctx: Pick<AppContext, 'redis' | 'keys'> & { clock?: Clock },
): CampaignStore {
  return new CampaignStore(ctx);
}
