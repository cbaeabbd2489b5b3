import type { Redis } from 'ioredis';
import { missingMarkerKey } from './campaign-missing.js';
import { CampaignStore, type CampaignRecord } from './campaign-store.js';
import { complianceKeys } from './compliance/state-store.js';
import type { Keys } from './keys.js';
import { isFinal } from './lifecycle/state-machine.js';
import type { Logger } from './logger.js';
import { evalScript, TYPE_CHECK_LUA } from './redis-script.js';

/** Campaign ids read from the index per SSCAN call (and records read at once). */
const SCAN_BATCH = 200;

/**
 * Whether what Redis keeps of a campaign is past the retention: the campaign is final (completed or
 * cancelled, which CXone never leaves) and its record was last written before `cutoffMs`. The record
 * stores no time of its final state; `updatedAt`, bumped by every write, is at or after it, so a
 * record something still writes to (a late poll, a history import) is kept. Pure.
 */
export function isPastRetention(
  record: Pick<CampaignRecord, 'status' | 'updatedAt'>,
  cutoffMs: number,
): boolean {
  const updated = Date.parse(record.updatedAt);
  return isFinal(record.status) && Number.isFinite(updated) && updated < cutoffMs;
}

/**
 * The keys of one audit chain a retention purge removes with it (audit/trail.ts names them): all of
 * them under the hash-tagged prefix, so a script may take them with the campaign's own.
 */
export interface AuditChainKeys {
  head: string;
  index: string;
  dedupe: string;
  /** The chain's writer queue and its liveness set (they expire 2 s after their last use). */
  queue: string;
  queueSeen: string;
}

/**
 * Lua shared by both purges: removes a chain whose index is empty (every record trimmed) — its head,
 * index, dedupe entries, queue, its anchor and its place in the set of audited campaigns — and
 * answers 1; 0 when there was none or records are still in its index; -1 when it left the chain as it
 * was for a key of another type than the trail writes (checked before any write, as Redis does not
 * roll a script back; verify reports the damage). `k` is the index of the chain's first key in KEYS,
 * in the order chainSlots gives.
 */
const CHAIN_REMOVE_LUA = `${TYPE_CHECK_LUA}
local function remove_empty_chain(k, id)
  if wrong_type(KEYS[k], 'stream', KEYS[k + 1], 'string', KEYS[k + 2], 'hash', KEYS[k + 3], 'hash',
      KEYS[k + 4], 'set') then
    return -1
  end
  if redis.call('XLEN', KEYS[k]) > 0 then return 0 end
  local removed = redis.call('DEL', KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 5], KEYS[k + 6])
    + redis.call('HDEL', KEYS[k + 3], id) + redis.call('SREM', KEYS[k + 4], id)
  if removed > 0 then return 1 end
  return 0
end
`;

/** A chain's KEYS for CHAIN_REMOVE_LUA: index, head, dedupe, anchors hash, audited set, queue, queue-seen. */
function chainSlots(chain: AuditChainKeys, anchors: string, audited: string): string[] {
  return [chain.index, chain.head, chain.dedupe, anchors, audited, chain.queue, chain.queueSeen];
}

/**
 * Removes one finished campaign's keys, only if its record still holds the status and `updatedAt`
 * the caller decided on (a write since moved `updatedAt`), its audit chain has no record from ARGV[4]
 * on (a record appended since) and no writer queued to append one. One script: nothing can write in
 * between. With the record goes its audit chain, once every record of it is trimmed (always, after
 * the trim that runs the purge): the head, index, dedupe entries, anchor and set entry nothing would
 * read or write again for a campaign the orchestrator no longer knows.
 * KEYS[1] record, KEYS[2] campaign index set, KEYS[3] compliance state, KEYS[4] compliance log,
 * KEYS[5] its missing-on-CXone note (campaign-missing.ts: no expiry, and nothing clears it without
 * the record), KEYS[6..12] its chain (chainSlots; KEYS[6] the chain's index). ARGV[1] campaign id,
 * ARGV[2] status as stored (JSON text), ARGV[3] updatedAt as stored (JSON text), ARGV[4] the first
 * stream id inside the retention.
 * Returns {0} when it kept the campaign, else {1, compliance keys removed, what became of its chain
 * (remove_empty_chain's answer)}.
 * (Both fields are shorter than the codec's deflate threshold, so they are stored as plain JSON text;
 * a value stored otherwise compares unequal and the campaign is kept.)
 */
