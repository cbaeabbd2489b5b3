import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { redactUrl } from '../shared/redact-url.js';
import { bannerLines, type Role } from './banner.js';
import { shutdownLine } from './shutdown-line.js';
import { closeWithin } from './close-within.js';
import { describeListenError } from './listen-error.js';
import { findOnPath, startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { buildApiApp } from '../producers/app.js';
import { fleetRetryAfterSeconds } from '../producers/fleet-guard.js';
import { startMetricsServer, type MetricsServer } from '../producers/routes/ops.js'; // (H8)
import { EMBEDDED_SANDBOX_HOST, startEmbeddedSandbox } from '../sandbox/embedded.js';
import { runSandboxRole } from '../sandbox/cli-entry.js';
import type { RunningSandbox } from '../sandbox/types.js';
import type { AppConfig } from '../shared/config.js';
import { createContext, type ClosableContext } from '../shared/context-factory.js';
import { claimFleet, FleetPrefixInUseError, type FleetClaim } from '../shared/fleet-claim.js';
import { fleetIdentity } from '../shared/fleet-identity.js';
import type { Logger } from '../shared/logger.js';
import { checkRedis, redisRefusalLine } from '../shared/redis.js';
import { startWorkers, WORKER_FACTORIES, type RunningWorkers } from '../workers/index.js';

/**
 * Start-up and shutdown of one process (src/main.ts wires it to argv, the environment and signals).
 * Kept apart from main.ts so tests can drive a start-up, a failing one or a signal mid-way, in-process.
 */

export interface Running {
  api?: FastifyInstance;
  workers?: RunningWorkers;
  ctx?: ClosableContext;
  sandbox?: RunningSandbox;
  privateRedis?: PrivateRedis;
  metrics?: MetricsServer; // (H8)
  fleetClaim?: FleetClaim;
}

/** A start-up problem a person can fix: printed as these lines on stderr, exit code 1. */
export class StartupFailure extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'StartupFailure';
  }
}

function fail(lines: string | string[]): never {
  throw new StartupFailure(Array.isArray(lines) ? lines : [lines]);
}

export interface ProcessOptions {
  role: Role;
  config: AppConfig;
  logger: Logger;
  /** Whether REDIS_URL was set: only when it was not may a private redis-server be started. */
  redisUrlExplicit: boolean;
  exit(code: number): void;
  printBanner(lines: string[]): void;
  printError(line: string): void;
  /** Tests wrap it to act while workers are starting. */
  startWorkers?: typeof startWorkers;
  /** Tests shorten the claim on KEY_PREFIX (src/shared/fleet-claim.ts) or pose as another machine. */
  fleetClaim?: { ttlMs?: number; renewEveryMs?: number; hostname?: string };
}

/**
 * Redis must answer before anything else starts; when REDIS_URL is unset a process running the whole
 * fleet (`all`) may start a private one. A split role may not: the other processes of its fleet would
 * find that Redis answering, put their queues and audit trail in it, and lose them when the process
 * that happened to start it stopped.
 */
async function ensureRedis(
  config: AppConfig,
  logger: Logger,
  mayStartPrivate: boolean,
): Promise<PrivateRedis | undefined> {
  const check = await checkRedis(config.redisUrl, undefined, { keyPrefix: config.keyPrefix });
  if (check.ok) return undefined;
  if (check.problem === 'refused') {
    fail(redisRefusalLine(redactUrl(config.redisUrl), check.message));
  }
  if (check.problem === 'replica') {
    fail(
      `Redis at ${redactUrl(config.redisUrl)} ${check.message}: every job and record of the fleet is written there. Point REDIS_URL at the primary.`,
    );
  }
  const binary = mayStartPrivate ? findOnPath('redis-server') : undefined;
  if (binary) {
    const port = Number(new URL(config.redisUrl).port || 6379);
    try {
      const redis = await startPrivateRedis(binary, port);
      logger.warn(
        { port, binary },
        'Redis did not answer and REDIS_URL is unset: started a private redis-server (no persistence; it stops with this process)',
      );
      return redis;
    } catch (err) {
      fail(
        `Redis does not answer at ${redactUrl(config.redisUrl)}, and starting redis-server failed: ${(err as Error).message}`,
      );
    }
  }
  fail(
    `Redis does not answer at ${redactUrl(config.redisUrl)}. Start it (e.g. \`redis-server --daemonize yes\`) or set REDIS_URL to a reachable Redis.`,
  );
}

