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

const REGISTER = `
local ahead = redis.call('ZRANGE', KEYS[1], 0, -1)
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
return {seq, ahead}
`;

export interface CommandOrder {
  /**
   * Puts the command at the tail of its campaign's queue; returns its sequence number and the
   * commands ahead of it (oldest first), read in the same step.
   */
  register(campaignId: string, commandId: string): Promise<{ seq: number; ahead: string[] }>;
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
      )) as [number, string[]];
      return { seq: Number(seq), ahead };
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
