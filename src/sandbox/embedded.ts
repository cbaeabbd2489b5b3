import type { AppConfig } from '../shared/config.js';
import { CXONE_SCOPES } from '../shared/cxone/wire.js';
import type { Logger } from '../shared/logger.js';
import { warnUnknownSandboxVariables } from './env-check.js';
import { startSandbox } from './server.js';
import type { RunningSandbox, SandboxOptions } from './types.js';

/**
 * Sandbox options for this deployment: the fleet's own OAuth client (CXONE_CLIENT_ID/SECRET) with
 * every scope, and the same per-endpoint budget the fleet is configured to respect
 * (CXONE_RATE_LIMIT_PER_MIN per CXONE_RATE_LIMIT_WINDOW_MS), so the fleet meets the limit it expects.
 */
export function sandboxOptionsFromConfig(config: AppConfig, logger: Logger): SandboxOptions {
  return {
    port: config.sandbox.port,
    host: config.host,
    clients: [
      { clientId: config.cxone.clientId, clientSecret: config.cxone.clientSecret, scopes: [...CXONE_SCOPES] },
    ],
    tokenTtlSeconds: config.sandbox.tokenTtlSeconds,
    rateLimit: { perWindow: config.cxone.rateLimitPerWindow, windowMs: config.cxone.rateLimitWindowMs },
    timeScale: config.sandbox.timeScale,
    seed: config.sandbox.seed,
    ...(config.sandbox.adminToken !== undefined ? { adminToken: config.sandbox.adminToken } : {}),
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
      rateLimit: `${config.cxone.rateLimitPerWindow}/${config.cxone.rateLimitWindowMs}ms per endpoint`,
    },
    'embedded CXone sandbox listening',
  );
  return sandbox;
}