const PURGE_SCRIPT = `${CHAIN_REMOVE_LUA}
local kind = redis.call('TYPE', KEYS[1])['ok']
local status, updated
if kind == 'string' then
  local record = cmsgpack.unpack(redis.call('GET', KEYS[1]))
  status = record['status']
  updated = record['updatedAt']
elseif kind == 'hash' then
  status = redis.call('HGET', KEYS[1], 'status')
  updated = redis.call('HGET', KEYS[1], 'updatedAt')
else
  return {0}
end
if status ~= ARGV[2] or updated ~= ARGV[3] then return {0} end
if #redis.call('XRANGE', KEYS[6], ARGV[4], '+', 'COUNT', 1) > 0 then return {0} end
if redis.call('EXISTS', KEYS[11]) == 1 then return {0} end
local compliance = redis.call('DEL', KEYS[3], KEYS[4])
redis.call('DEL', KEYS[1], KEYS[5])
redis.call('SREM', KEYS[2], ARGV[1])
return {1, compliance, remove_empty_chain(6, ARGV[1])}
`;

/**
 * Removes an audit chain nothing owns any more, once every record of it is trimmed and no writer is
 * queued on it: a launch's chain (`launch:<launchId>`) once its launch record is gone (it expires,
 * LAUNCH_RETENTION_SECONDS), any other chain once no campaign record of its id exists (a campaign
 * purged by an earlier release, which left its emptied chain; a failed launch that never got a
 * record; a console-made campaign, or a purged one, whose CXone history was imported by hand). One
 * script: a record created or an append made before it keeps the chain; one made after it starts a
 * new chain. KEYS[1] the owner's record (launch record or campaign record), KEYS[2..8] the chain
 * (chainSlots). ARGV[1] the chain's id.
 * Answers as remove_empty_chain (1: removed), 0 also when the owner's record is there or a writer queued.
 */
const ORPHAN_CHAIN_SCRIPT = `${CHAIN_REMOVE_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[7]) == 1 then return 0 end
return remove_empty_chain(2, ARGV[1])
`;

export interface CampaignPurgeResult {
  /** Campaign records removed (each with its entry in the campaigns index). */
  removedCampaigns: number;
  /** Compliance keys (`compliance:<id>`, `compliance-log:<id>`) removed with them. */
  removedComplianceKeys: number;
  /**
   * Audit chains removed whole (head, index, dedupe entries, anchor, entry in the audited set): those
   * of the campaigns removed, those of launches whose launch record is gone, and those of which no
   * campaign record exists.
   */
  removedChains: number;
}

export interface CampaignPurgeOptions {
  redis: Redis;
  keys: Keys;
  logger: Logger;
  /** Campaigns final and last written before this instant (epoch ms) are removed. */
  cutoffMs: number;
  /** The first audit stream id inside the retention: a campaign whose chain has one is kept. */
  keepFromStreamId: string;
  /** Called before each write; throws once the caller's lock is lost, stopping the purge. */
  held: () => void;
  /** The audit trail's keys of one chain, and of the anchors hash and the set of audited campaigns. */
  chain: (id: string) => AuditChainKeys;
  anchorsKey: string;
  auditedKey: string;
  /**
   * Counted into as the purge goes (a fresh result when not given), so that a purge that stops midway
   * (lock lost, Redis gone) still tells its caller what it removed.
   */
  into?: CampaignPurgeResult;
}

/**
 * Removes what Redis keeps of each campaign past the retention (isPastRetention) whose audit chain
 * has nothing inside it: its record, its campaigns-index entry, its compliance state and log, its
 * missing-on-CXone note, and its audit chain's head, index, dedupe entries, anchor and entry in the
 * set of audited campaigns. The index is walked with SSCAN a batch at a time (never KEYS); every key
 * of a campaign is under the hash-tagged prefix, so the one script per campaign is valid on Redis
 * Cluster. Each campaign goes whole or not at all, so a purge that stops midway has removed whole
 * campaigns only. What else the campaign left expires by itself (launch record, commands, fencing
 * counter); the launch's own chain goes with purgeOrphanChains once its launch record has.
 */
