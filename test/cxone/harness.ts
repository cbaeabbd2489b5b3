import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EndpointCounters } from '../../src/sandbox/counters.js';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '../../src/sandbox/server.js';
import type { Clock } from '../../src/shared/clock.js';
import { createCxoneClient, type CxoneClient } from '../../src/shared/cxone/client.js';
import type { CreateCampaignRequest, CxoneScope } from '../../src/shared/cxone/wire.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import type { FleetLimiter } from '../../src/shared/limiter/types.js';
import { silentLogger } from '../../src/shared/logger.js';
import { testPrefix, REDIS_URL, deletePrefixAt } from '../support/redis-prefix.js';
import { SANDBOX_SKILL_GROUP_ID, SANDBOX_TARGET_LIST_ID } from '../../src/sandbox/directory.js';
import { sandboxCounters } from '../support/sandbox-counters.js';

export { REDIS_URL };

export { testPrefix };

export interface Harness {
  sandbox: RunningSandbox;
  limiter: FleetLimiter;
  client: CxoneClient;
  prefix: string;
  /** What the sandbox counted, per endpoint (sandboxCounters). */
  counters(): Promise<Record<string, EndpointCounters>>;
  close(): Promise<void>;
}

export async function startHarness(
  opts: {
    sandbox?: SandboxOptions;
    perWindow?: number;
    windowMs?: number;
    timeoutMs?: number;
    clock?: Clock;
    clientId?: string;
    clientSecret?: string;
    scopes?: CxoneScope[];
    tag?: string;
  } = {},
): Promise<Harness> {
  const sandbox = await startSandbox({ port: 0, ...opts.sandbox });
  const prefix = testPrefix(opts.tag ?? 'cx');
  const limiter = createFleetLimiter({
    redisUrl: REDIS_URL,
    prefix,
    perWindow: opts.perWindow ?? 1_000,
    windowMs: opts.windowMs ?? 10_000,
    logger: silentLogger,
  });
  const client = createCxoneClient({
    baseUrl: sandbox.url,
    clientId: opts.clientId ?? 'sandbox-client',
    clientSecret: opts.clientSecret ?? 'sandbox-secret',
    timeoutMs: opts.timeoutMs ?? 5_000,
    limiter,
    logger: silentLogger,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.scopes ? { scopes: opts.scopes } : {}),
  });
  return {
    sandbox,
    limiter,
    client,
    prefix,
    counters: () => sandboxCounters(sandbox),
    async close() {
      await client.close();
      await limiter.close();
      await sandbox.close();
      await deletePrefixAt(prefix);
    },
  };
}

export function campaignBody(overrides: Partial<CreateCampaignRequest> = {}): CreateCampaignRequest {
  return {
    name: 'Spring renewals',
    type: 'predictive',
    startDateTime: new Date(Date.now() + 3_600_000).toISOString(),
    targetListId: SANDBOX_TARGET_LIST_ID,
    dialerSettings: {
      strategy: 'predictive',
      agentCapacity: 10,
      callRate: 0.5,
      answerRate: 0.3,
      wrapUpTime: 30,
      skillGroupId: SANDBOX_SKILL_GROUP_ID,
    },
    complianceSettings: {
      timeZone: 'America/New_York',
      allowedCallTimes: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '23:59' },
      ],
      doNotCallListCheck: true,
      regulatoryCompliance: 'TCPA',
    },
    ...overrides,
  };
}

/**
 * Listens with `server` (a scripted CXone: a gateway, a broken endpoint) on a free loopback port, and
 * a client calling it with a fleet limiter under `prefix`, out of the way. `close` closes both.
 */
export async function scriptedClient(server: Server, prefix: string) {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const limiter = createFleetLimiter({
    redisUrl: REDIS_URL,
    prefix,
    perWindow: 1_000,
    windowMs: 1_000,
    logger: silentLogger,
  });
  const client = createCxoneClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    clientId: 'a',
    clientSecret: 'b',
    timeoutMs: 2_000,
    limiter,
    logger: silentLogger,
  });
  return {
    client,
    limiter,
    async close() {
      await client.close();
      await limiter.close();
    },
  };
}

/** What the sandbox counted at its token endpoint (GET /__sandbox/counters): every request, by outcome. */
export async function tokenCounters(
  sandbox: Pick<RunningSandbox, 'url'>,
): Promise<Partial<EndpointCounters>> {
  return (
    (await sandboxCounters(sandbox))['POST /oauth2/token'] ?? {
      requests: 0,
      unauthorized: 0,
      rateLimited: 0,
      accepted: 0,
    }
  );
}
