import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A TypeScript entry point of this repository run as a child (tsx), for the benchmark's processes. */
export interface BenchChild {
  pid: number | undefined;
  /** Rejects once the child has exited, naming its exit code (for races against readiness waits). */
  exited: Promise<never>;
  close(): Promise<void>;
}

export function spawnTs(entry: string, args: string[], env: Record<string, string>): BenchChild {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, entry), ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let gone = false;
  const done = new Promise<void>((resolve) =>
    child.once('exit', () => {
      gone = true;
      resolve();
    }),
  );
  const exited = done.then(() => {
    throw new Error(`${entry} exited with ${child.exitCode ?? child.signalCode}`);
  });
  exited.catch(() => undefined);
  return {
    pid: child.pid,
    exited,
    async close() {
      if (!gone) child.kill('SIGTERM');
      await done;
    },
  };
}
