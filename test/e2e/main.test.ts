import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath, startPrivateRedis } from '../../src/process/private-redis.js';
import { freePort } from '../support/free-port.js';
import { api, deletePrefix, REDIS_URL, testPrefix, waitForLaunch } from './stack.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const EXAMPLE = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../examples/campaign.json', import.meta.url)), 'utf8'),
) as unknown;

/** The env of a fresh `npm start`: nothing set but what the test must isolate (ports, key prefix). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn' };
  return { ...env, ...extra };
}

interface Run {
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: () => string;
  stderr: () => string;
  kill(signal: NodeJS.Signals): void;
}

function runMain(args: string[], env: NodeJS.ProcessEnv): Run {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return {
    exit: new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal }))),
    stdout: () => out,
    stderr: () => err,
    kill: (signal) => proc.kill(signal),
  };
}

const prefixes: string[] = [];
afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  for (const p of prefixes) await deletePrefix(redis, p);
  redis.disconnect();
});

/** The env of a whole fleet on free ports under a fresh prefix (deleted after the file), plus `extra`. */
function fleetEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const prefix = testPrefix();
  prefixes.push(prefix);
  return cleanEnv({
    REDIS_URL,
    PORT: '0',
    SANDBOX_PORT: '0',
    HOST: '127.0.0.1',
    KEY_PREFIX: prefix,
    ...extra,
  });
}