export async function purgeFinishedCampaigns(opts: CampaignPurgeOptions): Promise<CampaignPurgeResult> {
  const { redis, keys } = opts;
  const store = new CampaignStore({ redis, keys });
  const result = opts.into ?? { removedCampaigns: 0, removedComplianceKeys: 0, removedChains: 0 };
  let cursor = '0';
  do {
    const [next, ids] = await redis.sscan(keys.campaignIndex(), cursor, 'COUNT', SCAN_BATCH);
    cursor = next;
    // A record that cannot be read is kept and said, not left to stop every later trim's purge.
    const records = await Promise.all(
      ids.map((id) =>
        store.get(id).catch((err: unknown) => {
          opts.logger.warn({ err, campaignId: id }, 'retention: campaign record unreadable; kept');
          return null;
        }),
      ),
    );
    for (const record of records) {
      if (record === null || !isPastRetention(record, opts.cutoffMs)) continue;
      const id = record.campaignId;
      const compliance = complianceKeys(keys, id);
      const chain = chainSlots(opts.chain(id), opts.anchorsKey, opts.auditedKey);
      opts.held();
      const [removed, complianceRemoved = 0, chainRemoved = 0] = (await evalScript(
        redis,
        PURGE_SCRIPT,
        5 + chain.length,
        keys.campaign(id),
        keys.campaignIndex(),
        compliance.state,
        compliance.log,
        missingMarkerKey(keys, id),
        ...chain,
        id,
        JSON.stringify(record.status),
        JSON.stringify(record.updatedAt),
        opts.keepFromStreamId,
      )) as [number, number?, number?];
      if (removed !== 1) continue;
      result.removedCampaigns++;
      result.removedComplianceKeys += complianceRemoved;
      if (chainRemoved === 1) result.removedChains++;
      if (chainRemoved === -1) {
        opts.logger.warn(
          { campaignId: id },
          'retention: finished campaign removed; its audit chain kept, a key of it holding another type than the trail writes (run verify)',
        );
      }
      opts.logger.info(
        { campaignId: id, status: record.status, updatedAt: record.updatedAt },
        'retention: finished campaign removed',
      );
    }
  } while (cursor !== '0');
  return result;
}

/** The launch id of a launch's audit chain (`launch:<launchId>`, launch-store.ts launchAuditId), else null. */
function launchOfChain(chainId: string): string | null {
  return chainId.startsWith('launch:') ? chainId.slice('launch:'.length) : null;
}

/**
 * Removes the audit chains whose owner is gone and whose every record is trimmed, when no writer is
 * queued on them (ORPHAN_CHAIN_SCRIPT): launches' chains (`launch:<launchId>`: the request, and a
 * failure before CXone gave the launch a campaign) whose launch record has expired (only the script
 * that creates it sets the expiry), and every other chain of which no campaign record exists. Nothing
 * the fleet runs appends to such a chain by itself (a launch's records are written while its record
 * lives; the automatic history import stops at a missing campaign record), and nothing reads it but
 * verify and export, which then answer as for any id without records. A chain with a record inside
 * the retention, or of a campaign the orchestrator still knows (purgeFinishedCampaigns removes its
 * chain with it, when it goes), is kept. Walks the set of audited campaigns with SSCAN; one script
 * per chain, which checks all of it at once, so a chain goes whole or not at all. Counted into
 * `into.removedChains`.
 */
export async function purgeOrphanChains(
  opts: Omit<CampaignPurgeOptions, 'cutoffMs' | 'keepFromStreamId'> & { into: CampaignPurgeResult },
): Promise<void> {
  const { redis, keys } = opts;
  let cursor = '0';
  do {
    const [next, ids] = await redis.sscan(opts.auditedKey, cursor, 'COUNT', SCAN_BATCH);
    cursor = next;
    for (const id of ids) {
      const launchId = launchOfChain(id);
      const owner = launchId === null ? keys.campaign(id) : keys.launch(launchId);
      const chain = chainSlots(opts.chain(id), opts.anchorsKey, opts.auditedKey);
      opts.held();
      const removed = (await evalScript(
        redis,
        ORPHAN_CHAIN_SCRIPT,
        1 + chain.length,
        owner,
        ...chain,
        id,
      )) as number;
      const about = launchId === null ? { chain: id } : { launchId, chain: id };
      if (removed === -1) {
        opts.logger.warn(
          about,
          'retention: audit chain with no owner left kept, a key of it holding another type than the trail writes (run verify)',
        );
      }
      if (removed !== 1) continue;
      opts.into.removedChains++;
      opts.logger.info(
        about,
        launchId === null
          ? 'retention: audit chain of no known campaign removed, every record of it trimmed'
          : "retention: expired launch's audit chain removed",
      );
    }
  } while (cursor !== '0');
}
