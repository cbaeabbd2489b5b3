import type { Role } from '../../src/process/banner.js';
import { createProcessRunner, type ProcessOptions } from '../../src/process/run.js';
import { loadConfig } from '../../src/shared/config.js';
import { silentLogger, type Logger } from '../../src/shared/logger.js';
import { REDIS_URL } from './redis-prefix.js';

export interface InProcessStartUp {
  r: ReturnType<typeof createProcessRunner>;
  /** The error lines it printed. */
  errors: string[];
  /** The banners it printed, each as its lines. */
  banners: string[][];
  /** Its exit code, once it exits. */
  exit: Promise<number>;
  started: Promise<void>;
}

/**
 * A whole start-up of `role` in this process (the process runner of src/process/run.ts) on the test
 * Redis, any port, silent, with `env` on top; its exit, banner and error lines are recorded. A
 * stopper pushed on `stoppers` stops it with SIGTERM (unless it exited already) for the test's
 * afterEach to run.
 */
export function startInProcess(
  stoppers: Array<() => Promise<unknown>>,
  role: Role,
  env: NodeJS.ProcessEnv,
  fleetClaim?: ProcessOptions['fleetClaim'],
  logger: Logger = silentLogger,
): InProcessStartUp {
  const errors: string[] = [];
  const banners: string[][] = [];
  let exited!: (code: number) => void;
  const exit = new Promise<number>((resolve) => (exited = resolve));
  let done = false;
  void exit.then(() => (done = true));
  const r = createProcessRunner({
    role,
    config: loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      SANDBOX_PORT: '0',
      LOG_LEVEL: 'silent',
      REDIS_URL,
      ...env,
    }),
    logger,
    redisUrlExplicit: true,
    fleetClaim,
    exit: (code) => exited(code),
    printBanner: (lines) => banners.push(lines),
    printError: (line) => errors.push(line),
  });
  const started = r.start();
  stoppers.push(async () => {
    await started;
    if (!done) {
      r.signal('SIGTERM');
      await exit;
    }
  });
  return { r, errors, banners, exit, started };
}