/** Waits (up to `ms`) for the start-up banner, which ends with the API token line. */
async function waitForBanner(output: () => string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!/API token/.test(output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

describe('npm start (src/main.ts)', () => {
  it('runs the whole fleet on the embedded sandbox, launches the example campaign, and drains on SIGTERM', async () => {
    const run = runMain([], fleetEnv());
    try {
      await waitForBanner(run.stdout, 20_000);
      const banner = run.stdout();
      expect(banner).toMatch(/Bull Board\s+http:\/\/127\.0\.0\.1:\d+\/admin\/queues/);
      expect(banner).toMatch(/CXone sandbox\s+http:\/\/127\.0\.0\.1:\d+ \(embedded\)/);
      expect(banner).toMatch(/API token\s+dev-token/);
      const apiUrl = /API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1/.exec(banner)?.[1];
      expect(apiUrl).toBeDefined();
      const stack = { apiUrl: apiUrl!, token: 'dev-token' };

      const reply = await api(stack, 'POST', '/v1/campaigns', { body: EXAMPLE });
      expect(reply.status).toBe(202);
      const launch = await waitForLaunch(
        stack,
        String(reply.body.launchId),
        ['succeeded', 'failed'],
        20_000,
      ).catch(async (e: unknown) => {
        throw new Error(`${String(e)}\n${run.stderr()}`);
      });
      // The example launches at any hour: active inside New York's 08:00–21:00, scheduled for 08:00 outside it.
      expect(launch.status).toBe('succeeded');
      expect(['active', 'scheduled']).toContain(launch.campaignStatus);
      const view = await api(stack, 'GET', `/v1/campaigns/${String(launch.campaignId)}`);
      expect(view.body.status).toBe(launch.campaignStatus);
    } finally {
      run.kill('SIGTERM');
    }
    const { code } = await run.exit;
    expect(code).toBe(0);
    expect(run.stderr()).not.toMatch(/"level":(50|60)/);
  });

  it('drains within SHUTDOWN_TIMEOUT_MS and exits 0 even while a client stalls mid-request', async () => {
    const run = runMain(['all'], fleetEnv({ SHUTDOWN_TIMEOUT_MS: '1000' }));
    await waitForBanner(run.stdout, 20_000);
    const port = Number(/API\s+http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(run.stdout())?.[1]);
    expect(port).toBeGreaterThan(0);
    // Headers and half a body, then nothing: the server waits for the rest until Node's request
    // timeout (minutes), far past the shutdown deadline and the last-resort exit (code 1) after it.
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // The server answers "100 Continue" once it has the request's headers: the request is open from
    // then on (a fixed pause could end before the child process read it, and close() would end an
    // idle connection at once, with nothing left open at the deadline).
    const continued = new Promise<void>((resolve) => {
      let heard = '';
      socket.on('data', (chunk: Buffer) => {
        heard += chunk.toString();
        if (heard.includes('100 Continue')) resolve();
      });
    });
    socket.write(
      'POST /v1/campaigns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dev-token\r\n' +
        'Content-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n',
    );
    await continued;
    socket.write('{"name":');
    try {
      run.kill('SIGTERM');
      const { code } = await run.exit;
      expect(code).toBe(0);
      expect(run.stdout()).toMatch(/"server":"api".*HTTP requests still open at the shutdown deadline/);
    } finally {
      socket.destroy();
    }
  });

  it('stops with one line per bad variable and exit code 1', async () => {
    const run = runMain(['all'], cleanEnv({ PORT: 'abc', REDIS_URL: 'http://nope', HOST: 'not..a..host' }));
    const { code } = await run.exit;
    expect(code).toBe(1);
    expect(run.stderr()).toMatch(/^PORT: /m);
    expect(run.stderr()).toMatch(/^REDIS_URL: /m);
    expect(run.stderr()).toMatch(/^HOST: must be an IP address/m);
  });

  // The sandbox's dev-token is printed in the README: served on every interface, anyone on the
  // network could launch, stop and read campaigns.
  it('refuses to serve the sandbox token on a HOST other machines reach, naming HOST and API_TOKEN', async () => {
    for (const role of ['all', 'api']) {
      const run = runMain([role], cleanEnv({ HOST: '0.0.0.0', PORT: '0', SANDBOX_PORT: '0' }));
      const { code } = await run.exit;
      expect(code, role).toBe(1);
      expect(run.stderr().trim().split('\n'), role).toEqual([
        'cxone-orchestrator cannot start: invalid configuration',
        expect.stringMatching(
          /^HOST: is 0\.0\.0\.0, which other machines reach, while API_TOKEN is unset: .*; set API_TOKEN to a secret of your own/,
        ),
      ]);
      expect(run.stdout(), role).not.toMatch(/is running/);
    }
  });

  // docker-compose.yml's sandbox container runs so: the image's HOST=0.0.0.0, and no API_TOKEN.
  it('lets the sandbox role, which takes no API token, bind every interface without one', async () => {
    const run = runMain(['sandbox'], cleanEnv({ HOST: '0.0.0.0', SANDBOX_PORT: '0' }));
    try {
      const deadline = Date.now() + 20_000;
      while (!/role: sandbox/.test(run.stdout()) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(run.stdout()).toMatch(/is running \(role: sandbox\)/);
      // Its /__sandbox control routes then answer the network: said in the banner, not only the log.
      expect(run.stdout()).toMatch(
        / {2}WARNING {8}the sandbox's \/__sandbox control routes .*SANDBOX_ADMIN_TOKEN/,
      );
      expect(run.stderr()).toBe('');
    } finally {
      run.kill('SIGTERM');
      await run.exit;
    }
  });

  it('names HOST in one line when it is not an address of this machine, before any worker starts', async () => {
    // TEST-NET-3 (RFC 5737): documentation only, never assigned to an interface.
    // With a token of its own: without one, a HOST other machines reach is refused before any bind.
    const run = runMain(
      ['all'],
      fleetEnv({ HOST: '203.0.113.7', API_TOKEN: 'an-operator-chosen-token', LOG_LEVEL: 'info' }),
    );
    const { code } = await run.exit;
    expect(code).toBe(1);
    expect(run.stderr().trim().split('\n')).toEqual([
      'HOST 203.0.113.7 is not an address of this machine; set HOST to one of its addresses, or 0.0.0.0 for all',
    ]);
    expect(run.stdout()).not.toMatch(/workers started/);
  });

  it('stops when npm start itself is signalled, as a supervisor holding its pid does', async () => {
    const npm = spawn('npm', ['start', '--silent', '--', 'all'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: fleetEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    await waitForBanner(() => out, 30_000);
    const port = Number(/API\s+http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(out)?.[1]);
    expect(port).toBeGreaterThan(0);
    // SIGTERM to npm alone, not to its process group: the orchestrator must get it and drain.
    npm.kill('SIGTERM');
    expect(await exited).toBe(0);
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(false)));
      socket.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  });

  it('says in one line how to start Redis when it does not answer', async () => {
    const run = runMain(['worker'], cleanEnv({ REDIS_URL: 'redis://127.0.0.1:1' }));
    const { code } = await run.exit;
    expect(code).toBe(1);
    const lines = run.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /Redis does not answer at redis:\/\/127\.0\.0\.1:1.*redis-server --daemonize yes/,
    );
  });

  it('says in one line that Redis refuses REDIS_URL, for a database it lacks or unknown credentials', async () => {
    // Redis ships with 16 databases; ioredis alone would carry on in database 0, among other keys.
    for (const [url, reason] of [
      ['redis://127.0.0.1:6379/99', /DB index is out of range/],
      ['redis://nosuchuser:secret@127.0.0.1:6379', /refused the password \(WRONGPASS/],
    ] as const) {
      const target = new URL(REDIS_URL);
      const redisUrl = url.replace('127.0.0.1:6379', target.host);
      const run = runMain(['worker'], cleanEnv({ REDIS_URL: redisUrl }));
      const { code } = await run.exit;
      expect(code).toBe(1);
      const lines = run.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/refuses REDIS_URL's settings/);
      expect(lines[0]).toMatch(reason);
      // WRONGPASS's own text ends in a full stop: the line read "is disabled.. Fix the user, …".
      expect(lines[0]).not.toContain('..');
      expect(lines[0]).not.toContain('secret');
    }
  });

  it('says in one line that REDIS_URL names a read-only replica, not a stack trace', async () => {
    // A primary a failover demoted, or a replica's address pasted: every write would be refused.
    const binary = findOnPath('redis-server');
    if (!binary) throw new Error('redis-server is not on the PATH');
    const replica = await startPrivateRedis(binary, await freePort());
    const admin = new Redis({ port: replica.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      await admin.call('REPLICAOF', '127.0.0.1', String(await freePort()));
      const run = runMain(['worker'], cleanEnv({ REDIS_URL: `redis://127.0.0.1:${replica.port}` }));
      const { code } = await run.exit;
      expect(code).toBe(1);
      const lines = run.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/is a read-only replica.*Point REDIS_URL at the primary/);
    } finally {
      admin.disconnect();
      await replica.stop();
    }
  });

  it('refuses an unknown role', async () => {
    const run = runMain(['everything'], cleanEnv({}));
    const { code } = await run.exit;
    expect(code).toBe(1);
    expect(run.stderr()).toMatch(/unknown role "everything"; use one of: all, api, worker, sandbox/);
  });

  it('refuses an argument after the role rather than starting without it', async () => {
    // Free ports and a private prefix: a process that ignored `--port 4000` would start there.
    const run = runMain(['api', '--port', '4000'], fleetEnv());
    let exited = false;
    void run.exit.then(() => (exited = true));
    const deadline = Date.now() + 20_000;
    while (!exited && !/is running/.test(run.stdout()) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    if (!exited) run.kill('SIGTERM');
    const { code } = await run.exit;
    expect(run.stdout()).not.toMatch(/is running/);
    expect(code).toBe(1);
    expect(run.stderr().trim()).toBe(
      'unexpected arguments "--port" "4000" after the role api: the role is the only argument (one role per process); ' +
        'configuration is by environment variables, e.g. PORT=4000 npm start -- api (README.md, "Configuration")',
    );
  });

  it('describes the roles on --help and exits 0 without starting anything', async () => {
    // An environment that could not start: help must not need one.
    const run = runMain(['--help'], cleanEnv({ PORT: 'abc' }));
    const { code } = await run.exit;
    expect(code).toBe(0);
    expect(run.stdout()).toMatch(/^usage: node dist\/main\.js \[role\]/);
    expect(run.stdout()).toMatch(/^ {2}worker /m);
    expect(run.stderr()).toBe('');
  });
});
