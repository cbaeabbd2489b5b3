import { isIP } from 'node:net';
import { redactUrl } from '../shared/redact-url.js';
import type { AppConfig } from '../shared/config.js';
import { openControlSurfaceWarning } from '../sandbox/control-exposure.js';

export const ROLES = ['all', 'api', 'worker', 'sandbox'] as const;
export type Role = (typeof ROLES)[number];

/** What `--help` prints: the roles, and where configuration is described. */
export const ROLE_USAGE: readonly string[] = [
  'usage: node dist/main.js [role]   (or npm start -- [role])',
  '',
  'roles:',
  '  all      (default) the API, Bull Board and every worker in one process; without CXONE_BASE_URL',
  '           also an embedded CXone sandbox; with REDIS_URL unset and no Redis answering, a private',
  '           redis-server (no persistence; it stops with the process)',
  '  api      the HTTP API, Bull Board, /metrics and the health probes, on PORT',
  '  worker   every worker (launch, adjust, poll, compliance, webhook, audit); /metrics on METRICS_PORT if set',
  '  sandbox  the CXone sandbox alone, on SANDBOX_PORT',
  '',
  'Configuration is by environment variables: README.md, "Configuration".',
];

const isHelp = (arg: string) => arg === '--help' || arg === '-h' || arg === 'help';

/**
 * The role from argv (`node dist/main.js <role>`, `npm start -- <role>`); `all` when none is given.
 * `rest` is what follows the role: the role is the only argument, so anything after it is refused
 * rather than ignored — `npm start -- api --port 4000` would otherwise serve on PORT (3000) while its
 * operator believed it on 4000, and `npm start -- api worker` would run no worker.
 */
export function parseRole(
  arg: string | undefined,
  rest: readonly string[] = [],
): Role | { error: string } | { help: readonly string[] } {
  if (rest.some(isHelp)) return { help: ROLE_USAGE };
  if (arg === undefined || arg === '') arg = 'all';
  if (isHelp(arg)) return { help: ROLE_USAGE };
  if (!(ROLES as readonly string[]).includes(arg))
    return { error: `unknown role "${arg}"; use one of: ${ROLES.join(', ')} (--help describes them)` };
  if (rest.length === 0) return arg as Role;
  const extra = rest.map((a) => JSON.stringify(a)).join(' ');
  return {
    error:
      `unexpected argument${rest.length === 1 ? '' : 's'} ${extra} after the role ${arg}: the role is the only argument ` +
      `(one role per process); configuration is by environment variables, e.g. ${PORT_EXAMPLE[arg as Role]} npm start -- ${arg} (README.md, "Configuration")`,
  };
}

/**
 * The variable that sets each role's port, for parseRole's example: the worker does not read PORT
 * (its /metrics is on METRICS_PORT) nor does the sandbox (SANDBOX_PORT), so `PORT=4000` there would
 * change nothing (ROLE_USAGE says the same).
 */
const PORT_EXAMPLE: Readonly<Record<Role, string>> = {
  all: 'PORT=4000',
  api: 'PORT=4000',
  worker: 'METRICS_PORT=9464',
  sandbox: 'SANDBOX_PORT=4011',
};

/**
 * A URL people can click: a wildcard listen address is shown as localhost, an IPv6 one in brackets
 * (its zone's `%` escaped, RFC 6874) — `http://::1:3000` is no URL a browser or curl takes.
 */
export function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return 'localhost';
  return isIP(host.split('%')[0] ?? '') === 6 ? `[${host.replace('%', '%25')}]` : host;
}

export interface BannerInput {
  role: Role;
  config: AppConfig;
  /** The API's actual port (PORT may be 0 in tests). */
  apiPort?: number;
  sandboxUrl?: string;
  sandboxEmbedded?: boolean;
  privateRedis?: boolean;
  workers?: readonly string[];
  /** The worker role's METRICS_PORT as bound (it may be 0 in the environment: any free port). */
  metricsPort?: number;
}

/**
 * What the process prints at start: where everything is. The API token is printed only when it is
 * the sandbox default (nobody chose it, so it is no secret); a token the operator set never is.
 */
export function bannerLines(input: BannerInput): string[] {
  const { role, config } = input;
  const lines = [`cxone-orchestrator is running (role: ${role})`];
  if (input.apiPort !== undefined) {
    const base = `http://${displayHost(config.host)}:${input.apiPort}`;
    lines.push(
      `  API            ${base}/v1  (e.g. POST ${base}/v1/campaigns)`,
      `  Bull Board     ${base}/admin/queues`,
      `  Metrics        ${base}/metrics`,
      `  API docs       ${base}/docs`,
      `  Health         ${base}/healthz, ${base}/readyz`,
    );
  }
  if (input.workers?.length) lines.push(`  Workers        ${input.workers.join(', ')}`);
  if (input.metricsPort !== undefined && input.apiPort === undefined) {
    const base = `http://${displayHost(config.host)}:${input.metricsPort}`;
    lines.push(`  Metrics        ${base}/metrics`, `  Health         ${base}/healthz, ${base}/readyz`);
  }
  if (input.sandboxUrl) {
    const where = input.sandboxUrl.replace('0.0.0.0', displayHost(config.host));
    lines.push(`  CXone sandbox  ${where}${input.sandboxEmbedded ? ' (embedded)' : ''}`);
    // The embedded sandbox listens on 127.0.0.1 whatever HOST says: only the standalone role is exposed.
    const exposed = role === 'sandbox' ? openControlSurfaceWarning(config) : undefined;
    if (exposed) lines.push(`  WARNING        ${exposed}`);
  } else if (role !== 'sandbox') {
    lines.push(
      `  CXone          ${redactUrl(config.cxone.baseUrl)}${config.sandboxMode ? ' (sandbox)' : ''}`,
    );
  }
  if (role !== 'sandbox') {
    // The prefix decides which fleet (and fleet claim) this process is part of, its Redis Cluster
    // slot, and what every operator command must be given: the banner is where it is read.
    const notes = [`keys under ${config.keyPrefix}`];
    if (input.privateRedis) notes.push('private redis-server, not persisted');
    lines.push(`  Redis          ${redactUrl(config.redisUrl)}  (${notes.join('; ')})`);
  }
  if (input.apiPort !== undefined) {
    lines.push(
      config.apiTokenIsDefault
        ? `  API token      ${config.apiToken}  (sandbox default; set API_TOKEN to choose your own)`
        : '  API token      the one in API_TOKEN (not shown)',
    );
  }
  return lines;
}
