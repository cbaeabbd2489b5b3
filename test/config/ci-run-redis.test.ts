import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/process/private-redis.js';

/**
 * The part of .ci/run that makes sure a Redis answers at REDIS_URL, run alone under bash with
 * redis-cli, redis-server and apt-get replaced by stubs that record their calls (the script itself
 * installs packages and runs the whole suite). Read from the script, so it is the script's own text.
 */
const script = readFileSync(fileURLToPath(new URL('../../.ci/run', import.meta.url)), 'utf8');
const start = script.indexOf('npm ci --no-audit --no-fund');
const end = script.indexOf('# The Bull Board browser test');
const redisPart = script.slice(script.indexOf('\n', start) + 1, end);

/** What starts or installs something; redis-cli itself is real only where a case says so. */
const SERVER_STUBS = `
redis-server() { echo "redis-server $*" >&2; ANSWERS=yes; }
apt-get() { echo "apt-get $*" >&2; }
sleep() { :; }
`;
const STUBS = `${SERVER_STUBS}
redis-cli() { echo "redis-cli $*" >&2; [ "$ANSWERS" = yes ]; }
timeout() { shift; "$@"; }
`;

function runRedisPart(
  redisUrl: string,
  answers: boolean,
  stubs = STUBS,
  env: Record<string, string> = {},
): Promise<{ code: number; calls: string[]; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', `set -euo pipefail\n${stubs}\n${redisPart.replaceAll('>/dev/null 2>&1', '>/dev/null')}`],
      {
        env: { PATH: process.env.PATH, REDIS_URL: redisUrl, ANSWERS: answers ? 'yes' : 'no', ...env },
        timeout: 20_000,
      },
      (err, stdout, stderr) => {
        const lines = stderr.split('\n').filter(Boolean);
        resolve({
          // Killed at the 20 s limit: no exit code of the script's.
          code: err ? (err.killed ? -1 : Number(err.code ?? 1)) : 0,
          calls: lines.filter((l) => /^(redis-cli|redis-server|apt-get) /.test(l)),
          out: `${stdout}${lines.filter((l) => !/^(redis-cli|redis-server|apt-get) /.test(l)).join('\n')}`,
        });
      },
    );
  });
}

/** A CA and a certificate it signed for 127.0.0.1, made with openssl in `dir` (no spaces in it). */
function privateCa(dir: string): { ca: string; cert: string; key: string } {
  const at = (name: string) => join(dir, name);
  const openssl = (command: string) => execFileSync('openssl', command.split(' '), { stdio: 'ignore' });
  openssl(
    `req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=cxo-test-CA -keyout ${at('ca.key')} -out ${at('ca.crt')}`,
  );
  openssl(
    `req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout ${at('redis.key')} -out ${at('redis.csr')}`,
  );
  writeFileSync(at('san'), 'subjectAltName=IP:127.0.0.1');
  openssl(
    `x509 -req -days 1 -in ${at('redis.csr')} -CA ${at('ca.crt')} -CAkey ${at('ca.key')} -CAcreateserial ` +
      `-out ${at('redis.crt')} -extfile ${at('san')}`,
  );
  return { ca: at('ca.crt'), cert: at('redis.crt'), key: at('redis.key') };
}

