import { createHash } from 'node:crypto';
import { canonicalJson } from '../shared/canonical-json.js';
import type { AppContext } from '../shared/context.js';
import type { CampaignPatch } from '../shared/lifecycle/patch.js';
import type { CampaignAction } from '../shared/lifecycle/state-machine.js';
import { evalScript } from '../shared/redis-script.js';

/**
 * Idempotency-Key on the command routes (PATCH /v1/campaigns/:id, POST …/actions): a client that lost
 * the answer to a command retries it with the same key and is told the command it already made,
 * instead of making a second one — which, for a stop that has run, would be a 409 `invalid_state`
 * telling it the stop failed.
 *
 * Keys live in their own namespace (`{prefix}:command-idem:<key>`), apart from the launches': a key
 * names one request to one route family, as payment APIs scope theirs.
 */

/** As long as a launch's key is kept: a client's retries of one request come within a day. */
export const COMMAND_KEY_TTL_SECONDS = 24 * 3600;

/** What a command's key stands for, as stored. */
export interface CommandKeyClaim {
  commandId: string;
  campaignId: string;
  /** commandFingerprint of the request that claimed the key. */
  fingerprint: string;
  /** When the key was claimed (the API's clock, ms): tells a claim still at work from a dead one. */
  claimedAtMs: number;
}

/**
 * Pure: the request's identity for its key — the campaign, the action (none for a PATCH) and the
 * patch as parsed, in canonical JSON, so key order and spacing do not make two requests differ.
 */
export function commandFingerprint(
  campaignId: string,
  command: { action?: CampaignAction | undefined; patch?: CampaignPatch | undefined },
): string {
  const identity = canonicalJson({
    campaignId,
    action: command.action ?? null,
    patch: command.patch ?? null,
  });
  return createHash('sha256').update(identity).digest('hex');
}

/** Pure: parses a stored claim; a value this code did not write reads as no claim. */
export function parseClaim(raw: string): CommandKeyClaim | undefined {
  try {
    const value = JSON.parse(raw) as Partial<CommandKeyClaim>;
    if (
      typeof value.commandId === 'string' &&
      typeof value.campaignId === 'string' &&
      typeof value.fingerprint === 'string' &&
      typeof value.claimedAtMs === 'number'
    ) {
      return value as CommandKeyClaim;
    }
  } catch {
    // not JSON: as below
  }
  return undefined;
}

// Replaces a claim only if it is still the one the caller judged dead, so two takers cannot both win.
const REPLACE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0`;

// Lets a key go only while it still names the caller's command: one taken over since stays.
const RELEASE_LUA = `local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local ok, claim = pcall(cjson.decode, raw)
if ok and type(claim) == 'table' and claim.commandId == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/** A key's stored value, and what it says when it is a claim. */
export interface FoundClaim {
  claim?: CommandKeyClaim;
  raw: string;
}

export function createCommandKeys(ctx: Pick<AppContext, 'redis' | 'keys'>) {
  const keyOf = (key: string) => ctx.keys.custom('command-idem', key);
  return {
    /** The key's claim as stored (`claim` absent when the value is not one this code wrote). */
    async find(key: string): Promise<FoundClaim | undefined> {
      const raw = await ctx.redis.get(keyOf(key));
      if (raw === null) return undefined;
      const claim = parseClaim(raw);
      return claim ? { claim, raw } : { raw };
    },

    /** Claims the key for a command about to be queued: undefined, or the claim it lost to. */
    async claim(key: string, claim: CommandKeyClaim): Promise<FoundClaim | undefined> {
      for (;;) {
        const set = await ctx.redis.set(
          keyOf(key),
          JSON.stringify(claim),
          'EX',
          COMMAND_KEY_TTL_SECONDS,
          'NX',
        );
        if (set === 'OK') return undefined;
        const found = await this.find(key);
        // Released between the two steps (its request failed): the key is free again, try once more.
        if (found) return found;
      }
    },

    /** Takes over a claim judged dead (see claimIsDead), unless it changed since it was read. */
    async replace(key: string, oldRaw: string, claim: CommandKeyClaim): Promise<boolean> {
      const replaced = await evalScript(
        ctx.redis,
        REPLACE_LUA,
        1,
        keyOf(key),
        oldRaw,
        JSON.stringify(claim),
        COMMAND_KEY_TTL_SECONDS,
      );
      return replaced === 1;
    },

    /** Frees the key of a command that was not queued, so the client's retry with it can be. */
    async release(key: string, commandId: string): Promise<void> {
      await evalScript(ctx.redis, RELEASE_LUA, 1, keyOf(key), commandId);
    },
  };
}

export type CommandKeys = ReturnType<typeof createCommandKeys>;

/**
 * Pure: a claim whose command was never stored is dead once its request's deadline is well past —
 * that request died between the claim and the command's record (the process killed, Redis lost in
 * the middle) and freed nothing. Until then it may still be at work, and a retry is told to wait.
 */
export function claimIsDead(claim: CommandKeyClaim, nowMs: number, requestDeadlineMs: number): boolean {
  return nowMs - claim.claimedAtMs > requestDeadlineMs + 30_000;
}
