/**
 * One adjust-worker process for the fleet test: builds a context from the environment (REDIS_URL,
 * KEY_PREFIX, CXONE_BASE_URL, …), runs the adjust worker, prints "ready", and drains on SIGTERM
 * or when its parent goes away.
 */
import { loadConfig } from '../../src/shared/config.js';
import { createContext } from '../../src/shared/context-factory.js';
import { createLogger } from '../../src/shared/logger.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel, { role: 'adjust-test-worker' });
const ctx = await createContext(config, logger);
const worker = createAdjustWorker(ctx);
worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
await worker.waitUntilReady();
process.stdout.write('ready\n');

const stop = async () => {
  await worker.close();
  await ctx.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
// The test holds our stdin open; if it dies without signalling us, stdin closes and we go too.
process.stdin.on('end', () => void stop());
process.stdin.resume();
