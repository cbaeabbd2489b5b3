import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { runSandboxRole } from '../../src/sandbox/cli-entry.js';
import {
  fleetBudgetOverSandbox,
  sandboxOptionsFromConfig,
  startEmbeddedSandbox,
} from '../../src/sandbox/embedded.js';
import { ConfigError, loadConfig } from '../../src/shared/config.js';
import { silentLogger, type Logger } from '../../src/shared/logger.js';
import { call, tokenFor } from './helpers.js';

/** A logger that keeps every record it is given. */
function capturingLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => records.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, records };
}

/** The problems loadConfig names for an environment (HOST on loopback), or [] when it loads. */
function loadConfigProblems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig({ HOST: '127.0.0.1', ...env });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('embedded and standalone sandbox', () => {
  // A misspelt SANDBOX_* variable (SANDBOX_TIMESCALE=600) was ignored without a word: the sandbox
  // ran at time scale 1 and the operator had no way to know why.
  it('warns once at start naming each unknown SANDBOX_* variable and the closest known one', async () => {
    const env = { SANDBOX_PORT: '0', HOST: '127.0.0.1', SANDBOX_TIMESCALE: '600', SANDBOX_SEEDS: '7' };
    const config = loadConfig(env);
    for (const startIt of [startEmbeddedSandbox, runSandboxRole]) {
      const { logger, records } = capturingLogger();
      const sandbox = await startIt(config, logger, env);
      await sandbox.close();
      const warnings = records.filter((r) => r.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toBe(
        'ignoring unknown sandbox variables SANDBOX_SEEDS (did you mean SANDBOX_SEED?), ' +
          'SANDBOX_TIMESCALE (did you mean SANDBOX_TIME_SCALE?)',
      );
      expect(warnings[0]!.unknownVariables).toEqual(['SANDBOX_SEEDS', 'SANDBOX_TIMESCALE']);
    }
    const { logger, records } = capturingLogger();
    const clean = await startEmbeddedSandbox(config, logger, {
      SANDBOX_PORT: '0',
      SANDBOX_TIME_SCALE: '600',
    });
    await clean.close();
    expect(records.filter((r) => r.level === 40)).toEqual([]);
  });

  it('accepts the fleet CXONE_CLIENT_ID/SECRET with every scope and applies its own SANDBOX_RATE_LIMIT_*', async () => {
    const config = loadConfig({
      SANDBOX_PORT: '0',
      HOST: '127.0.0.1',
      CXONE_CLIENT_ID: 'my-fleet',
      CXONE_CLIENT_SECRET: 'my-fleet-secret',
      // The fleet's belief about the tenant, which the sandbox does not take for its own limit.
      CXONE_RATE_LIMIT_PER_MIN: '1000',
      SANDBOX_RATE_LIMIT_PER_MIN: '2',
      SANDBOX_RATE_LIMIT_WINDOW_MS: '60000',
      SANDBOX_TOKEN_TTL_SECONDS: '5',
    });
    const { logger, records } = capturingLogger();
    const sandbox = await startEmbeddedSandbox(config, logger, {});
    try {
      const refused = await call(sandbox, 'POST', '/oauth2/token', {
        form: {
          grant_type: 'client_credentials',
          client_id: 'sandbox-client',
          client_secret: 'sandbox-secret',
        },
      });
      expect(refused.status).toBe(401);
      const token = await tokenFor(sandbox, { clientId: 'my-fleet', clientSecret: 'my-fleet-secret' });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1)
        statuses.push((await call(sandbox, 'GET', '/api/v2/outbound/campaigns/x/stats', { token })).status);
      expect(statuses).toEqual([404, 404, 429]);
      const cfg = await call(sandbox, 'GET', '/__sandbox/config');
      expect(cfg.body).toMatchObject({ tokenTtlSeconds: 5, rateLimit: { perWindow: 2, windowMs: 60_000 } });
      // A fleet told 1000 a minute against a sandbox of 2 hears about it once, at start.
      const warnings = records.filter((r) => r.level === 40).map((r) => r.msg);
      expect(warnings).toEqual([
        expect.stringMatching(
          /^the fleet is told CXone allows 1000 requests per endpoint per 60000 ms .* embedded sandbox allows 2 per 60000 ms .*expect 429s/,
        ),
      ]);
    } finally {
      await sandbox.close();
    }
  });

  it("honours a create's Idempotency-Key unless SANDBOX_IDEMPOTENCY_KEYS=ignored", () => {
    const optionsOf = (env: NodeJS.ProcessEnv) =>
      sandboxOptionsFromConfig(loadConfig({ HOST: '127.0.0.1', ...env }), silentLogger);
    expect(optionsOf({}).idempotencyKeys).toBe(true);
    expect(optionsOf({ SANDBOX_IDEMPOTENCY_KEYS: 'ignored' }).idempotencyKeys).toBe(false);
  });

  it("defaults to CXone's 100 a minute whatever the fleet is told, and warns only when the fleet is told more", () => {
    const sandboxOf = (env: NodeJS.ProcessEnv) => loadConfig({ HOST: '127.0.0.1', ...env });
    expect(sandboxOf({}).sandbox).toMatchObject({ rateLimitPerWindow: 100, rateLimitWindowMs: 60_000 });
    expect(sandboxOf({ CXONE_RATE_LIMIT_PER_MIN: '5000' }).sandbox.rateLimitPerWindow).toBe(100);
    // Compared as rates: 100 a minute is 10 per 6 s, and 11 per 6 s is more.
    expect(fleetBudgetOverSandbox(sandboxOf({}))).toBeUndefined();
    expect(
      fleetBudgetOverSandbox(
        sandboxOf({ CXONE_RATE_LIMIT_PER_MIN: '10', CXONE_RATE_LIMIT_WINDOW_MS: '6000' }),
      ),
    ).toBeUndefined();
    expect(
      fleetBudgetOverSandbox(
        sandboxOf({ CXONE_RATE_LIMIT_PER_MIN: '11', CXONE_RATE_LIMIT_WINDOW_MS: '6000' }),
      ),
    ).toMatch(/told CXone allows 11 requests per endpoint per 6000 ms/);
    expect(
      fleetBudgetOverSandbox(
        sandboxOf({ CXONE_RATE_LIMIT_PER_MIN: '400', SANDBOX_RATE_LIMIT_PER_MIN: '400' }),
      ),
    ).toBeUndefined();
    expect(
      loadConfigProblems({ SANDBOX_RATE_LIMIT_PER_MIN: '0', SANDBOX_RATE_LIMIT_WINDOW_MS: '50' }),
    ).toEqual([
      expect.stringMatching(/^SANDBOX_RATE_LIMIT_PER_MIN: .* \(got "0"\)$/),
      expect.stringMatching(/^SANDBOX_RATE_LIMIT_WINDOW_MS: .* \(got "50"\)$/),
    ]);
  });

  it('binds the embedded sandbox to loopback even when HOST names every interface; the standalone role binds HOST', async () => {
    // The `all` role that embeds it serves the API: every interface needs a token of the operator's.
    const config = loadConfig({ SANDBOX_PORT: '0', HOST: '0.0.0.0', API_TOKEN: 'an-operator-chosen-token' });
    const embedded = await startEmbeddedSandbox(config, silentLogger);
    const standalone = await runSandboxRole(config, silentLogger);
    try {
      expect((embedded.app.server.address() as AddressInfo).address).toBe('127.0.0.1');
      expect((standalone.app.server.address() as AddressInfo).address).toBe('0.0.0.0');
      // Still what the fleet in the same process calls.
      expect(embedded.url).toBe(`http://127.0.0.1:${embedded.port}`);
      await tokenFor(embedded, { clientId: 'sandbox-client', clientSecret: 'sandbox-secret' });
    } finally {
      await embedded.close();
      await standalone.close();
    }
  });

  it('warns at start when the standalone role serves /__sandbox to other machines without an admin token', async () => {
    const exposed = { SANDBOX_PORT: '0', HOST: '0.0.0.0', API_TOKEN: 'an-operator-chosen-token' };
    const warningsOf = async (env: NodeJS.ProcessEnv) => {
      const { logger, records } = capturingLogger();
      const sandbox = await runSandboxRole(loadConfig(env), logger, env);
      await sandbox.close();
      return records.filter((r) => r.level === 40);
    };
    const open = await warningsOf(exposed);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ host: '0.0.0.0', controlSurface: expect.stringMatching(/\/__sandbox$/) });
    expect(open[0]!.msg).toMatch(
      /answer anyone who reaches HOST=0\.0\.0\.0, with no token; set SANDBOX_ADMIN_TOKEN/,
    );
    expect(await warningsOf({ ...exposed, SANDBOX_ADMIN_TOKEN: 'admin-token-123' })).toEqual([]);
    expect(await warningsOf({ ...exposed, HOST: '127.0.0.1' })).toEqual([]);
  });

  it('runs the standalone role with the sandbox defaults and an admin-guarded control surface', async () => {
    const config = loadConfig({
      SANDBOX_PORT: '0',
      HOST: '127.0.0.1',
      SANDBOX_ADMIN_TOKEN: 'admin-token-123',
    });
    const sandbox = await runSandboxRole(config, silentLogger);
    try {
      await tokenFor(sandbox, { clientId: 'sandbox-client', clientSecret: 'sandbox-secret' });
      expect((await call(sandbox, 'GET', '/__sandbox/counters')).status).toBe(401);
      const ok = await call(sandbox, 'GET', '/__sandbox/counters', {
        headers: { 'x-sandbox-admin': 'admin-token-123' },
      });
      expect(ok.status).toBe(200);
    } finally {
      await sandbox.close();
    }
  });
});
