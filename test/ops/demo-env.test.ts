import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SHELL_VARIABLES, demoEnv } from '../../src/demo/env.js';
import { envSchema, loadConfig } from '../../src/shared/config.js';
import { REDIS_URL } from '../support/redis-prefix.js';

/** The real demo in its own process, with the shell environment it is documented to ignore or use. */
function startDemo(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts', '--duration', '60'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { PATH: process.env.PATH, REDIS_URL, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, out: () => out, err: () => err };
}

describe("the demo and the shell's environment", () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  });
  afterAll(() => {
    redis.disconnect();
  });

  it("ignores the shell's own deployment (CXONE_*, its webhook rotation, takeover, metrics port …), as documented", async () => {
    // Set for a real tenant (or mistyped): none of it may reach the demo's fleet, or stop it.
    const demo = startDemo({
      CXONE_RATE_LIMIT_PER_MIN: 'abc',
      CXONE_RATE_LIMIT_WINDOW_MS: '-1',
      CXONE_TIMEOUT_MS: 'soon',
      WEBHOOK_SECRET_PREVIOUS: 'whsec_old',
      FLEET_TAKEOVER: 'abc',
      METRICS_PORT: 'none',
      SHUTDOWN_TIMEOUT_MS: 'long',
      ALLOW_DNC_DISABLED: 'perhaps',
      AUDIT_RETENTION_DAYS: 'forever',
    });
    const prefix = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the demo did not launch in time:\n${demo.out()}`)),
        60_000,
      );
      const check = () => {
        const named = /keys under (\{cxo-demo-[0-9a-f]{8}\})/.exec(demo.out());
        if (named && /created on CXone/.test(demo.out())) {
          clearTimeout(timer);
          resolve(named[1] as string);
        }
      };
      demo.child.stdout.on('data', check);
      void demo.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the demo exited before launching:\n${demo.out()}${demo.err()}`));
      });
    });
    demo.child.kill('SIGTERM');
    expect(await demo.exited, demo.err()).toBe(0);
    expect(await redis.keys(`*${prefix.slice(1, -1)}*`)).toEqual([]);
  }, 90_000);

  it('a bad value of a variable it does use stops it with one line naming it, no stack trace (exit 1)', async () => {
    const demo = startDemo({ LOG_LEVEL: 'verbose' });
    expect(await demo.exited).toBe(1);
    expect(demo.err()).toContain('LOG_LEVEL');
    expect(demo.err()).not.toMatch(/\n\s+at /);
    expect(demo.err()).not.toContain('ConfigError');
  }, 30_000);

  it('names a REDIS_URL that is no Redis URL as npm start does, not as a Redis that does not answer', async () => {
    for (const value of ['nonsense', 'http://127.0.0.1:6379']) {
      const demo = startDemo({ REDIS_URL: value });
      expect(await demo.exited, value).toBe(1);
      expect(demo.err(), value).toContain('REDIS_URL: must be a redis:// or rediss:// URL');
      expect(demo.err(), value).not.toContain('does not answer');
    }
  }, 60_000);

  it('never prints the password of the REDIS_URL it was given', async () => {
    // Nothing listens on port 1: the demo says so, naming the URL without its password.
    const demo = startDemo({ REDIS_URL: 'redis://:s3cret-pass@127.0.0.1:1' });
    expect(await demo.exited).toBe(1);
    expect(demo.err()).toContain('Redis does not answer at redis://');
    expect(demo.out() + demo.err()).not.toContain('s3cret-pass');
  }, 30_000);

  it('says a Redis that refuses the password (WRONGPASS, NOAUTH) refused it, not that it does not answer', async () => {
    // A real redis-server that asks for a password, on a free loopback port.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--requirepass',
        'right-pass',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    try {
      const probe = new Redis({ port, password: 'right-pass', lazyConnect: true, retryStrategy: () => 200 });
      for (let i = 0; i < 50; i++) {
        if (
          await probe.connect().then(
            () => true,
            () => false,
          )
        )
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      probe.disconnect();
      for (const url of [`redis://:s3cret-wrong@127.0.0.1:${port}`, `redis://127.0.0.1:${port}`]) {
        const demo = startDemo({ REDIS_URL: url });
        expect(await demo.exited, demo.err()).toBe(1);
        expect(demo.err(), url).toContain(`Redis at redis://`);
        expect(demo.err(), url).toMatch(/refused the password|asks for a password/);
        expect(demo.err(), url).not.toContain('does not answer');
        expect(demo.out() + demo.err()).not.toContain('s3cret-wrong');
      }
    } finally {
      server.kill('SIGTERM');
    }
  }, 60_000);
});

