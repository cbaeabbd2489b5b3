import type { Redis } from 'ioredis';
import {
  attemptFleetClaim,
  fleetClaimKey,
  fleetClaimKeys,
  fleetRecordKey,
} from '../../src/shared/fleet-claim.js';
import { fleetIdentity } from '../../src/shared/fleet-identity.js';
import { createKeys } from '../../src/shared/keys.js';

/** The CXone of the fleet intrude() brings in: what the contest's messages must name. */
export const INTRUDER_CXONE = 'https://other-tenant.example';

/**
 * The running fleet's claim lapses (as after a Redis outage longer than its TTL) and a fleet of
 * another tenant claims the prefix; returns the claim's key.
 */
export async function intrude(redis: Redis, prefix: string): Promise<string> {
  const key = fleetClaimKey(createKeys(prefix));
  const last = await redis.hget(fleetRecordKey(createKeys(prefix)), 'fp');
  const other = fleetIdentity({
    cxoneBaseUrl: INTRUDER_CXONE,
    cxoneClientId: 'other',
    embeddedSandbox: false,
    sandboxMode: false,
    hostname: 'elsewhere',
  });
  // The running fleet renews often in tests and re-creates a missing claim, so one of its renewals
  // can land between the deletion and the other fleet's claim: try again until the other fleet is in.
  for (let attempt = 0; attempt < 50; attempt++) {
    await redis.del(key);
    const claim = await attemptFleetClaim(
      redis,
      fleetClaimKeys(createKeys(prefix)),
      other,
      'intruder',
      60_000,
      false,
      last!,
    );
    if (claim.held) return key;
  }
  throw new Error('the other fleet never got the prefix in 50 attempts');
}

/** The other fleet stopped and the prefix was given back (as FLEET_TAKEOVER would at a restart). */
export async function giveBack(redis: Redis, prefix: string): Promise<void> {
  await redis.del(fleetClaimKey(createKeys(prefix)));
  await redis.del(fleetRecordKey(createKeys(prefix)));
}