/** Runs `bind`; an address that cannot be bound ends start-up with one line naming the variable. */
async function bindOrFail<T>(
  where: { portVariable: string; port: number; host: string },
  bind: () => Promise<T>,
): Promise<T> {
  try {
    return await bind();
  } catch (err) {
    const line = describeListenError(err, where);
    if (line) fail(line);
    throw err;
  }
}

async function listen(app: FastifyInstance, config: AppConfig): Promise<number> {
  await bindOrFail({ portVariable: 'PORT', port: config.port, host: config.host }, () =>
    app.listen({ port: config.port, host: config.host }),
  );
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : config.port;
}

/** How long the embedded sandbox's own open requests get once the fleet has stopped calling it. */
const SANDBOX_CLOSE_BOUND_MS = 2_000;

interface ClosableServer {
  close(): Promise<unknown>;
  server: Pick<Server, 'closeAllConnections'>;
}

/**
 * Orderly shutdown: stop taking HTTP requests while the workers finish their active jobs, both
 * bounded by SHUTDOWN_TIMEOUT_MS (then open requests are cut, jobs waiting for a CXone permit put
 * themselves back without spending an attempt, and jobs with a call in flight are left to BullMQ's
 * stall recovery), close queues and Redis, and only then the embedded sandbox — draining jobs are still
 * talking to it — and the private Redis last. The HTTP servers and the workers close side by side,
 * so a client stalled mid-request cannot hold up the drain of the workers behind it.
 */
export async function shutdown(running: Running, config: AppConfig, logger: Logger): Promise<void> {
  const step = async (name: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      logger.warn({ err, step: name }, 'shutdown step failed');
    }
  };
  const closeHttp = async (name: string, server: ClosableServer, boundMs: number) => {
    const cut = await closeWithin(() => server.close(), server.server, boundMs);
    if (cut) {
      logger.warn(
        { server: name, boundMs },
        'HTTP requests still open at the shutdown deadline; their connections were closed',
      );
    }
  };
  const { api, metrics, workers } = running;
  await Promise.all([
    api && step('api', () => closeHttp('api', api, config.shutdownTimeoutMs)),
    metrics && step('metrics', () => closeHttp('metrics', metrics, config.shutdownTimeoutMs)), // (H8)
    // Past the deadline, jobs still waiting for a CXone permit are released and put themselves back
    // (not spending an attempt) while Redis is still open.
    workers &&
      step('workers', () =>
        workers.close(config.shutdownTimeoutMs, async () => running.ctx?.releaseCxoneWaits()),
      ),
  ]);
  // Held until the drained jobs are done with this fleet's CXone; needs the context's Redis.
  if (running.fleetClaim) await step('fleet claim', () => running.fleetClaim!.release());
  if (running.ctx) await step('context', () => running.ctx!.close());
  const sandbox = running.sandbox;
  if (sandbox) {
    await step('sandbox', () =>
      closeHttp(
        'sandbox',
        { close: () => sandbox.close(), server: sandbox.app.server },
        SANDBOX_CLOSE_BOUND_MS,
      ),
    );
  }
  if (running.privateRedis) await step('private redis', () => running.privateRedis!.stop());
}

const SIGNAL_DEBOUNCE_MS = 1000;

/** Thrown between start-up steps once a signal asked the process to stop. */
class StopRequested extends Error {}

