import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Role } from '../../src/process/banner.js';
import type { ProcessOptions } from '../../src/process/run.js';
import { fleetClaimKey, fleetRecordKey } from '../../src/shared/fleet-claim.js';
import { fleetIdentity, shortFingerprint } from '../../src/shared/fleet-identity.js';
import { createKeys } from '../../src/shared/keys.js';
import type { Logger } from '../../src/shared/logger.js';
import { recordingLogger } from '../support/log-capture.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { giveBack, intrude } from '../support/fleet-intruder.js';
import { startInProcess, type InProcessStartUp } from '../support/in-process-start-up.js';

/*
 * Two fleets on one Redis under one KEY_PREFIX would take each other's jobs and run them on the wrong
 * CXone. Start-up claims the prefix for its fleet (src/shared/fleet-claim.ts): these drive whole
 * start-ups, in-process and as real processes.
 */

const redis = new Redis(REDIS_URL);
const prefixes: string[] = [];
const stoppers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stoppers.splice(0).reverse()) await stop();
  for (const p of prefixes.splice(0)) await deletePrefix(redis, p);
});
afterAll(() => redis.disconnect());

function newPrefix(): string {
  const prefix = testPrefix('fleet');
  prefixes.push(prefix);
  return prefix;
}

/**
 * An in-process start-up whose exit, banner and error lines are recorded; stopped after the test
 * (startInProcess with this file's stoppers).
 */
const start = (
  role: Role,
  env: NodeJS.ProcessEnv,
  fleetClaim?: ProcessOptions['fleetClaim'],
  logger?: Logger,
): InProcessStartUp => startInProcess(stoppers, role, env, fleetClaim, logger);

