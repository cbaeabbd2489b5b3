import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { ManualClock } from '../../src/shared/clock.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { createCxoneClient } from '../../src/shared/cxone/client.js';
import { CXONE_ENDPOINTS, CXONE_SCOPES, type CxoneEndpoint } from '../../src/shared/cxone/wire.js';
import { createFleetLimiter, type FleetLimiter } from '../../src/shared/limiter/index.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createKeys } from '../../src/shared/keys.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

/**
 * The real context (fleet limiter, CXone client, audit, queues) on real Redis, the sandbox over HTTP,
 * a ManualClock, and a seam in the fleet limiter: a callback that runs when a PATCH asks for its
 * permit, before the permit is granted. Moving the clock there is a rate-limit wait that outlasted
 * the moment the write was decided at, without waiting for one.
 */
export interface SendGateStack {
  sandbox: RunningSandbox;
  ctx: ClosableContext;
  clock: ManualClock;
  /**
   * Runs `hook` when the `nth` PATCH from now (1 = the next) asks the limiter for its permit; the
   * permit is asked for once it returned.
   */
  beforeWritePermit(nth: number, hook: () => void): void;
  close(): Promise<void>;
}

export async function startSendGateStack(startIso: string): Promise<SendGateStack> {
  const sandbox = await startSandbox({
    clients: [{ clientId: 'sandbox-client', clientSecret: 'sandbox-secret', scopes: [...CXONE_SCOPES] }],
    rateLimit: { perWindow: 100_000, windowMs: 60_000 },
  });
  const prefix = testPrefix('send-gate');
  const clock = new ManualClock(Date.parse(startIso));
  const config = loadConfig({
    REDIS_URL,
    CXONE_BASE_URL: sandbox.url,
    CXONE_CLIENT_ID: 'sandbox-client',
    CXONE_CLIENT_SECRET: 'sandbox-secret',
    API_TOKEN: 'send-gate-test-token',
    KEY_PREFIX: prefix,
    CXONE_RATE_LIMIT_PER_MIN: '100000',
    LOG_LEVEL: 'silent',
  });
  const limiter = createFleetLimiter({
    redisUrl: config.redisUrl,
    prefix: createKeys(config.keyPrefix).prefix,
    perWindow: config.cxone.rateLimitPerWindow,
    windowMs: config.cxone.rateLimitWindowMs,
    logger: silentLogger,
  });
  let pending: { left: number; hook: () => void } | undefined;
  const gated: FleetLimiter = {
    schedule(endpoint: CxoneEndpoint, priority, fn, opts) {
      if (endpoint === CXONE_ENDPOINTS.updateCampaign && pending && --pending.left === 0) {
        const { hook } = pending;
        pending = undefined;
        hook();
      }
      return limiter.schedule(endpoint, priority, fn, opts);
    },
    penalize: (endpoint, ms) => limiter.penalize(endpoint, ms),
    close: () => limiter.close(),
  };
  const cxone = createCxoneClient({
    baseUrl: config.cxone.baseUrl,
    clientId: config.cxone.clientId,
    clientSecret: config.cxone.clientSecret,
    timeoutMs: config.cxone.timeoutMs,
    limiter: gated,
    logger: silentLogger,
    clock,
  });
  const ctx = await createContext(config, silentLogger, { clock, cxone });
  return {
    sandbox,
    ctx,
    clock,
    beforeWritePermit(nth, hook) {
      pending = { left: nth, hook };
    },
    async close() {
      await ctx.close();
      await cxone.close();
      await gated.close();
      await sandbox.close();
      await deletePrefixAt(prefix);
    },
  };
}
