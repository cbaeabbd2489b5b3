import type { AppConfig } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import { openControlSurfaceWarning } from './control-exposure.js';
import { sandboxOptionsFromConfig } from './embedded.js';
import { warnUnknownSandboxVariables } from './env-check.js';
import { startSandbox } from './server.js';
import type { RunningSandbox } from './types.js';

/**
 * The `sandbox` role (`node dist/main.js sandbox`): the sandbox alone, for fleets whose API and
 * worker processes run elsewhere and point CXONE_BASE_URL at it. The caller (main.ts) owns signal
 * handling and calls `close()` on SIGINT/SIGTERM.
 */
export async function runSandboxRole(
  config: AppConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningSandbox> {
  warnUnknownSandboxVariables(logger.child({ component: 'sandbox' }), env);
  const sandbox = await startSandbox(sandboxOptionsFromConfig(config, logger));
  logger.info(
    {
      url: sandbox.url,
      clientId: config.cxone.clientId,
      timeScale: config.sandbox.timeScale,
      controlSurface: `${sandbox.url}/__sandbox`,
      controlGuarded: config.sandbox.adminToken !== undefined,
    },
    'CXone sandbox listening (standalone role)',
  );
  const exposed = openControlSurfaceWarning(config);
  if (exposed) logger.warn({ host: config.host, controlSurface: `${sandbox.url}/__sandbox` }, exposed);
  return sandbox;
}
