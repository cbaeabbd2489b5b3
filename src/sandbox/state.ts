import { systemClock, type Clock } from '../shared/clock.js';
import { CXONE_SCOPES } from '../shared/cxone/wire.js';
import { SANDBOX_DEFAULTS } from '../shared/config.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { AuthFailureThrottle } from './auth-throttle.js';
import { CampaignDialers, defaultDialerFactory, type DialerFactory } from './campaign-dialers.js';
import { CampaignStore } from './campaign-store.js';
import { Directory } from './directory.js';
import { RequestCounters } from './counters.js';
import { FaultInjector } from './faults.js';
import { IdempotencyStore } from './idempotency.js';
import { deriveSeed } from './prng.js';
import { RateWindow } from './rate-window.js';
import { SimulatedTime } from './sim-time.js';
import { ClientRegistry, TokenStore } from './token-store.js';
import type { RateLimitOptions, SandboxClient, SandboxOptions } from './types.js';

export const SANDBOX_OPTION_DEFAULTS = {
  host: '127.0.0.1',
  tokenTtlSeconds: 3600,
  rateLimit: { perWindow: 100, windowMs: 60_000, mode: 'sliding' } satisfies RateLimitOptions,
  authFailureLimit: { perWindow: 10, windowMs: 60_000 },
  timeScale: 1,
  seed: 42,
  idempotencyTtlMs: 24 * 3600 * 1000,
} as const;

export function defaultClients(): SandboxClient[] {
  return [
    {
      clientId: SANDBOX_DEFAULTS.clientId,
      clientSecret: SANDBOX_DEFAULTS.clientSecret,
      scopes: [...CXONE_SCOPES],
    },
  ];
}

/** Everything the sandbox remembers, one module per concern; routes receive this and nothing global. */
export interface SandboxState {
  clock: Clock;
  logger: Logger;
  clients: ClientRegistry;
  clientList: readonly SandboxClient[];
  tokens: TokenStore;
  rate: RateWindow;
  tokenRate: RateWindow;
  /** Failed logins at the token endpoint, per client id (per address for unknown ids). */
  authFailures: AuthFailureThrottle;
  faults: FaultInjector;
  counters: RequestCounters;
  idempotency: IdempotencyStore;
  campaigns: CampaignStore;
  /** The tenant's target lists and skill groups, which campaigns must name. */
  directory: Directory;
  dialers: CampaignDialers;
  simTime: SimulatedTime;
  seed: number;
  adminToken: string | undefined;
  /** False: a create's Idempotency-Key is ignored (SandboxOptions.idempotencyKeys). */
  idempotencyKeys: boolean;
}

export function createSandboxState(
  opts: SandboxOptions,
  dialerFactory: DialerFactory = defaultDialerFactory,
): SandboxState {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const seed = opts.seed ?? SANDBOX_OPTION_DEFAULTS.seed;
  const clientList = opts.clients && opts.clients.length > 0 ? opts.clients : defaultClients();
  const rateLimit = opts.rateLimit ?? SANDBOX_OPTION_DEFAULTS.rateLimit;
  const campaigns = new CampaignStore(clock);
  const simTime = new SimulatedTime(clock, opts.timeScale ?? SANDBOX_OPTION_DEFAULTS.timeScale);
  const directory = new Directory();
  return {
    clock,
    logger,
    clients: new ClientRegistry(clientList),
    clientList,
    tokens: new TokenStore(clock, opts.tokenTtlSeconds ?? SANDBOX_OPTION_DEFAULTS.tokenTtlSeconds),
    rate: new RateWindow(rateLimit, clock),
    tokenRate: new RateWindow(opts.tokenRateLimit ?? rateLimit, clock),
    authFailures: new AuthFailureThrottle(
      opts.authFailureLimit ?? SANDBOX_OPTION_DEFAULTS.authFailureLimit,
      clock,
    ),
    faults: new FaultInjector({
      seed: deriveSeed(seed, 0xfa017),
      ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}),
      ...(opts.errorRate !== undefined ? { errorRate: opts.errorRate } : {}),
    }),
    counters: new RequestCounters(),
    idempotency: new IdempotencyStore(
      clock,
      opts.idempotencyTtlMs ?? SANDBOX_OPTION_DEFAULTS.idempotencyTtlMs,
    ),
    campaigns,
    directory,
    dialers: new CampaignDialers(campaigns, simTime, dialerFactory, seed, logger, directory),
    simTime,
    seed,
    adminToken: opts.adminToken,
    idempotencyKeys: opts.idempotencyKeys ?? true,
  };
}
