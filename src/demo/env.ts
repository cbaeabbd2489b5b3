/**
 * The variables of the README's table the demo takes from the shell: where its Redis is, how much it
 * logs, how its own sandbox behaves, and how its fleet works. Everything else in the table describes
 * the shell's own deployment — its CXone tenant and token, its ports and prefix, its webhook receiver
 * and that receiver's rotation secret, a prefix to take over, a worker's metrics port, its shutdown and
 * retention — which the demo either sets for itself or never reads. Kept, such a variable could only
 * stop the demo (a value it does not use refused at start) or do harm: a WEBHOOK_SECRET_PREVIOUS from
 * a rotation in progress signed every demo event for the shell's receiver too, so a copy of any of
 * them was a valid event for that receiver.
 */
export const DEMO_SHELL_VARIABLES = [
  'REDIS_URL',
  'LOG_LEVEL',
  'SANDBOX_TIME_SCALE',
  'SANDBOX_SEED',
  'SANDBOX_TOKEN_TTL_SECONDS',
  'SANDBOX_ADMIN_TOKEN',
  'SANDBOX_RATE_LIMIT_PER_MIN',
  'SANDBOX_RATE_LIMIT_WINDOW_MS',
  'SANDBOX_AUTH_FAILURES_PER_MIN',
  'SANDBOX_AUTH_FAILURE_WINDOW_MS',
  'WORKER_CONCURRENCY',
  'WEBHOOK_AUDIT_RECORDS',
  'BULL_BOARD_READ_ONLY',
] as const;

/** What the demo sets itself: its Redis (maybe a private one), free ports, private prefix, receiver. */
export interface DemoOwnSettings {
  redisUrl: string;
  port: number;
  sandboxPort: number;
  prefix: string;
  webhookUrl: string;
  webhookSecret: string;
}

/**
 * Pure: the environment the demo's fleet is configured from (loadConfig reads only the README's
 * table): DEMO_SHELL_VARIABLES as the shell has them, the rest the demo's own or left unset.
 */
export function demoEnv(shell: NodeJS.ProcessEnv, own: DemoOwnSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of DEMO_SHELL_VARIABLES) if (shell[name] !== undefined) env[name] = shell[name];
  return {
    ...env,
    REDIS_URL: own.redisUrl,
    HOST: '127.0.0.1',
    PORT: String(own.port),
    SANDBOX_PORT: String(own.sandboxPort),
    // Set to nothing it counts as unset (README, Configuration), so the demo's own default applies.
    SANDBOX_TIME_SCALE: shell.SANDBOX_TIME_SCALE?.trim() ? shell.SANDBOX_TIME_SCALE : '60',
    KEY_PREFIX: own.prefix,
    WEBHOOK_URL: own.webhookUrl,
    WEBHOOK_SECRET: own.webhookSecret,
    LOG_LEVEL: shell.LOG_LEVEL ?? 'warn',
  };
}