describe("the demo's fleet configuration (pure)", () => {
  const own = {
    redisUrl: 'redis://127.0.0.1:6390',
    port: 3401,
    sandboxPort: 4401,
    prefix: '{cxo-demo-0a1b2c3d}',
    webhookUrl: 'http://127.0.0.1:4402/hooks',
    webhookSecret: `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
  };
  /** A shell set up for a real fleet in the middle of a webhook secret rotation. */
  const shell: NodeJS.ProcessEnv = {
    PATH: '/usr/bin',
    REDIS_URL: 'redis://127.0.0.1:6379',
    PORT: '3000',
    HOST: '10.0.0.5',
    KEY_PREFIX: '{cxo-eu}',
    API_TOKEN: 'prod-token-123',
    CXONE_BASE_URL: 'https://api-c32.incontact.com/inContactAPI',
    CXONE_CLIENT_ID: 'prod-client',
    CXONE_CLIENT_SECRET: 'prod-secret',
    WEBHOOK_URL: 'https://crm.example.com/hooks',
    WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 1).toString('base64')}`,
    WEBHOOK_SECRET_PREVIOUS: `whsec_${Buffer.alloc(32, 2).toString('base64')}`,
    FLEET_TAKEOVER: '3f9a0c6b21de',
    METRICS_PORT: '9464',
    SANDBOX_SEED: '7',
    SANDBOX_RATE_LIMIT_PER_MIN: '20',
    SANDBOX_RATE_LIMIT_WINDOW_MS: '30000',
    WORKER_CONCURRENCY: '5',
  };

  it("signs the demo's events with its own secret only, for its own receiver", () => {
    const config = loadConfig(demoEnv(shell, own));
    expect(config.webhook).toEqual({ url: own.webhookUrl, secret: own.webhookSecret });
    expect(JSON.stringify(config)).not.toContain(shell.WEBHOOK_SECRET_PREVIOUS);
    expect(JSON.stringify(config)).not.toContain(shell.WEBHOOK_SECRET);
  });

  it('runs on its own sandbox, ports, prefix and token, and keeps what shapes the demo', () => {
    const env = demoEnv(shell, own);
    const config = loadConfig(env);
    expect(config.cxone.baseUrl).toBe(`http://127.0.0.1:${own.sandboxPort}`);
    expect(config.apiToken).toBe('dev-token');
    expect([config.port, config.host, config.keyPrefix, config.redisUrl]).toEqual([
      own.port,
      '127.0.0.1',
      own.prefix,
      own.redisUrl,
    ]);
    expect(config.metricsPort).toBeUndefined();
    expect(config.fleetTakeover).toBeUndefined();
    expect(config.sandbox.seed).toBe(7);
    // A newcomer who wants to see the fleet meet 429s tightens the demo's sandbox, not a tenant's.
    expect([config.sandbox.rateLimitPerWindow, config.sandbox.rateLimitWindowMs]).toEqual([20, 30_000]);
    expect(config.workerConcurrency).toBe(5);
    expect(config.sandbox.timeScale).toBe(60);
    expect(config.logLevel).toBe('warn');
    for (const name of ['FLEET_TAKEOVER', 'WEBHOOK_SECRET_PREVIOUS', 'API_TOKEN', 'CXONE_CLIENT_ID']) {
      expect(env[name], name).toBeUndefined();
    }
  });

  it('runs 60× faster when the shell sets SANDBOX_TIME_SCALE to nothing, which counts as unset', () => {
    for (const value of ['', ' ']) {
      expect(loadConfig(demoEnv({ SANDBOX_TIME_SCALE: value }, own)).sandbox.timeScale, `"${value}"`).toBe(
        60,
      );
    }
    expect(loadConfig(demoEnv({ SANDBOX_TIME_SCALE: '5' }, own)).sandbox.timeScale).toBe(5);
  });

  it('takes from the shell only variables the README documents', () => {
    for (const name of DEMO_SHELL_VARIABLES) expect(Object.keys(envSchema.shape)).toContain(name);
  });
});
