import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  attemptFleetClaim,
  claimFleet,
  fleetClaimKey,
  fleetClaimKeys,
  fleetRecordKey,
  FleetPrefixInUseError,
  releaseFleetClaim,
  type FleetClaim,
} from '../../src/shared/fleet-claim.js';
import {
  fleetIdentity,
  prefixInUseMessage,
  prefixLastUsedMessage,
  shortFingerprint,
  type FleetIdentity,
} from '../../src/shared/fleet-identity.js';
import { loadConfig } from '../../src/shared/config.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { recordingLogger } from '../support/log-capture.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

const tenantA = fleetIdentity({
  cxoneBaseUrl: 'https://api-a.niceincontact.example',
  cxoneClientId: 'client-a',
  embeddedSandbox: false,
  sandboxMode: false,
  hostname: 'host-1',
});
const tenantB = fleetIdentity({
  cxoneBaseUrl: 'https://api-b.niceincontact.example',
  cxoneClientId: 'client-b',
  embeddedSandbox: false,
  sandboxMode: false,
  hostname: 'host-1',
});

describe('fleetIdentity', () => {
  const base = {
    cxoneBaseUrl: 'https://api.example/inContactAPI/',
    cxoneClientId: 'c1',
    embeddedSandbox: false,
    sandboxMode: false,
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

  it('tells sandboxes (sandbox mode: CXONE_BASE_URL unset) on different machines or ports apart', () => {
    const sandbox = {
      ...base,
      cxoneBaseUrl: 'http://127.0.0.1:4010',
      embeddedSandbox: true,
      sandboxMode: true,
    };
    const fp = fleetIdentity(sandbox).fingerprint;
    expect(fleetIdentity({ ...sandbox, hostname: 'h2' }).fingerprint).not.toBe(fp);
    expect(fleetIdentity({ ...sandbox, cxoneBaseUrl: 'http://127.0.0.1:4011' }).fingerprint).not.toBe(fp);
    // a `worker` beside the `all` process, calling its embedded sandbox in sandbox mode, is the same fleet
    expect(fleetIdentity({ ...sandbox, embeddedSandbox: false }).fingerprint).toBe(fp);
    expect(fleetIdentity(sandbox).cxone).toBe('the embedded sandbox at http://127.0.0.1:4010 on h1');
    // split roles on two machines, each calling its own `sandbox` process at SANDBOX_PORT
    const split = { ...sandbox, embeddedSandbox: false };
    expect(fleetIdentity({ ...split, hostname: 'h2' }).fingerprint).not.toBe(
      fleetIdentity(split).fingerprint,
    );
    expect(fleetIdentity(split).cxone).toBe('http://127.0.0.1:4010 on h1');
    expect(fleetIdentity(split).isFormerFingerprint).toBeUndefined();
  });

  it('takes an explicit loopback CXONE_BASE_URL (a proxy or sidecar in every pod) at its word, whatever the machine', () => {
    const proxy = { ...base, cxoneBaseUrl: 'http://127.0.0.1:15001', cxoneClientId: 'tenant-a' };
    const pod1 = fleetIdentity({ ...proxy, hostname: 'orchestrator-7d9f-abcde' });
    const pod2 = fleetIdentity({ ...proxy, hostname: 'orchestrator-7d9f-fghij' });
    expect(pod2.fingerprint).toBe(pod1.fingerprint);
    expect(pod1.cxone).toBe('http://127.0.0.1:15001');
    expect(fleetIdentity({ ...proxy, cxoneBaseUrl: 'http://localhost:15001' }).cxone).toBe(
      'http://localhost:15001',
    );
    // the client id still tells tenants behind the same proxy apart
    expect(fleetIdentity({ ...proxy, cxoneClientId: 'tenant-b' }).fingerprint).not.toBe(pod1.fingerprint);
    // and the same URL in sandbox mode is this machine's sandbox: another fleet
    expect(fleetIdentity({ ...proxy, sandboxMode: true }).fingerprint).not.toBe(pod1.fingerprint);
  });

  it("recognises the fingerprint an earlier release gave an explicit loopback fleet, from any machine, and no other fleet's", () => {
    const proxy = { ...base, cxoneBaseUrl: 'http://127.0.0.1:15001/', cxoneClientId: 'tenant-a' };
    // What releases before this one computed and stored: the machine folded in, shown as `<url> on <machine>`.
    const earlier = (url: string, clientId: string, machine: string) => ({
      fingerprint: createHash('sha256')
        .update(JSON.stringify(['cxo-fleet/1', url, clientId, machine]))
        .digest('hex'),
      cxone: `${url} on ${machine}`,
    });
    const ours = fleetIdentity({ ...proxy, hostname: 'pod-new' });
    const isFormer = ours.isFormerFingerprint!;
    expect(isFormer).toBeTypeOf('function');
    // written by a pod of this fleet that is gone now (another pod name), or by this very machine
    expect(isFormer(earlier('http://127.0.0.1:15001', 'tenant-a', 'pod-old'))).toBe(true);
    expect(isFormer(earlier('http://127.0.0.1:15001', 'tenant-a', 'pod-new'))).toBe(true);
    // never another tenant, another URL, a forged machine name or the current fingerprint
    expect(isFormer(earlier('http://127.0.0.1:15001', 'tenant-b', 'pod-old'))).toBe(false);
    expect(isFormer(earlier('http://127.0.0.1:15002', 'tenant-a', 'pod-old'))).toBe(false);
    const other = earlier('http://127.0.0.1:15001', 'tenant-a', 'pod-old');
    expect(isFormer({ ...other, cxone: 'http://127.0.0.1:15001 on pod-else' })).toBe(false);
    expect(isFormer({ fingerprint: ours.fingerprint, cxone: ours.cxone })).toBe(false);
    // remote URLs and sandbox mode kept their fingerprints: nothing to recognise
    expect(fleetIdentity(base).isFormerFingerprint).toBeUndefined();
    expect(fleetIdentity({ ...proxy, sandboxMode: true }).isFormerFingerprint).toBeUndefined();
  });

  it('recognises it for the loopback names earlier releases took, which HOST may not (ip6-localhost, *.localhost)', () => {
    // Those releases folded the machine into these too: a fleet restarted on one from such a release
    // is its own, not another fleet that only FLEET_TAKEOVER lets in.
    for (const url of [
      'http://ip6-localhost:15001',
      'http://ip6-loopback:15001',
      'http://proxy.localhost:15001',
    ]) {
      const stored = {
        fingerprint: createHash('sha256')
          .update(JSON.stringify(['cxo-fleet/1', url, 'tenant-a', 'pod-old']))
          .digest('hex'),
        cxone: `${url} on pod-old`,
      };
      const ours = fleetIdentity({
        ...base,
        cxoneBaseUrl: `${url}/`,
        cxoneClientId: 'tenant-a',
        hostname: 'pod-new',
      });
      expect(ours.isFormerFingerprint?.(stored), url).toBe(true);
      expect(ours.isFormerFingerprint?.({ ...stored, cxone: `${url} on pod-else` }), url).toBe(false);
    }
  });

  it('shows no credentials from the URL', () => {
    const id = fleetIdentity({ ...base, cxoneBaseUrl: 'https://user:pw@api.example/x' });
    expect(id.cxone).toBe('https://user:***@api.example/x');
    expect(id.fingerprint).toBe(
      fleetIdentity({ ...base, cxoneBaseUrl: 'https://api.example/x' }).fingerprint,
    );
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
    // the fleet's next process may have the prefix at once
    await claim(keys);
  });

  it('lets exactly one of two fleets starting at the same moment have the prefix', async () => {
    for (let i = 0; i < 20; i++) {
      const keys = keysFor();
      const at = fleetClaimKeys(keys);
      const results = await Promise.all([
        attemptFleetClaim(redis, at, tenantA, 'a', 30_000, false),
        attemptFleetClaim(redis, at, tenantB, 'b', 30_000, false),
      ]);
      expect(results.filter((r) => r.held)).toHaveLength(1);
    }
  });

  it("frees the prefix ttl after a fleet's last process died without releasing", async () => {
    const keys = keysFor();
    // A TTL of a second: the refusal below must come before it lapses, even on a loaded machine.
    const dead = await claim(keys, tenantA, { ttlMs: 1_000 });
    dead.abandon();
    await expect(claim(keys, tenantB, { ttlMs: 300 })).rejects.toBeInstanceOf(FleetPrefixInUseError);
    // Nobody releases it: the claim goes when its TTL lapses.
    await waitFor(async () => (await redis.exists(fleetClaimKey(keys))) === 0, 5_000);
    // its next process may have the prefix at once (another fleet only by taking it over, below)
    await claim(keys, tenantA, { ttlMs: 300 });
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
    const a = await claim(keys, tenantA, opts('A'));
    // A's claim lapses (Redis lost it, or A stalled past the TTL) and fleet B starts meanwhile
    // (past the record of A as the last fleet: Redis lost that too, or B's operator took over).
    await redis.del(key);
    const b = await claim(keys, tenantB, { ...opts('B'), takeover: shortFingerprint(tenantA.fingerprint) });
    await waitFor(() => events.includes('A contested') && events.includes('B contested'));
    expect(b.contested).toBe(true);
    expect(b.contestedMessage).toContain(
      `CXone ${tenantA.cxone}, is running on KEY_PREFIX ${keys.prefix} too`,
    );
    // Stopping A would settle B (next test). Stopping B does not settle A: the prefix is B's now (its
    // record), and B's jobs may wait in the queues, so A's workers stay stopped.
    await b.release();
    await waitFor(() => a.contestedMessage?.includes(`took KEY_PREFIX ${keys.prefix} over`) === true);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.contested).toBe(true);
    expect(events).not.toContain('A settled');
    expect(await redis.exists(key)).toBe(0);
    expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(tenantB.fingerprint);
  });

  it('settles the holder once the contesting fleet has stopped for a TTL', async () => {
    const keys = keysFor();
    const key = fleetClaimKey(keys);
    const events: string[] = [];
    const a = await claim(keys, tenantA, { ttlMs: 1_000, renewEveryMs: 40 });
    await redis.del(key);
    await claim(keys, tenantB, {
      takeover: tenantA.fingerprint,
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

describe('FLEET_TAKEOVER', () => {
  it('takes the fingerprint the refusal line names, in either case; empty is unset', () => {
    expect(loadConfig({ FLEET_TAKEOVER: '3F9A0C6B21DE' }).fleetTakeover).toBe('3f9a0c6b21de');
    expect(loadConfig({ FLEET_TAKEOVER: '' }).fleetTakeover).toBeUndefined();
    expect(loadConfig({}).fleetTakeover).toBeUndefined();
  });

  it.each(['yes', '3f9a0c6b21d', 'zz9a0c6b21de'])('refuses %s, naming the variable', (value) => {
    expect(() => loadConfig({ FLEET_TAKEOVER: value })).toThrow(
      /FLEET_TAKEOVER: must be the fingerprint the refusal line names/,
    );
  });
});

describe('the last fleet on a prefix (real Redis)', () => {
  const redis = new Redis(REDIS_URL);
  const prefixes: string[] = [];
  const claims: FleetClaim[] = [];
  const keysFor = () => {
    const prefix = testPrefix('fleet-last');
    prefixes.push(prefix);
    return createKeys(prefix);
  };
  const claim = async (
    keys: ReturnType<typeof createKeys>,
    identity: FleetIdentity,
    extra: Partial<Parameters<typeof claimFleet>[0]> = {},
  ) => {
    const c = await claimFleet({ redis, keys, identity, logger: silentLogger, ...extra });
    claims.push(c);
    return c;
  };
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error('not refused');
      },
      (e: unknown) => {
        expect(e).toBeInstanceOf(FleetPrefixInUseError);
        return (e as Error).message;
      },
    );
  afterEach(async () => {
    for (const c of claims.splice(0)) await c.release();
    for (const p of prefixes.splice(0)) await deletePrefix(redis, p);
  });
  afterAll(() => redis.disconnect());

  it('keeps the last fleet after it stopped, with no expiry, and refuses another with the takeover setting to use', async () => {
    const keys = keysFor();
    await (await claim(keys, tenantA)).release();
    expect(await redis.exists(fleetClaimKey(keys))).toBe(0);
    expect(await redis.pttl(fleetRecordKey(keys))).toBe(-1);
    const line = await refusal(claim(keys, tenantB));
    expect(line).toBe(prefixLastUsedMessage({ keyPrefix: keys.prefix, ours: tenantB, previous: tenantA }));
    expect(line).not.toContain('\n');
    expect(line).toContain(`KEY_PREFIX ${keys.prefix} was last used on this Redis by another fleet`);
    expect(line).toContain(`CXone ${tenantA.cxone} (fleet ${shortFingerprint(tenantA.fingerprint)}`);
    expect(line).toContain(`this process works against CXone ${tenantB.cxone}.`);
    expect(line).toContain(`FLEET_TAKEOVER=${shortFingerprint(tenantA.fingerprint)}`);
    // nothing of the refused fleet was written
    expect(await redis.exists(fleetClaimKey(keys))).toBe(0);
    expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(tenantA.fingerprint);
    // the fleet that used it last comes back at once
    await claim(keys, tenantA);
  });

  it('lets a fleet take over with FLEET_TAKEOVER naming the last one, audited at warn; the old fleet is refused then', async () => {
    const keys = keysFor();
    await (await claim(keys, tenantA)).release();
    const logged = recordingLogger();
    // Another fingerprint in FLEET_TAKEOVER takes nothing over.
    await refusal(claim(keys, tenantB, { takeover: shortFingerprint(tenantB.fingerprint) }));
    const b = await claim(keys, tenantB, {
      takeover: shortFingerprint(tenantA.fingerprint).toUpperCase(),
      logger: logged.logger,
    });
    expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(tenantB.fingerprint);
    const warn = logged.lines.find((l) => l.level === 40 && String(l.msg).includes('takes KEY_PREFIX'));
    expect(warn?.msg).toContain(`this fleet (CXone ${tenantB.cxone}) takes KEY_PREFIX ${keys.prefix} over`);
    expect(warn?.msg).toContain(`(CXone ${tenantA.cxone}), which used it last, since FLEET_TAKEOVER=`);
    expect(warn).toMatchObject({ keyPrefix: keys.prefix, previous: tenantA.cxone, how: 'takeover' });
    await b.release();
    const line = await refusal(claim(keys, tenantA));
    expect(line).toContain(`CXone ${tenantB.cxone} (fleet ${shortFingerprint(tenantB.fingerprint)}`);
    // Left set on later starts of the new fleet, it has nothing to take and says so.
    const again = recordingLogger();
    await claim(keys, tenantB, { takeover: tenantA.fingerprint, logger: again.logger });
    expect(
      again.lines.some(
        (l) => l.level === 40 && /FLEET_TAKEOVER is set but took nothing over/.test(String(l.msg)),
      ),
    ).toBe(true);
  });

  it('never lets FLEET_TAKEOVER past a live claim of the other fleet', async () => {
    const keys = keysFor();
    await claim(keys, tenantA);
    const line = await refusal(claim(keys, tenantB, { takeover: tenantA.fingerprint }));
    expect(line).toContain('is in use on this Redis by another fleet');
    expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(tenantA.fingerprint);
  });

  it('gives a prefix without a record (a release before the record) to the first fleet, and records a live claim it finds', async () => {
    const fresh = keysFor();
    await (await claim(fresh, tenantB)).release();
    expect(await redis.hget(fleetRecordKey(fresh), 'fp')).toBe(tenantB.fingerprint);

    // A live claim of fleet A written before the record existed: A's next process records it.
    const legacy = keysFor();
    await redis.hset(
      fleetClaimKey(legacy),
      'fp',
      tenantA.fingerprint,
      'cxone',
      tenantA.cxone,
      'ttl',
      '30000',
    );
    await redis.pexpire(fleetClaimKey(legacy), 30_000);
    await claim(legacy, tenantA);
    expect(await redis.hgetall(fleetRecordKey(legacy))).toMatchObject({
      fp: tenantA.fingerprint,
      cxone: tenantA.cxone,
    });
  });

  it('lets an embedded sandbox follow another (their campaigns died with them), logged at info as expected, never a real tenant follow one', async () => {
    const sandbox = (host: string, port = 4010) =>
      fleetIdentity({
        cxoneBaseUrl: `http://127.0.0.1:${port}`,
        cxoneClientId: 'sandbox-client',
        embeddedSandbox: true,
        sandboxMode: true,
        hostname: host,
      });
    const keys = keysFor();
    await (await claim(keys, sandbox('laptop'))).release();
    const logged = recordingLogger();
    await (await claim(keys, sandbox('container-2'), { logger: logged.logger })).release();
    // By design, and at every start with SANDBOX_PORT=0: nothing for an operator to act on.
    expect(logged.lines.filter((l) => l.level >= 40)).toEqual([]);
    const followed = logged.lines.find((l) => l.how === 'sandbox');
    expect(followed).toMatchObject({ level: 30, keyPrefix: keys.prefix, previous: sandbox('laptop').cxone });
    expect(followed?.msg).toContain(
      `this fleet (CXone ${sandbox('container-2').cxone}) follows fleet ${shortFingerprint(sandbox('laptop').fingerprint)}`,
    );
    expect(followed?.msg).toContain(
      'as expected: embedded sandboxes follow each other without FLEET_TAKEOVER',
    );
    // The same machine on another ephemeral port (SANDBOX_PORT=0) is another sandbox: followed the same way.
    const restart = recordingLogger();
    await (await claim(keys, sandbox('container-2', 40123), { logger: restart.logger })).release();
    expect(restart.lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(restart.lines.find((l) => l.how === 'sandbox')).toMatchObject({ level: 30 });
    await (await claim(keys, sandbox('container-2'))).release();
    expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(sandbox('container-2').fingerprint);
    // A real tenant would run the sandbox's waiting launches for real.
    await refusal(claim(keys, tenantA));
    await (await claim(keys, tenantA, { takeover: sandbox('container-2').fingerprint })).release();
    // and a sandbox never follows a real tenant without the setting
    await refusal(claim(keys, sandbox('laptop')));
  });

  describe('an explicit loopback CXONE_BASE_URL restarted from a release that folded the machine in', () => {
    const url = 'http://127.0.0.1:15001';
    const proxied = (host: string, clientId = 'tenant-a') =>
      fleetIdentity({
        cxoneBaseUrl: url,
        cxoneClientId: clientId,
        embeddedSandbox: false,
        sandboxMode: false,
        hostname: host,
      });
    // What the earlier release wrote for a process on `machine`, computed here as it did.
    const earlier = (machine: string, clientId = 'tenant-a') => ({
      fp: createHash('sha256')
        .update(JSON.stringify(['cxo-fleet/1', url, clientId, machine]))
        .digest('hex'),
      cxone: `${url} on ${machine}`,
    });

    it('is not refused by the record its own earlier processes left, which then names it as now', async () => {
      const keys = keysFor();
      const old = earlier('pod-old');
      await redis.hset(fleetRecordKey(keys), 'fp', old.fp, 'cxone', old.cxone, 'at', '1');
      const logged = recordingLogger();
      const c = await claim(keys, proxied('pod-new'), { logger: logged.logger });
      expect(c.contested).toBe(false);
      expect(logged.lines.filter((l) => l.level >= 40)).toEqual([]);
      expect(await redis.hgetall(fleetRecordKey(keys))).toMatchObject({
        fp: proxied('x').fingerprint,
        cxone: url,
      });
      expect(await redis.hget(fleetClaimKey(keys), 'fp')).toBe(proxied('x').fingerprint);
    });

    it('still refuses another tenant behind the same proxy whose record the earlier release left', async () => {
      const keys = keysFor();
      const old = earlier('pod-old', 'tenant-b');
      await redis.hset(fleetRecordKey(keys), 'fp', old.fp, 'cxone', old.cxone);
      const line = await refusal(claim(keys, proxied('pod-new')));
      expect(line).toContain(`working against CXone ${old.cxone} (fleet ${shortFingerprint(old.fp)}`);
      expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(old.fp);
    });

    // The README's split roles name the sandbox explicitly (CXONE_BASE_URL=http://127.0.0.1:4010,
    // CXONE_CLIENT_ID=sandbox-client); a fleet of this release in sandbox mode on another machine
    // has exactly the fingerprint the earlier release gave that URL on its machine, but is another fleet.
    describe('never takes a sandbox-mode fleet of this release on another machine for its earlier self', () => {
      const sandboxUrl = 'http://127.0.0.1:4010';
      const inSandboxMode = (host: string, embeddedSandbox: boolean) =>
        fleetIdentity({
          cxoneBaseUrl: sandboxUrl,
          cxoneClientId: 'sandbox-client',
          embeddedSandbox,
          sandboxMode: true,
          hostname: host,
        });
      const explicit = fleetIdentity({
        cxoneBaseUrl: sandboxUrl,
        cxoneClientId: 'sandbox-client',
        embeddedSandbox: false,
        sandboxMode: false,
        hostname: 'ci-runner',
      });

      for (const embedded of [true, false]) {
        const what = embedded
          ? 'an embedded sandbox (`npm start`)'
          : 'split roles calling a `sandbox` process';
        it(`refuses to join the live claim of ${what}`, async () => {
          const keys = keysFor();
          await claim(keys, inSandboxMode('laptop', embedded));
          const line = await refusal(claim(keys, explicit));
          expect(line).toContain(
            `working against CXone ${inSandboxMode('laptop', embedded).cxone} (1 live process)`,
          );
          expect(await redis.hget(fleetClaimKey(keys), 'fp')).toBe(
            inSandboxMode('laptop', embedded).fingerprint,
          );
        });

        it(`is refused by the record ${what} left, and leaves it as it was`, async () => {
          const keys = keysFor();
          await (await claim(keys, inSandboxMode('laptop', embedded))).release();
          const line = await refusal(claim(keys, explicit));
          expect(line).toContain(
            `last used on this Redis by another fleet, working against CXone ${inSandboxMode('laptop', embedded).cxone}`,
          );
          expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(
            inSandboxMode('laptop', embedded).fingerprint,
          );
        });
      }

      it('still recognises what the earlier release wrote for that URL (not an embedded sandbox), once this release has not touched it', async () => {
        const keys = keysFor();
        const old = createHash('sha256')
          .update(JSON.stringify(['cxo-fleet/1', sandboxUrl, 'sandbox-client', 'laptop']))
          .digest('hex');
        await redis.hset(fleetRecordKey(keys), 'fp', old, 'cxone', `${sandboxUrl} on laptop`, 'at', '1');
        await claim(keys, explicit);
        expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(explicit.fingerprint);
      });
    });

    it('joins a live claim of its earlier processes (a rolling upgrade) without disturbing them, and leaves it cleanly', async () => {
      const keys = keysFor();
      const at = fleetClaimKeys(keys);
      const old = earlier('pod-old');
      // A process of the earlier release holds the claim and the record under its fingerprint; it
      // calls the same script with only that one.
      // (This release's script marks what it holds under its own fingerprint; the earlier one did not.)
      const asEarlier = { fingerprint: old.fp, cxone: old.cxone, sandbox: false };
      const earlierAttempt = async (contest: boolean) => {
        const attempt = await attemptFleetClaim(redis, at, asEarlier, 'old', 1_000, contest);
        await redis.hdel(at.claim, 'scheme');
        await redis.hdel(at.record, 'scheme');
        return attempt;
      };
      // The prefix had no record: this claim wrote it (at Redis's time), as a failed start's release reads.
      expect(await earlierAttempt(false)).toEqual({ held: true, createdRecordAt: expect.any(String) });

      const c = await claim(keys, proxied('pod-new'), { ttlMs: 1_000, renewEveryMs: 40 });
      // Both keep renewing: neither sees the other as another fleet.
      await new Promise((r) => setTimeout(r, 200));
      expect(c.contested).toBe(false);
      expect(await earlierAttempt(true)).toEqual({ held: true });
      const claimed = await redis.hgetall(fleetClaimKey(keys));
      expect(claimed.fp).toBe(old.fp);
      expect(Object.keys(claimed).filter((f) => f.startsWith('m:'))).toHaveLength(2);
      // The record keeps the earlier fingerprint while processes of the earlier release may be live.
      expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(old.fp);

      // The old process leaves (its own release script), then the new one: the last out deletes the claim.
      await releaseFleetClaim(redis, at.claim, asEarlier, 'old');
      await c.release();
      expect(await redis.exists(fleetClaimKey(keys))).toBe(0);
      // Its next start makes the prefix its own under the current fingerprint.
      await claim(keys, proxied('pod-3'));
      expect(await redis.hget(fleetRecordKey(keys), 'fp')).toBe(proxied('x').fingerprint);
    });
  });

  it('keeps a running fleet whose claim lapsed from taking the prefix back after another took it over', async () => {
    const keys = keysFor();
    const a = await claim(keys, tenantA, { ttlMs: 1_000, renewEveryMs: 40 });
    await redis.del(fleetClaimKey(keys));
    // While the prefix has no claim at all, A's renewal recreates it: the record still names A.
    await waitFor(async () => (await redis.hget(fleetClaimKey(keys), 'fp')) === tenantA.fingerprint);
    expect(a.contested).toBe(false);

    await redis.del(fleetClaimKey(keys));
    await redis.hset(fleetRecordKey(keys), 'fp', tenantB.fingerprint, 'cxone', tenantB.cxone);
    await waitFor(() => a.contested);
    expect(a.contestedMessage).toContain(`CXone ${tenantB.cxone}, took KEY_PREFIX ${keys.prefix} over`);
    expect(await redis.exists(fleetClaimKey(keys))).toBe(0);
  });
});

// A bound, not a pause: generous, so a loaded machine (renewals every 40 ms held up) fails nothing.
async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