describe('start-up on a KEY_PREFIX another fleet holds', () => {
  it('refuses a second `npm start` (another embedded sandbox) with one line, and admits one once the first has stopped', async () => {
    const KEY_PREFIX = newPrefix();
    const first = start('all', { KEY_PREFIX });
    await first.started;
    expect(first.banners).toHaveLength(1);
    const firstSandbox = first.r.running.sandbox!.url;

    const second = start('all', { KEY_PREFIX });
    await second.started;
    expect(await second.exit).toBe(1);
    expect(second.errors).toHaveLength(1);
    expect(second.errors[0]).toMatch(
      new RegExp(
        `^KEY_PREFIX \\${KEY_PREFIX.slice(0, -1)}\\} is in use on this Redis by another fleet, working against CXone the embedded sandbox at http://127\\.0\\.0\\.1:${first.r.running.sandbox!.port} on .+ \\(1 live process\\); this process works against CXone the embedded sandbox at http://127\\.0\\.0\\.1:\\d+ on .+\\. .*set another KEY_PREFIX for this fleet, or stop the other one`,
      ),
    );
    expect(firstSandbox).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Refused before anything took work: no API, no workers, and its sandbox closed again.
    expect(second.r.running.api).toBeUndefined();
    expect(second.r.running.workers).toBeUndefined();
    expect(second.banners).toEqual([]);

    // The first stops cleanly: its claim goes with it, and another fleet may start at once.
    first.r.signal('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(await redis.exists(fleetClaimKey(createKeys(KEY_PREFIX)))).toBe(0);
    const third = start('all', { KEY_PREFIX });
    await third.started;
    expect(third.banners).toHaveLength(1);
  });

  it('never refuses more processes of the same fleet (api and workers against one CXone)', async () => {
    const KEY_PREFIX = newPrefix();
    // Split roles in sandbox mode call the `sandbox` process at SANDBOX_PORT: one CXone for all three.
    const env = { KEY_PREFIX, SANDBOX_PORT: '4999' };
    const processes = [start('worker', env), start('worker', env), start('api', env)];
    for (const p of processes) await p.started;
    for (const p of processes) {
      expect(p.errors).toEqual([]);
      expect(p.banners).toHaveLength(1);
    }
    const key = fleetClaimKey(createKeys(KEY_PREFIX));
    expect(Object.keys(await redis.hgetall(key)).filter((f) => f.startsWith('m:'))).toHaveLength(3);
    // A rolling restart: one stops, its replacement joins.
    const leaving = processes[0]!;
    leaving.r.signal('SIGTERM');
    expect(await leaving.exit).toBe(0);
    const replacement = start('worker', env);
    await replacement.started;
    expect(replacement.banners).toHaveLength(1);
    expect(await redis.exists(key)).toBe(1);
  });
});

describe('start-ups against an explicit loopback CXONE_BASE_URL (an egress proxy or sidecar in every pod)', () => {
  // Nothing listens there: workers do not call CXone at start-up.
  const proxy = 'http://127.0.0.1:15001';
  const env = (KEY_PREFIX: string) => ({
    KEY_PREFIX,
    CXONE_BASE_URL: proxy,
    CXONE_CLIENT_ID: 'tenant-a',
    CXONE_CLIENT_SECRET: 'not-shown-anywhere',
    API_TOKEN: 'test-token',
  });

  it('admits pods on different machines as one fleet, while sandbox mode on two machines is two fleets', async () => {
    const KEY_PREFIX = newPrefix();
    const pods = [
      start('worker', env(KEY_PREFIX), { hostname: 'orchestrator-7d9f-abcde' }),
      start('worker', env(KEY_PREFIX), { hostname: 'orchestrator-7d9f-fghij' }),
    ];
    for (const p of pods) await p.started;
    for (const p of pods) {
      expect(p.errors).toEqual([]);
      expect(p.banners).toHaveLength(1);
    }
    const claimed = await redis.hgetall(fleetClaimKey(createKeys(KEY_PREFIX)));
    expect(Object.keys(claimed).filter((f) => f.startsWith('m:'))).toHaveLength(2);
    // Shown as the URL alone: no pod's name, which would differ from pod to pod.
    expect(claimed.cxone).toBe(proxy);

    // Split roles in sandbox mode call this machine's `sandbox` process: on another machine, another one.
    const SANDBOX_PREFIX = newPrefix();
    const here = start(
      'worker',
      { KEY_PREFIX: SANDBOX_PREFIX, SANDBOX_PORT: '4999' },
      { hostname: 'laptop-1' },
    );
    await here.started;
    expect(here.banners).toHaveLength(1);
    const there = start(
      'worker',
      { KEY_PREFIX: SANDBOX_PREFIX, SANDBOX_PORT: '4999' },
      { hostname: 'laptop-2' },
    );
    await there.started;
    expect(await there.exit).toBe(1);
    expect(there.errors[0]).toContain(
      'working against CXone http://127.0.0.1:4999 on laptop-1 (1 live process); this process works against CXone http://127.0.0.1:4999 on laptop-2.',
    );
  });

  it('restarts a fleet whose earlier release recorded it with a pod name folded in, on another pod', async () => {
    const KEY_PREFIX = newPrefix();
    const keys = createKeys(KEY_PREFIX);
    // What the earlier release left after its last pod stopped: the record, under `pod-old`'s fingerprint.
    const earlierFp = createHash('sha256')
      .update(JSON.stringify(['cxo-fleet/1', proxy, 'tenant-a', 'orchestrator-old-pod']))
      .digest('hex');
    await redis.hset(fleetRecordKey(keys), 'fp', earlierFp, 'cxone', `${proxy} on orchestrator-old-pod`);
    const pod = start('worker', env(KEY_PREFIX), { hostname: 'orchestrator-new-pod' });
    await pod.started;
    expect(pod.errors).toEqual([]);
    expect(pod.banners).toHaveLength(1);
    expect(await redis.hget(fleetRecordKey(keys), 'cxone')).toBe(proxy);

    // Another tenant behind the same proxy is still another fleet.
    const other = start(
      'worker',
      { ...env(KEY_PREFIX), CXONE_CLIENT_ID: 'tenant-b' },
      { hostname: 'orchestrator-new-pod' },
    );
    await other.started;
    expect(await other.exit).toBe(1);
    expect(other.errors[0]).toContain('(same URL, another CXONE_CLIENT_ID)');
  });
});

describe('an embedded sandbox on SANDBOX_PORT=0 started again', () => {
  it('follows its previous start (another port, so another fleet) with an info line, not a warning', async () => {
    const KEY_PREFIX = newPrefix();
    const first = start('all', { KEY_PREFIX });
    await first.started;
    first.r.signal('SIGTERM');
    expect(await first.exit).toBe(0);

    const logged = recordingLogger();
    const again = start('all', { KEY_PREFIX }, undefined, logged.logger);
    await again.started;
    expect(again.banners).toHaveLength(1);
    expect(again.r.running.sandbox!.port).not.toBe(first.r.running.sandbox!.port);
    const claimLines = logged.lines.filter((l) => l.component === 'fleet-claim');
    expect(claimLines.filter((l) => l.level >= 40)).toEqual([]);
    expect(claimLines.find((l) => l.how === 'sandbox')).toMatchObject({ level: 30, keyPrefix: KEY_PREFIX });
  });
});

describe('a running fleet that finds another fleet on its prefix', () => {
  it('stops taking jobs until the other fleet is gone, then takes them again', async () => {
    const KEY_PREFIX = newPrefix();
    const fleet = start('worker', { KEY_PREFIX }, { ttlMs: 2_000, renewEveryMs: 40 });
    await fleet.started;
    const workers = fleet.r.running.workers!.workers;
    expect(workers.length).toBeGreaterThan(0);
    expect(workers.some((w) => w.isPaused())).toBe(false);

    // Its claim lapsed (as after a Redis outage longer than the TTL) and another fleet took the prefix.
    const key = await intrude(redis, KEY_PREFIX);
    await waitFor(() => workers.every((w) => w.isPaused()));
    // The error names the other fleet's CXone to the operator, on the key's holders side too.
    expect(await redis.hget(key, 'contested-by')).toMatch(/^http:\/\/127\.0\.0\.1:\d+ on /);

    // The operator stopped the other fleet and gave the prefix back to this one (as FLEET_TAKEOVER
    // would at a restart of this fleet).
    await giveBack(redis, KEY_PREFIX);
    await waitFor(() => workers.every((w) => !w.isPaused()));
  });
});

describe('readiness of a process whose prefix another fleet contests', () => {
  it('answers /readyz 503 naming the other fleet while contested, and 200 again once it is gone', async () => {
    const KEY_PREFIX = newPrefix();
    const fleet = start('all', { KEY_PREFIX }, { ttlMs: 2_000, renewEveryMs: 40 });
    await fleet.started;
    const address = fleet.r.running.api!.server.address() as { port: number };
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${address.port}/readyz`);
      return {
        status: res.status,
        body: (await res.json()) as { checks: { fleet?: { ok: boolean; error?: string } } },
      };
    };
    const before = await readyz();
    expect(before.status).toBe(200);
    expect(before.body.checks.fleet).toEqual({ ok: true, ms: 0 });

    // Its claim lapsed and another fleet took the prefix (as in the test above).
    await intrude(redis, KEY_PREFIX);
    await waitFor(() => fleet.r.running.fleetClaim!.contested);
    const contested = await readyz();
    expect(contested.status).toBe(503);
    expect(contested.body.checks.fleet?.ok).toBe(false);
    expect(contested.body.checks.fleet?.error).toContain('https://other-tenant.example');
    expect(contested.body.checks.fleet?.error).toContain(KEY_PREFIX);

    await giveBack(redis, KEY_PREFIX);
    await waitFor(() => !fleet.r.running.fleetClaim!.contested);
    expect((await readyz()).status).toBe(200);
  });
});

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/** `node src/main.ts worker` against a (never called) CXone at `baseUrl`. */
function spawnWorker(prefix: string, baseUrl: string, extra: NodeJS.ProcessEnv = {}) {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'worker'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL,
      KEY_PREFIX: prefix,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      API_TOKEN: 'test-token',
      CXONE_BASE_URL: baseUrl,
      CXONE_CLIENT_ID: 'client',
      CXONE_CLIENT_SECRET: 'not-shown-anywhere',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  stoppers.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exit;
  });
  return {
    exit,
    stdout: () => out,
    stderr: () => err,
    kill: (s: NodeJS.Signals) => proc.kill(s),
  };
}

describe('worker processes of two fleets on one prefix (src/main.ts)', () => {
  it('exits 1 with one line naming both CXones, while a replica of the running fleet starts', async () => {
    const prefix = newPrefix();
    const a = spawnWorker(prefix, 'https://tenant-a.cxone.example');
    await waitFor(() => /Workers/.test(a.stdout()), 30_000);

    const b = spawnWorker(prefix, 'https://tenant-b.cxone.example');
    expect(await b.exit).toBe(1);
    const lines = b.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`KEY_PREFIX ${prefix} is in use`);
    expect(lines[0]).toContain('working against CXone https://tenant-a.cxone.example (1 live process)');
    expect(lines[0]).toContain('this process works against CXone https://tenant-b.cxone.example.');
    expect(lines[0]).not.toContain('not-shown-anywhere');

    const replica = spawnWorker(prefix, 'https://tenant-a.cxone.example');
    await waitFor(() => /Workers/.test(replica.stdout()), 30_000);
    a.kill('SIGTERM');
    replica.kill('SIGTERM');
    expect(await a.exit).toBe(0);
    expect(await replica.exit).toBe(0);
    expect(await redis.exists(fleetClaimKey(createKeys(prefix)))).toBe(0);
  });
});

describe('worker processes of a fleet that follows another on a prefix (src/main.ts)', () => {
  it('refuses fleet B after fleet A stopped, admits it with FLEET_TAKEOVER, and then refuses A', async () => {
    const prefix = newPrefix();
    const A = 'https://tenant-a.cxone.example';
    const B = 'https://tenant-b.cxone.example';
    const a = spawnWorker(prefix, A);
    await waitFor(() => /Workers/.test(a.stdout()), 30_000);
    a.kill('SIGTERM');
    expect(await a.exit).toBe(0);
    expect(await redis.exists(fleetClaimKey(createKeys(prefix)))).toBe(0);

    const refused = spawnWorker(prefix, B);
    expect(await refused.exit).toBe(1);
    const lines = refused.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    const fpA = /FLEET_TAKEOVER=([0-9a-f]{12})\b/.exec(lines[0]!)?.[1];
    expect(lines[0]).toContain(`KEY_PREFIX ${prefix} was last used on this Redis by another fleet`);
    expect(lines[0]).toContain(`working against CXone ${A} (fleet ${fpA}, no process of it live now)`);
    expect(lines[0]).toContain(`this process works against CXone ${B}.`);
    expect(lines[0]).not.toContain('not-shown-anywhere');
    expect(fpA).toBe(
      shortFingerprint(
        fleetIdentity({
          cxoneBaseUrl: A,
          cxoneClientId: 'client',
          embeddedSandbox: false,
          sandboxMode: false,
          hostname: 'x',
        }).fingerprint,
      ),
    );

    const b = spawnWorker(prefix, B, { FLEET_TAKEOVER: fpA, LOG_LEVEL: 'warn' });
    await waitFor(() => /Workers/.test(b.stdout()), 30_000);
    // The takeover is in the log at warn, naming both CXones.
    const warn = b
      .stdout()
      .split('\n')
      .find((l) => l.includes('takes KEY_PREFIX'));
    expect(warn).toBeDefined();
    expect(JSON.parse(warn!)).toMatchObject({
      level: 40,
      keyPrefix: prefix,
      ours: B,
      previous: A,
      how: 'takeover',
    });
    b.kill('SIGTERM');
    expect(await b.exit).toBe(0);

    const back = spawnWorker(prefix, A);
    expect(await back.exit).toBe(1);
    expect(back.stderr()).toContain(`working against CXone ${B} (fleet `);
    expect(back.stderr()).toContain(`this process works against CXone ${A}.`);
  });
});

// A bound, not a pause: generous, so a loaded machine holding up renewals, pauses and resumes fails
// nothing; it costs nothing when the condition comes.
async function waitFor(cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
