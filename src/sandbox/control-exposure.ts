import type { AppConfig } from '../shared/config.js';
import { isLoopbackHost } from '../shared/loopback-host.js';

/**
 * Pure: the warning for a standalone sandbox whose `/__sandbox` control routes other machines reach
 * without a token (HOST not loopback, SANDBOX_ADMIN_TOKEN unset), or undefined. They inject faults,
 * skip time, reset every campaign and revoke tokens: a fleet pointed at this sandbox can be disrupted
 * by anyone on its network, and nothing at start said so (the role binds every interface by default
 * once API_TOKEN is set, and in the image).
 */
export function openControlSurfaceWarning(config: Pick<AppConfig, 'host' | 'sandbox'>): string | undefined {
  if (config.sandbox.adminToken !== undefined || isLoopbackHost(config.host)) return undefined;
  return (
    `the sandbox's /__sandbox control routes (faults, time skip, reset, token revocation) answer anyone ` +
    `who reaches HOST=${config.host}, with no token; set SANDBOX_ADMIN_TOKEN (at least 8 characters) ` +
    'to require x-sandbox-admin, or HOST=127.0.0.1 when only this machine calls the sandbox'
  );
}
