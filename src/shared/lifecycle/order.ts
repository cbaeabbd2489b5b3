import type { Redis } from 'ioredis';
import type { Keys } from '../keys.js';
import { evalScript } from '../redis-script.js';

/**
 * Per-campaign command order. Commands on one campaign are applied in the order they were accepted,
 * across the whole fleet: a pacing decision made after another must not be overtaken by it, whichever
 * worker happens to pick which job first. Each campaign has a sorted set of its unfinished commands,
 * scored by a fleet-wide sequence number; only the command at the head may run. Different campaigns
 * have different sets and proceed in parallel.
 */
export function pendingKey(keys: Keys, campaignId: string): string {
  return keys.custom('lifecycle', 'pending', campaignId);
}

function sequenceKey(keys: Keys): string {
  return keys.custom('lifecycle', 'seq');
}

// ARGV[2] = '1': registers only when every command in the order is one of ARGV[3..]; otherwise
// returns {0, the others} (a sequence number is never 0: INCR starts at 1). The check and the ZADD are
// one step, so no command can join between them.
const REGISTER = `
local ahead = redis.call('ZRANGE', KEYS[1], 0, -1)
if ARGV[2] == '1' then
  local allowed = {}
  for i = 3, #ARGV do allowed[ARGV[i]] = true end
  local others = {}
  for _, id in ipairs(ahead) do
    if not allowed[id] then others[#others + 1] = id end
  end
  if #others > 0 then return {0, others} end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
return {seq, ahead}
`;

/** What registerIfOnly did: queued as register does, or refused for the commands it did not allow. */
export type ConditionalRegistration = { seq: number; ahead: string[] } | { seq: null; others: string[] };

export interface CommandOrder {
  /**
   * Puts the command at the tail of its campaign's queue; returns its sequence number and the
   * commands ahead of it (oldest first), read in the same step.
   */
  register(campaignId: string, commandId: string): Promise<{ seq: number; ahead: string[] }>;
  /**
   * register, only if every command in the campaign's order is one of `allowed` (the order as the
   * caller read and judged it): a command that joined since refuses it, in the same atomic step, and
   * is named in `others`.
   */
  registerIfOnly(
    campaignId: string,
    commandId: string,
    allowed: readonly string[],
  ): Promise<ConditionalRegistration>;
  /** The command that may run now, or null when none is pending. */
  head(campaignId: string): Promise<string | null>;
  remove(campaignId: string, commandId: string): Promise<void>;
  pending(campaignId: string): Promise<string[]>;
}

export function createCommandOrder(deps: { redis: Redis; keys: Keys }): CommandOrder {
  const { redis, keys } = deps;
  return {
    async register(campaignId, commandId) {
      const [seq, ahead] = (await evalScript(
        redis,
        REGISTER,
        2,
        pendingKey(keys, campaignId),
        sequenceKey(keys),
        commandId,
        '0',
      )) as [number, string[]];
      return { seq: Number(seq), ahead };
    },
    async registerIfOnly(campaignId, commandId, allowed) {
      const [seq, listed] = (await evalScript(
        redis,
        REGISTER,
        2,
        pendingKey(keys, campaignId),
        sequenceKey(keys),
        commandId,
        '1',
        ...allowed,
      )) as [number, string[]];
      return Number(seq) === 0 ? { seq: null, others: listed } : { seq: Number(seq), ahead: listed };
    },
    async head(campaignId) {
      const [first] = await redis.zrange(pendingKey(keys, campaignId), '0', '0');
      return first ?? null;
    },
    async remove(campaignId, commandId) {
      await redis.zrem(pendingKey(keys, campaignId), commandId);
    },
    pending(campaignId) {
      return redis.zrange(pendingKey(keys, campaignId), '0', '-1');
    },
  };
}
