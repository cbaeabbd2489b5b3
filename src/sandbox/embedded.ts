import type { AppConfig } from '../shared/config.js';
import { CXONE_SCOPES } from '../shared/cxone/wire.js';
import type { Logger } from '../shared/logger.js';
import { warnUnknownSandboxVariables } from './env-check.js';
import { startSandbox } from './server.js';
import type { RunningSandbox, SandboxOptions } from './types.js';

/**
 * Sandbox options for this deployment: the fleet's own OAuth client (CXONE_CLIENT_ID/SECRET) with
 * every scope, and the sandbox's own per-endpoint limit (SANDBOX_RATE_LIMIT_PER_MIN per
 * SANDBOX_RATE_LIMIT_WINDOW_MS; CXone's ~100 a minute by default), not the fleet's
 * CXONE_RATE_LIMIT_PER_MIN: a sandbox agreeing with whatever the fleet is told could never show a
 * fleet told more than its tenant allows its first 429.
 */
export function sandboxOptionsFromConfig(config: AppConfig, logger: Logger): SandboxOptions {
  return {
    port: config.sandbox.port,
    host: config.host,
    clients: [
      { clientId: config.cxone.clientId, clientSecret: config.cxone.clientSecret, scopes: [...CXONE_SCOPES] },
    ],
    tokenTtlSeconds: config.sandbox.tokenTtlSeconds,
    rateLimit: { perWindow: config.sandbox.rateLimitPerWindow, windowMs: config.sandbox.rateLimitWindowMs },
    authFailureLimit: {
      perWindow: config.sandbox.authFailuresPerWindow,
      windowMs: config.sandbox.authFailureWindowMs,
    },
    timeScale: config.sandbox.timeScale,
    seed: config.sandbox.seed,
    ...(config.sandbox.adminToken !== undefined ? { adminToken: config.sandbox.adminToken } : {}),
    idempotencyKeys: config.sandbox.idempotencyKeys,
    logger: logger.child({ component: 'sandbox' }),
  };
}

/**
 * Where the embedded sandbox listens, whatever HOST says. Only the process that embeds it calls it
 * (over 127.0.0.1), and with SANDBOX_ADMIN_TOKEN unset its `/__sandbox` control routes are open:
 * bound to a HOST of every interface (the default once API_TOKEN is set, and the image's), anyone on
 * the network could inject faults or change campaigns under a developer's `npm start`. The
 * standalone `sandbox` role, which other containers must reach, still binds HOST.
 */
export const EMBEDDED_SANDBOX_HOST = '127.0.0.1';

/**
 * The sandbox inside the `all` role, on SANDBOX_PORT, when CXONE_BASE_URL is unset. `env` is only
 * looked at for SANDBOX_* variables the sandbox does not know (a warning names each).
 */
export async function startEmbeddedSandbox(
  config: AppConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningSandbox> {
  warnUnknownSandboxVariables(logger.child({ component: 'sandbox' }), env);
  const sandbox = await startSandbox({
    ...sandboxOptionsFromConfig(config, logger),
    host: EMBEDDED_SANDBOX_HOST,
  });
  logger.info(
    {
      url: sandbox.url,
      timeScale: config.sandbox.timeScale,
      tokenTtlSeconds: config.sandbox.tokenTtlSeconds,
      rateLimit: `${config.sandbox.rateLimitPerWindow}/${config.sandbox.rateLimitWindowMs}ms per endpoint`,
    },
    'embedded CXone sandbox listening',
  );
  const overBudget = fleetBudgetOverSandbox(config);
  if (overBudget) logger.warn({ component: 'sandbox' }, overBudget);
  return sandbox;
}

/**
 * The start-up warning for a fleet told a faster budget than the embedded sandbox grants (compared as
 * rates, the windows may differ), or undefined. Not refused: answering 429s to such a fleet is what
 * the sandbox is for, and seeing the fleet cope with them is a legitimate test. Pure.
 */
export function fleetBudgetOverSandbox(config: Pick<AppConfig, 'cxone' | 'sandbox'>): string | undefined {
  const { rateLimitPerWindow: fleet, rateLimitWindowMs: fleetMs } = config.cxone;
  const { rateLimitPerWindow: sandbox, rateLimitWindowMs: sandboxMs } = config.sandbox;
  // fleet / fleetMs > sandbox / sandboxMs, in whole numbers.
  if (fleet * sandboxMs <= sandbox * fleetMs) return undefined;
  return (
    `the fleet is told CXone allows ${fleet} requests per endpoint per ${fleetMs} ms ` +
    `(CXONE_RATE_LIMIT_PER_MIN, CXONE_RATE_LIMIT_WINDOW_MS), but the embedded sandbox allows ` +
    `${sandbox} per ${sandboxMs} ms (SANDBOX_RATE_LIMIT_PER_MIN, SANDBOX_RATE_LIMIT_WINDOW_MS): ` +
    'expect 429s from it, as a real tenant with that limit would answer; raise the sandbox limit to ' +
    'match a tenant that allows more'
  );
}
