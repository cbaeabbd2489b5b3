import type { Redis } from 'ioredis';
import { missingMarkerKey } from './campaign-missing.js';
import { CampaignStore, type CampaignRecord } from './campaign-store.js';
import { complianceKeys } from './compliance/state-store.js';
import type { Keys } from './keys.js';
import { isFinal } from './lifecycle/state-machine.js';
import type { Logger } from './logger.js';
import { evalScript } from './redis-script.js';

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
 * Removes one finished campaign's keys, only if its record still holds the status and `updatedAt`
 * the caller decided on (a write since moved `updatedAt`) and its audit chain has no record from
 * ARGV[4] on (a record appended since). One script: nothing can write in between.
 * KEYS[1] record, KEYS[2] campaign index set, KEYS[3] compliance state, KEYS[4] compliance log,
 * KEYS[5] the campaign's audit index, KEYS[6] its missing-on-CXone note (campaign-missing.ts: no
 * expiry, and nothing clears it without the record). ARGV[1] campaign id, ARGV[2] status as stored
 * (JSON text), ARGV[3] updatedAt as stored (JSON text), ARGV[4] the first stream id inside the
 * retention.
 * Returns {0} when it kept the campaign, else {1, compliance keys removed}.
 * (Both fields are shorter than the codec's deflate threshold, so they are stored as plain JSON text;
 * a value stored otherwise compares unequal and the campaign is kept.)
 */
const PURGE_SCRIPT = `
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
if #redis.call('XRANGE', KEYS[5], ARGV[4], '+', 'COUNT', 1) > 0 then return {0} end
local compliance = redis.call('DEL', KEYS[3], KEYS[4])
redis.call('DEL', KEYS[1], KEYS[6])
redis.call('SREM', KEYS[2], ARGV[1])
return {1, compliance}
`;

export interface CampaignPurgeResult {
  /** Campaign records removed (each with its entry in the campaigns index). */
  removedCampaigns: number;
  /** Compliance keys (`compliance:<id>`, `compliance-log:<id>`) removed with them. */
  removedComplianceKeys: number;
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
}

/**
 * Removes what Redis keeps of each campaign past the retention (isPastRetention) whose audit chain
 * has nothing inside it: its record, its campaigns-index entry, its compliance state and log, its
 * missing-on-CXone note. The index is walked with SSCAN a batch at a time (never KEYS); every key of
 * a campaign is under the hash-tagged prefix, so the one script per campaign is valid on Redis
 * Cluster. What else the campaign left is kept: its audit chain's head, anchor and dedupe entries
 * (the trail's own), and what expires by itself (launch record, commands, fencing counter).
 */
export async function purgeFinishedCampaigns(opts: CampaignPurgeOptions): Promise<CampaignPurgeResult> {
  const { redis, keys } = opts;
  const store = new CampaignStore({ redis, keys });
  const result: CampaignPurgeResult = { removedCampaigns: 0, removedComplianceKeys: 0 };
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
      opts.held();
      const [removed, complianceRemoved = 0] = (await evalScript(
        redis,
        PURGE_SCRIPT,
        6,
        keys.campaign(id),
        keys.campaignIndex(),
        compliance.state,
        compliance.log,
        keys.auditCampaignIndex(id),
        missingMarkerKey(keys, id),
        id,
        JSON.stringify(record.status),
        JSON.stringify(record.updatedAt),
        opts.keepFromStreamId,
      )) as [number, number?];
      if (removed !== 1) continue;
      result.removedCampaigns++;
      result.removedComplianceKeys += complianceRemoved;
      opts.logger.info(
        { campaignId: id, status: record.status, updatedAt: record.updatedAt },
        'retention: finished campaign removed',
      );
    }
  } while (cursor !== '0');
  return result;
}