export interface ProcessRunner {
  /** What has been started so far. */
  readonly running: Running;
  /**
   * True once a shutdown has begun, on a signal or after a failed start-up (see the
   * unhandled-rejection handler in main).
   */
  readonly stopping: boolean;
  /** Starts the role; a start-up failure ends the process through `exit(1)`. */
  start(): Promise<void>;
  /** SIGINT, SIGTERM or SIGHUP. */
  signal(signal: NodeJS.Signals): void;
}

export function createProcessRunner(opts: ProcessOptions): ProcessRunner {
  const { role, logger, exit } = opts;
  let config = opts.config;
  const running: Running = {};
  let stoppingSince: number | undefined;
  let failedStartup = false;
  /** Whether this process took requests or jobs (its API listening, its workers started) before it failed. */
  let served = false;
  let starting = false;
  const stop = async () => {
    await shutdown(running, config, logger);
    logger.info('stopped');
    exit(0);
  };
  // A shutdown run beside a start-up still in progress would see only what was started so far: the
  // step in flight (workers being created, a private redis-server being spawned) would finish after
  // it and keep running, or start on a context already closed. So during start-up a signal is only
  // recorded; each step ends by looking for it, and start() shuts down what the steps started.
  const checkpoint = () => {
    if (stoppingSince !== undefined) throw new StopRequested();
  };

  const signal = (sig: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      // Ctrl-C under `npm start` reaches us twice within milliseconds (the terminal signals the whole
      // process group and npm forwards it too); only a deliberate second signal skips the drain.
      if (Date.now() - stoppingSince < SIGNAL_DEBOUNCE_MS) return;
      logger.warn({ signal: sig }, 'second signal: exiting now without waiting');
      exit(1);
      return;
    }
    stoppingSince = Date.now();
    logger.info({ signal: sig, timeoutMs: config.shutdownTimeoutMs }, shutdownLine(role));
    // A last resort if something hangs past the drain bound (a socket that never closes).
    setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      exit(1);
    }, config.shutdownTimeoutMs + 15_000).unref();
    if (!starting) void stop();
  };

  // While another fleet is on the prefix, either fleet's workers could take the other's jobs and run
  // them on the wrong CXone; taking none until an operator has stopped one of them is the safe side.
  // Active jobs finish; the API refuses launches and commands meanwhile (producers/fleet-guard.ts).
  const pauseWorkers = () => {
    for (const w of running.workers?.workers ?? []) void w.pause(true).catch(() => undefined);
  };
  const resumeWorkers = () => {
    if (stoppingSince !== undefined) return;
    for (const w of running.workers?.workers ?? []) void w.resume().catch(() => undefined);
  };
  const claimPrefix = async (ctx: ClosableContext): Promise<FleetClaim> => {
    const identity = fleetIdentity({
      cxoneBaseUrl: config.cxone.baseUrl,
      cxoneClientId: config.cxone.clientId,
      embeddedSandbox: running.sandbox !== undefined,
      sandboxMode: config.sandboxMode,
      hostname: opts.fleetClaim?.hostname ?? hostname(),
    });
    try {
      return await claimFleet({
        redis: ctx.redis,
        keys: ctx.keys,
        identity,
        logger,
        ttlMs: opts.fleetClaim?.ttlMs,
        renewEveryMs: opts.fleetClaim?.renewEveryMs,
        takeover: config.fleetTakeover,
        onContested: pauseWorkers,
        onSettled: resumeWorkers,
      });
    } catch (err) {
      if (err instanceof FleetPrefixInUseError) fail(err.message);
      throw err;
    }
  };

  const run = async (): Promise<void> => {
    if (role === 'sandbox') {
      running.sandbox = await bindOrFail(
        { portVariable: 'SANDBOX_PORT', port: config.sandbox.port, host: config.host },
        () => runSandboxRole(config, logger),
      );
      checkpoint();
      opts.printBanner(bannerLines({ role, config, sandboxUrl: running.sandbox.url }));
      return;
    }

    running.privateRedis = await ensureRedis(config, logger, role === 'all' && !opts.redisUrlExplicit);
    checkpoint();

    // The embedded sandbox belongs to `all`; split roles share one `sandbox` process instead, because
    // its state lives in memory and every process must see the same campaigns.
    if (role === 'all' && config.sandboxMode) {
      running.sandbox = await bindOrFail(
        { portVariable: 'SANDBOX_PORT', port: config.sandbox.port, host: EMBEDDED_SANDBOX_HOST },
        () => startEmbeddedSandbox(config, logger),
      );
      checkpoint();
      // SANDBOX_PORT=0 picks a free port; the client must call the port actually bound.
      config = {
        ...config,
        cxone: { ...config.cxone, baseUrl: `http://127.0.0.1:${running.sandbox.port}` },
      };
    } else if (config.sandboxMode) {
      logger.info(
        { cxone: config.cxone.baseUrl },
        'CXONE_BASE_URL is unset: using the sandbox of a separate `sandbox` process at SANDBOX_PORT',
      );
    }

    running.ctx = await createContext(config, logger);
    checkpoint();
    running.fleetClaim = await claimPrefix(running.ctx);
    checkpoint();
    // Sockets are bound before any worker starts: a bad HOST or a taken port then ends the process
    // before it has taken a job it would drop on the way out.
    let apiPort: number | undefined;
    if (role === 'all' || role === 'api') {
      const claim = running.fleetClaim;
      running.api = await buildApiApp(running.ctx, {
        fleetContested: () => claim.contestedMessage,
        fleetRetryAfterS: fleetRetryAfterSeconds(claim.renewEveryMs),
      });
      apiPort = await listen(running.api, config);
      served = true;
      checkpoint();
    }
    // (H8) worker replicas expose their own /metrics, /healthz, /readyz when METRICS_PORT is set.
    if (role === 'worker' && config.metricsPort !== undefined) {
      const { metricsPort, host } = config;
      const ctx = running.ctx;
      running.metrics = await bindOrFail({ portVariable: 'METRICS_PORT', port: metricsPort, host }, () =>
        startMetricsServer(ctx, {
          port: metricsPort,
          host,
          fleetContested: () => running.fleetClaim?.contestedMessage,
        }),
      );
      checkpoint();
    }
    if (role === 'all' || role === 'worker') {
      // Set before: workers that failed part-way may have taken a job.
      served = true;
      running.workers = await (opts.startWorkers ?? startWorkers)(running.ctx);
      checkpoint();
      // Another fleet appeared while the workers were starting.
      if (running.fleetClaim.contested) pauseWorkers();
    }

    opts.printBanner(
      bannerLines({
        role,
        config,
        apiPort,
        sandboxUrl: running.sandbox?.url,
        sandboxEmbedded: running.sandbox !== undefined,
        privateRedis: running.privateRedis !== undefined,
        workers: running.workers ? WORKER_FACTORIES.map(([name]) => name) : undefined,
        metricsPort: running.metrics?.port,
      }),
    );
  };

  return {
    running,
    get stopping() {
      return stoppingSince !== undefined || failedStartup;
    },
    async start() {
      starting = true;
      try {
        await run();
      } catch (err) {
        if (err instanceof StopRequested) return await stop();
        if (err instanceof StartupFailure) {
          for (const line of err.lines) opts.printError(line);
        } else {
          logger.fatal({ err }, 'start-up failed');
        }
        // Whatever was started before the failure goes down with it: exiting does not stop a child
        // process, so a private redis-server would outlive us (holding its port for the next try),
        // and an embedded sandbox or API already listening would be cut rather than closed.
        // Closing Redis then drops the commands libraries still had in flight, as on a signal.
        failedStartup = true;
        // Before the shutdown's own release (which then answers the same): the prefix's record goes
        // too if this start wrote it and took no request or job, as nothing of this fleet ran on it.
        if (!served) await running.fleetClaim?.release({ startFailed: true });
        await shutdown(running, config, logger);
        exit(1);
      } finally {
        starting = false;
      }
    },
    signal,
  };
}
