import type { AddressInfo } from 'node:net';
import { buildSandboxApp } from './app.js';
import { campaignState } from './routes/control.js';
import { createSandboxState, SANDBOX_OPTION_DEFAULTS } from './state.js';
import type { RunningSandbox, SandboxOptions } from './types.js';

export type {
  RunningSandbox,
  SandboxOptions,
  SandboxClient,
  RateLimitOptions,
  FaultSettings,
} from './types.js';

/**
 * Starts the CXone v2 sandbox over real HTTP. Everything lives in memory and dies with `close()`.
 * Port 0 (the default) picks a free port; read it back from `port`/`url`.
 */
export async function startSandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  const state = createSandboxState(opts);
  const app = await buildSandboxApp(state);
  await app.listen({ port: opts.port ?? 0, host: opts.host ?? SANDBOX_OPTION_DEFAULTS.host });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const urlHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    app,
    close: async () => {
      await app.close();
    },
    setFaults: (f) => state.faults.set(f),
    campaignCount: () => state.campaigns.count(),
    getCampaignState: (id) => campaignState(state, id),
  };
}
