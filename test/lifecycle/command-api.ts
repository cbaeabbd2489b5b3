import type { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { buildApiApp } from '../../src/producers/app.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { startHarness, type Harness } from './harness.js';

/** The headers of a command sent through the API as alice (the harness's token). */
export const ALICE = { authorization: 'Bearer lifecycle-test-token', 'x-actor': 'alice' };

/** The command API end to end: producer app → adjust queue → worker → sandbox, real Redis and HTTP. */
export interface CommandApi {
  h: Harness;
  app: FastifyInstance;
  worker: Worker;
  close(): Promise<void>;
}

export async function startCommandApi(): Promise<CommandApi> {
  const h = await startHarness();
  const app = await buildApiApp(h.ctx);
  const worker = createAdjustWorker(h.ctx);
  await worker.waitUntilReady();
  return {
    h,
    app,
    worker,
    async close() {
      await worker.close();
      await app.close();
      await h.close();
    },
  };
}

/** Jobs in the adjust queue in any state: a refused command must add none. */
export async function adjustJobCount(h: Harness): Promise<number> {
  const counts = await h.ctx.queues.adjust.getJobCounts(
    'waiting',
    'delayed',
    'active',
    'completed',
    'failed',
  );
  return Object.values(counts).reduce((a, b) => a + b, 0);
}
