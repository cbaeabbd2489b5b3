// First: refuses a Node that cannot load Fastify with one line, before the imports below crash on it.
import './process/node-support-check.js';
import { parseRole } from './process/banner.js';
import {
  ConfigError,
  loadConfig,
  metricsPortWarning,
  weakApiTokenWarning,
  webhooksOffWarning,
  type AppConfig,
} from './shared/config.js';
import { createLogger } from './shared/logger.js';

/**
 * Process entry point: `node dist/main.js [all|api|worker|sandbox]` (or `npm start -- <role>`).
 * Start-up problems a person can fix (bad environment, no Redis, a taken port) end the process with
 * one clear line on stderr and exit code 1; everything else is a structured log line. Start-up and
 * shutdown themselves live in src/process/run.ts.
 */

function fail(lines: string | string[]): never {
  for (const line of Array.isArray(lines) ? lines : [lines]) console.error(line);
  process.exit(1);
}

async function main(): Promise<void> {
  const role = parseRole(process.argv[2], process.argv.slice(3));
  if (typeof role !== 'string') {
    if ('help' in role) {
      process.stdout.write(`${role.help.join('\n')}\n`);
      process.exit(0);
    }
    fail(role.error);
  }
  let config: AppConfig;
  try {
    // Only the roles that serve the API are refused a HOST other machines reach without API_TOKEN.
    config = loadConfig(process.env, { servesApi: role === 'all' || role === 'api' });
  } catch (err) {
    if (err instanceof ConfigError)
      fail(['cxone-orchestrator cannot start: invalid configuration', ...err.problems]);
    throw err;
  }
  const logger = createLogger(config.logLevel, { role });
  // Set for a role that does not read it, it would be ignored without a word.
  const metricsIgnored = metricsPortWarning(role, config);
  if (metricsIgnored)
    // The logger already names the role.
    logger.warn({ variable: 'METRICS_PORT', metricsPort: config.metricsPort }, metricsIgnored);
  const webhooksOff = webhooksOffWarning(role, process.env, config);
  if (webhooksOff) logger.warn({ variable: 'WEBHOOK_URL' }, webhooksOff);
  // The token itself is never logged, only its length.
  const weakToken = weakApiTokenWarning(role, config);
  if (weakToken) logger.warn({ variable: 'API_TOKEN' }, weakToken);
  // Loaded only now: the fleet's modules (BullMQ, Fastify, the workers) take seconds of CPU to load,
  // which `--help`, a mistyped role or a bad variable should not wait for.
  const { createProcessRunner } = await import('./process/run.js');
  const runner = createProcessRunner({
    role,
    config,
    logger,
    redisUrlExplicit: process.env.REDIS_URL !== undefined,
    exit: (code) => process.exit(code),
    printBanner: (lines) => process.stdout.write(`\n${lines.join('\n')}\n\n`),
    printError: (line) => console.error(line),
  });
  let droppedAtShutdown = 0;
  process.on('unhandledRejection', (reason) => {
    // Closing the Redis connections during a shutdown rejects the commands libraries still had in
    // flight (BullMQ's lock renewals, Bottleneck's heartbeats), some with nobody listening: expected
    // then, and said once rather than as one error per command.
    if (runner.stopping && reason instanceof Error && reason.message === 'Connection is closed.') {
      if (droppedAtShutdown++ === 0) {
        logger.warn('Redis commands still pending at shutdown were dropped with their connection');
      }
      return;
    }
    logger.error({ err: reason }, 'unhandled promise rejection');
  });
  process.on('SIGINT', runner.signal);
  process.on('SIGTERM', runner.signal);
  // A closing terminal or SSH session sends SIGHUP, which by default kills Node on the spot and cuts
  // active jobs off; it drains like the others instead.
  process.on('SIGHUP', runner.signal);
  await runner.start();
}

await main();
