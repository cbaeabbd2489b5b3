import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { redisAnswers } from '../shared/redis.js';

/** The absolute path of an executable on PATH, or undefined. */
export function findOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface PrivateRedis {
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts a redis-server child bound to 127.0.0.1 without persistence, for `npm start` on a machine
 * where nobody started Redis. It is this process's child and stops with it; nothing it holds survives.
 */
export async function startPrivateRedis(
  binary: string,
  port: number,
  timeoutMs = 5_000,
): Promise<PrivateRedis> {
  const child: ChildProcess = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'yes',
    ],
    { stdio: 'ignore' },
  );
  let exited = false;
  // A child outlives a parent that exits without stopping it: a second signal's immediate exit, the
  // last-resort exit of a hung shutdown or a crash would leave a redis-server holding the port, with
  // nobody to stop it. Killing it is all that can still be done synchronously on the way out; it
  // keeps nothing that was meant to survive.
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  child.once('exit', () => {
    exited = true;
    process.off('exit', killOnExit);
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (!(await redisAnswers(url, 300))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`could not start redis-server on port ${port} (is the port taken?)`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => {
          if (!exited) child.kill('SIGKILL');
        }, 3_000).unref();
      }),
  };
}
