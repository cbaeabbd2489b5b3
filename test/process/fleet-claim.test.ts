import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  attemptFleetClaim,
  claimFleet,
  fleetClaimKey,
  FleetPrefixInUseError,
  type FleetClaim,
} from '../../src/shared/fleet-claim.js';
import { fleetIdentity, isLoopbackHost, prefixInUseMessage } from '../../src/shared/fleet-identity.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

const tenantA = fleetIdentity({
  cxoneBaseUrl: 'https://api-a.niceincontact.example',
  cxoneClientId: 'client-a',
  embeddedSandbox: false,
  hostname: 'host-1',
});
const tenantB = fleetIdentity({
  cxoneBaseUrl: 'https://api-b.niceincontact.example',
  cxoneClientId: 'client-b',
  embeddedSandbox: false,
  hostname: 'host-1',
});

describe('fleetIdentity', () => {
  const base = {
    cxoneBaseUrl: 'https://api.example/inContactAPI/',
    cxoneClientId: 'c1',
    embeddedSandbox: false,
    hostname: 'h1',
  };

  it('is the same for every process of a fleet, whatever the machine, for a remote CXone', () => {
    expect(fleetIdentity({ ...base, hostname: 'h2' })).toEqual(fleetIdentity(base));
    expect(fleetIdentity({ ...base, cxoneBaseUrl: 'HTTPS://API.example:443/inContactAPI' })).toEqual(
      fleetIdentity(base),
    );
  });

  it('differs by base URL and by client id (the tenant)', () => {
    const fp = fleetIdentity(base).fingerprint;
    expect(fleetIdentity({ ...base, cxoneBaseUrl: 'https://other.example' }).fingerprint).not.toBe(fp);
    expect(fleetIdentity({ ...base, cxoneClientId: 'c2' }).fingerprint).not.toBe(fp);
  });

  it('tells loopback CXones (sandboxes) on different machines or ports apart', () => {
    const sandbox = { ...base, cxoneBaseUrl: 'http://127.0.0.1:4010', embeddedSandbox: true };
    const fp = fleetIdentity(sandbox).fingerprint;
    expect(fleetIdentity({ ...sandbox, hostname: 'h2' }).fingerprint).not.toBe(fp);
    expect(fleetIdentity({ ...sandbox, cxoneBaseUrl: 'http://127.0.0.1:4011' }).fingerprint).not.toBe(fp);
    // a `worker` beside the `all` process, calling its embedded sandbox, is the same fleet
    expect(fleetIdentity({ ...sandbox, embeddedSandbox: false }).fingerprint).toBe(fp);
    expect(fleetIdentity(sandbox).cxone).toBe('the embedded sandbox at http://127.0.0.1:4010 on h1');
  });

  it('shows no credentials from the URL', () => {
    const id = fleetIdentity({ ...base, cxoneBaseUrl: 'https://user:pw@api.example/x' });
    expect(id.cxone).toBe('https://user:***@api.example/x');
    expect(id.fingerprint).toBe(
      fleetIdentity({ ...base, cxoneBaseUrl: 'https://api.example/x' }).fingerprint,
    );
  });

  it('knows loopback hosts', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', 'a.localhost']) {
      expect(isLoopbackHost(h)).toBe(true);
    }
    for (const h of ['10.0.0.1', 'api.example', '[::2]']) expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('prefixInUseMessage', () => {
  it('is one line naming the prefix, both CXones and the ways out', () => {
    const line = prefixInUseMessage({
      keyPrefix: '{cxo}',
      ours: tenantB,
      holder: { cxone: tenantA.cxone, liveProcesses: 2, expiresInMs: 12_300 },
      ttlMs: 30_000,
    });
    expect(line).not.toContain('\n');
    expect(line).toContain('KEY_PREFIX {cxo}');
    expect(line).toContain('CXone https://api-a.niceincontact.example (2 live processes)');
    expect(line).toContain('this process works against CXone https://api-b.niceincontact.example.');
    expect(line).toContain('set another KEY_PREFIX');
    expect(line).toContain('expires 30 s after its last process died; now 13 s left');
  });

  it('says the client id differs when the URLs are the same', () => {
    const line = prefixInUseMessage({
      keyPrefix: '{cxo}',
      ours: tenantA,
      holder: { cxone: tenantA.cxone, liveProcesses: 1, expiresInMs: 1 },
      ttlMs: 30_000,
    });
    expect(line).toContain('(same URL, another CXONE_CLIENT_ID)');
  });
});

describe('claimFleet (real Redis)', () => {
  const redis = new Redis(REDIS_URL);
  const prefixes: string[] = [];
  const claims: FleetClaim[] = [];
  const keysFor = () => {
    const prefix = testPrefix('fleet');
    prefixes.push(prefix);
    return createKeys(prefix);
  };
  const claim = async (keys: ReturnType<typeof createKeys>, identity = tenantA, extra = {}) => {
    const c = await claimFleet({ redis, keys, identity, logger: silentLogger, ...extra });
    claims.push(c);
    return c;
  };
  afterEach(async () => {
    for (const c of claims.splice(0)) await c.release();
    for (const p of prefixes.splice(0)) await deletePrefix(redis, p);
  });
  afterAll(() => redis.disconnect());

  it('refuses a second fleet with another identity, naming both CXones', async () => {
    const keys = keysFor();
    await claim(keys, tenantA);
    const refused = await claim(keys, tenantB).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FleetPrefixInUseError);
    const message = (refused as Error).message;
    expect(message).toContain(`KEY_PREFIX ${keys.prefix}`);
    expect(message).toContain('https://api-a.niceincontact.example (1 live process)');
    expect(message).toContain('works against CXone https://api-b.niceincontact.example');
    // neither the client id nor anything secret is stored in the key
    const stored = JSON.stringify(await redis.hgetall(fleetClaimKey(keys)));
    expect(stored).not.toContain('client-a');
  });

  it('lets every process of one fleet join, and the last one out deletes the claim', async () => {
    const keys = keysFor();
    const first = await claim(keys);
    const second = await claim(keys);
    const third = await claim(keys);
    const key = fleetClaimKey(keys);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
    await first.release();
    await second.release();
    expect(await redis.exists(key)).toBe(1);
    await third.release();
    expect(await redis.exists(key)).toBe(0);
    // then another fleet may have the prefix at once
    await claim(keys, tenantB);
  });

  it('lets exactly one of two fleets starting at the same moment have the prefix', async () => {
    for (let i = 0; i < 20; i++) {
      const keys = keysFor();
      const key = fleetClaimKey(keys);
      const results = await Promise.all([
        attemptFleetClaim(redis, key, tenantA, 'a', 30_000, false),
        attemptFleetClaim(redis, key, tenantB, 'b', 30_000, false),
      ]);
      expect(results.filter((r) => r.held)).toHaveLength(1);
    }
  });

  it("frees the prefix ttl after a fleet's last process died without releasing", async () => {
    const keys = keysFor();
    const dead = await claim(keys, tenantA, { ttlMs: 300 });
    dead.abandon();
    await expect(claim(keys, tenantB, { ttlMs: 300 })).rejects.toBeInstanceOf(FleetPrefixInUseError);
    await new Promise((r) => setTimeout(r, 400));
    await claim(keys, tenantB, { ttlMs: 300 });
  });

  it('keeps a live fleet’s claim renewed past its TTL', async () => {
    const keys = keysFor();
    // Renewals 50 ms apart keep a 600 ms claim alive even if the machine delays a few of them.
    await claim(keys, tenantA, { ttlMs: 600, renewEveryMs: 50 });
    await new Promise((r) => setTimeout(r, 1_500));
    await expect(claim(keys, tenantB, { ttlMs: 600 })).rejects.toBeInstanceOf(FleetPrefixInUseError);
  });

  it('tells both fleets when another appears on a prefix whose claim lapsed, and settles when one goes', async () => {
    const keys = keysFor();
    const key = fleetClaimKey(keys);
    const events: string[] = [];
    const opts = (name: string) => ({
      ttlMs: 1_000,
      renewEveryMs: 40,
      onContested: () => events.push(`${name} contested`),
      onSettled: () => events.push(`${name} settled`),
    });
    await claim(keys, tenantA, opts('A'));
    // A's claim lapses (Redis lost it, or A stalled past the TTL) and fleet B starts meanwhile.
    await redis.del(key);
    const b = await claim(keys, tenantB, opts('B'));
    await waitFor(() => events.includes('A contested') && events.includes('B contested'));
    expect(b.contested).toBe(true);
    // The operator stops fleet B: A takes the prefix back and its workers take jobs again.
    await b.release();
    await waitFor(() => events.includes('A settled'));
    expect(await redis.hget(key, 'cxone')).toBe(tenantA.cxone);
  });

  it('settles the holder once the contesting fleet has stopped for a TTL', async () => {
    const keys = keysFor();
    const key = fleetClaimKey(keys);
    const events: string[] = [];
    const a = await claim(keys, tenantA, { ttlMs: 1_000, renewEveryMs: 40 });
    await redis.del(key);
    await claim(keys, tenantB, {
      ttlMs: 1_000,
      renewEveryMs: 40,
      onContested: () => events.push('B contested'),
      onSettled: () => events.push('B settled'),
    });
    await waitFor(() => events.includes('B contested'));
    // Fleet A is the one stopped: it holds nothing, so B sees the contest age out.
    await a.release();
    await waitFor(() => events.includes('B settled'), 5_000);
    expect(await redis.hget(key, 'cxone')).toBe(tenantB.cxone);
  });
});

async function waitFor(cond: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
