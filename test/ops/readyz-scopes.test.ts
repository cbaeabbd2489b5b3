import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import type { CxoneClient } from '../../src/shared/cxone/client.js';
import { CxoneForbiddenError } from '../../src/shared/errors.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createBody } from '../sandbox/helpers.js';
import { recordingLogger } from '../support/log-capture.js';
import { testPrefix } from '../support/redis-prefix.js';
import { scriptFaults } from '../support/sandbox-faults.js';
import { REDIS_URL, deletePrefix } from './helpers.js';

const STATS = 'outbound:campaigns:stats:read';
const WRITE = 'outbound:campaigns:write';

interface ReadyzBody {
  status: string;
  checks: Record<string, { ok: boolean; error?: string }>;
}

/**
 * The token endpoint quietly granting fewer scopes than asked (RFC 6749 §3.3): real Redis, the real
 * CXone client and limiter, the sandbox over real HTTP withholding the statistics scope. Without the
 * check the first sign was a 403 on every statistics poll, and a campaign dialing unmeasured until
 * the guard's blind pause.
 */
describe('/readyz when CXone grants fewer scopes than asked (integration)', () => {
  let sandbox: RunningSandbox;
  let ctx: ClosableContext;
  let app: FastifyInstance;
  const prefix = testPrefix('scopes');
  const { logger, lines } = recordingLogger('info');

  beforeAll(async () => {
    // Two-second tokens: the token asked for once the scope is granted again comes within the test.
    sandbox = await startSandbox({ port: 0, logger: silentLogger, tokenTtlSeconds: 2 });
    await scriptFaults(sandbox, { withholdScopes: [STATS] });
    const config = loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      API_TOKEN: 'ops-scopes-token',
      CXONE_BASE_URL: sandbox.url,
      CXONE_CLIENT_ID: 'sandbox-client',
      CXONE_CLIENT_SECRET: 'sandbox-secret',
      CXONE_TIMEOUT_MS: '2000',
    });
    ctx = await createContext(config, logger);
    app = await buildApiApp(ctx);
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    if (ctx) {
      await deletePrefix(ctx.redis, prefix);
      await ctx.close();
    }
    await sandbox?.close();
  });

  /** Polls /readyz until it answers `status` (tokens live 2 s, so a changed grant shows within a few). */
  async function readyzUntil(status: number): Promise<{ statusCode: number; body: ReadyzBody }> {
    let res = await app.inject({ method: 'GET', url: '/readyz' });
    for (let i = 0; i < 100 && res.statusCode !== status; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await app.inject({ method: 'GET', url: '/readyz' });
    }
    return { statusCode: res.statusCode, body: res.json<ReadyzBody>() };
  }

  it('stays ready without the statistics scope alone, warned once with no token in the log and shown in /metrics', async () => {
    // Commands still work without statistics, and are what an operator needs while the guard is
    // blind: taking every replica out of rotation would refuse them (docs/operations.md).
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json().checks.cxone.ok).toBe(true);

    const warned = lines.filter((l) => l.level === 40 && Array.isArray(l.missingScopes));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({
      missingScopes: [STATS],
      grantedScopes: ['outbound:campaigns:read', 'outbound:campaigns:write'],
    });
    expect(String(warned[0]!.msg)).toContain(`missing ${STATS}`);
    expect(String(warned[0]!.msg)).toContain('GET /api/v2/outbound/campaigns/:id/stats');
    expect(String(warned[0]!.msg)).toMatch(/guard is blind/);
    // The context's CxoneApi is the typed client, which exposes its provider (readiness reads it so).
    const token = (ctx.cxone as unknown as CxoneClient).tokens.sendable();
    expect(token).toEqual(expect.any(String));
    expect(JSON.stringify(lines)).not.toContain(token);

    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain(`cxo_cxone_scope_missing{scope="${STATS}"} 1`);

    // The sandbox is as honest as CXone: the statistics the token lacks the scope for are a 403.
    const created = await ctx.cxone.createCampaign(createBody());
    await expect(ctx.cxone.getStats(created.id)).rejects.toBeInstanceOf(CxoneForbiddenError);
  });

  it('is 503 naming the missing write scope and what it blocks, and ready once it is granted', async () => {
    await scriptFaults(sandbox, { withholdScopes: [WRITE] });
    const refused = await readyzUntil(503);
    expect(refused.statusCode).toBe(503);
    const cxone = refused.body.checks.cxone!;
    expect(cxone.ok).toBe(false);
    expect(cxone.error).toContain(`missing ${WRITE}`);
    expect(cxone.error).toContain('POST /api/v2/campaigns');
    expect(cxone.error).not.toContain(`missing ${STATS}`);
    expect(refused.body.checks.redis?.ok).toBe(true);

    // Granted again: the next token has every scope, and the process is ready.
    await scriptFaults(sandbox, { withholdScopes: [] });
    expect((await readyzUntil(200)).statusCode).toBe(200);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(`cxo_cxone_scope_missing{scope="${STATS}"} 0`);
    expect(metrics).toContain(`cxo_cxone_scope_missing{scope="${WRITE}"} 0`);
    expect(lines.some((l) => l.msg === 'CXone now grants every OAuth scope asked for')).toBe(true);
  });
});
