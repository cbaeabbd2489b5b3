/**
 * The bare BullMQ worker in a process of its own (`startBarePath({workerProcess: true})`), from the
 * environment: REDIS_URL, BARE_PREFIX, SANDBOX_URL, WORKER_CONCURRENCY, BARE_CALLS. Runs until SIGTERM.
 */
import { startBareWorker } from './bare.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const worker = await startBareWorker({
  redisUrl: env('REDIS_URL'),
  prefix: env('BARE_PREFIX'),
  sandboxUrl: env('SANDBOX_URL'),
  workerConcurrency: Number(env('WORKER_CONCURRENCY')),
  calls: env('BARE_CALLS') === 'create' ? 'create' : 'launch',
});
process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