/** redis-server's arguments for TLS only, on `port`, keeping nothing on disk. */
function tlsRedisArgs(tls: { ca: string; cert: string; key: string }, port: number): string[] {
  return [
    ...['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-auth-clients', 'no'],
    ...['--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca],
    ...['--save', '', '--appendonly', 'no'],
  ];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('.ci/run: a Redis at REDIS_URL', () => {
  it('starts a local one where none answers, on the port the URL names, never echoing its password', async () => {
    const run = await runRedisPart('redis://:s3cret@127.0.0.1:6390/2', false);
    expect(run.code, run.out).toBe(0);
    expect(run.calls).toContain(
      'redis-server --daemonize yes --bind 127.0.0.1 --port 6390 --save  --appendonly no',
    );
    expect(run.out).not.toContain('s3cret');
  });

  // ioredis takes options from the query (`?family=6`, `?password=…`), which the configuration
  // accepts: the query was read as part of the port (`-p 6392?family=4`), so a Redis that answered
  // was taken for none, and an `@` in the query was taken for the end of a user:password@.
  it('reads the host and port before a query', async () => {
    const up = await runRedisPart('redis://127.0.0.1:6392?family=4', true);
    expect(up.code, up.out).toBe(0);
    expect(up.calls).toEqual(['redis-cli -h 127.0.0.1 -p 6392 ping']);
    const atInQuery = await runRedisPart('redis://127.0.0.1:6393?password=p@ss', true);
    expect(atInQuery.code, atInQuery.out).toBe(0);
    expect(atInQuery.calls).toEqual(['redis-cli -h 127.0.0.1 -p 6393 ping']);
  });

  it('reads an IPv6 host in brackets', async () => {
    const run = await runRedisPart('redis://[::1]:6391', false);
    expect(run.code, run.out).toBe(0);
    expect(run.calls[0]).toBe('redis-cli -h ::1 -p 6391 ping');
    expect(run.calls).toContain(
      'redis-server --daemonize yes --bind ::1 --port 6391 --save  --appendonly no',
    );
  });

  // Before, a rediss:// URL without credentials read as host "rediss" and port "", and any other
  // failed check started a plaintext local redis-server that the URL never reached.
  it('asks a rediss:// one over TLS, and starts nothing for it', async () => {
    expect((await runRedisPart('rediss://cache.example.test:6380', true)).calls).toEqual([
      'redis-cli --tls -h cache.example.test -p 6380 ping',
    ]);
    const down = await runRedisPart('rediss://cache.example.test:6380', false);
    expect(down.code).toBe(1);
    expect(down.calls.filter((c) => c.startsWith('redis-server'))).toEqual([]);
    expect(down.out).toMatch(/does not answer at cache\.example\.test:6380 .*start it first/);
  });

  it('asks a rediss:// one with the private CA Node is told to trust', async () => {
    const run = await runRedisPart('rediss://cache.example.test:6380', true, STUBS, {
      NODE_EXTRA_CA_CERTS: '/etc/cxo/redis ca.pem',
    });
    expect(run.code, run.out).toBe(0);
    expect(run.calls).toEqual([
      'redis-cli --tls --cacert /etc/cxo/redis ca.pem -h cache.example.test -p 6380 ping',
    ]);
  });

  // A Redis behind TLS whose certificate a private CA signed: the service reaches it (Node trusts the CA
  // NODE_EXTRA_CA_CERTS names) but redis-cli, trusting only the system's CAs, did not, and CI stopped
  // saying no Redis answered.
  it.skipIf(!['redis-server', 'redis-cli', 'openssl'].every((tool) => findOnPath(tool, process.env.PATH)))(
    'finds a real TLS Redis signed by a private CA answering',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cxo-ci-tls-'));
      const port = await freePort();
      const redis = spawn('redis-server', tlsRedisArgs(privateCa(dir), port), { stdio: 'ignore' });
      try {
        const url = `rediss://127.0.0.1:${port}`;
        const trusted = { NODE_EXTRA_CA_CERTS: join(dir, 'ca.crt') };
        let run = await runRedisPart(url, false, SERVER_STUBS, trusted);
        for (let i = 0; i < 50 && run.code !== 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          run = await runRedisPart(url, false, SERVER_STUBS, trusted);
        }
        expect(run.code, run.out).toBe(0);
        // Without the CA the handshake fails: the check that took it for none (and the test can fail).
        const untrusted = await runRedisPart(url, false, SERVER_STUBS);
        expect(untrusted.code).toBe(1);
        expect(untrusted.out).toContain(`does not answer at 127.0.0.1:${port} (rediss://`);
      } finally {
        if (redis.exitCode === null) {
          const exited = new Promise((resolve) => redis.once('exit', resolve));
          redis.kill();
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  // redis-cli has no timeout of its own, and --tls waits for a handshake a plaintext port never
  // starts: a rediss:// URL naming a plaintext Redis (or a port that takes connections and never
  // answers) held CI for ever, saying nothing.
  it.skipIf(!findOnPath('redis-cli', process.env.PATH))(
    'gives up on a port that never answers, in seconds, saying where',
    async () => {
      const held = new Set<Socket>();
      const silent = createServer((socket) => void held.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as { port: number }).port;
      try {
        const began = Date.now();
        const run = await runRedisPart(`rediss://127.0.0.1:${port}`, false, SERVER_STUBS);
        expect(run.code, run.out).toBe(1);
        expect(Date.now() - began).toBeLessThan(15_000);
        expect(run.out).toContain(`does not answer at 127.0.0.1:${port} (rediss://`);
      } finally {
        for (const socket of held) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    },
    30_000,
  );

  it('starts nothing for a Redis on another machine, and says so', async () => {
    const down = await runRedisPart('redis://redis:6379', false);
    expect(down.code).toBe(1);
    expect(down.calls.filter((c) => c.startsWith('redis-server'))).toEqual([]);
  });
});
