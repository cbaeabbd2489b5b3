import { Queue } from 'bullmq';
import { runCli, type CliIo } from '../../src/cli/run.js';
import type { AuditTrail } from '../../src/shared/audit/types.js';
import { systemClock } from '../../src/shared/clock.js';
import { loadConfig } from '../../src/shared/config.js';
import type { AppContext } from '../../src/shared/context.js';
import type { CxoneApi } from '../../src/shared/cxone/api.js';
import { QUEUES, createKeys, type QueueName } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createRedis } from '../../src/shared/redis.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

export { REDIS_URL };
export const TEST_TOKEN = 'ops-test-token-123';

export interface OpsTestContext extends AppContext {
  close(): Promise<void>;
}

export { deletePrefix };

/**
 * A context with real Redis and real BullMQ queues under a private prefix. The CXone client is the
 * caller's: the ops routes only need its token provider.
 */
export function createOpsTestContext(cxone: unknown, extraEnv: Record<string, string> = {}): OpsTestContext {
  const prefix = testPrefix();
  const config = loadConfig({ API_TOKEN: TEST_TOKEN, KEY_PREFIX: prefix, REDIS_URL, ...extraEnv });
  const redis = createRedis(REDIS_URL);
  const queues = Object.fromEntries(
    Object.values(QUEUES).map((name) => [
      name,
      new Queue(name, { connection: createRedis(REDIS_URL), prefix }),
    ]),
  ) as Record<QueueName, Queue>;
  const audit: AuditTrail = {
    append: () => Promise.reject(new Error('the ops tests write no audit records')),
  };
  const events: AppContext['events'] = {
    publish: () => Promise.reject(new Error('the ops tests publish no events')),
    prepare: () => {
      throw new Error('the ops tests publish no events');
    },
  };
  return {
    config,
    logger: silentLogger,
    redis,
    keys: createKeys(prefix),
    queues,
    cxone: cxone as CxoneApi,
    audit,
    events,
    clock: systemClock,
    close: async () => {
      await Promise.all(Object.values(queues).map((q) => q.close()));
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

/**
 * An in-memory CliIo: what `cxo` prints (out, err, and write into out) is kept in `out` and `err`, one
 * entry a call; the terminal flag, file reads and the rest are the caller's.
 */
export function capturingIo(rest: Omit<CliIo, 'out' | 'err' | 'write'>): {
  io: CliIo;
  out: string[];
  err: string[];
} {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    write: (t) => out.push(t),
    ...rest,
  };
  return { io, out, err };
}

/**
 * Runs `cxo` in this process with its output captured. Files are read from `files` (ENOENT for any
 * other path); `env()` is called on every run, because the API's URL is known only once it listens.
 */
export function cliRunner(opts: {
  files: Record<string, string>;
  env: () => Record<string, string>;
  pollMs: number;
}): (...argv: string[]) => Promise<{ code: number; out: string; err: string }> {
  return async (...argv) => {
    const { io, out, err } = capturingIo({
      isTty: false,
      pollMs: opts.pollMs,
      readFile: async (p) => {
        const content = opts.files[p];
        if (content === undefined) throw new Error(`ENOENT: ${p}`);
        return content;
      },
    });
    const code = await runCli(argv, opts.env(), io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
}
