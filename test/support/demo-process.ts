import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { REDIS_URL } from './redis-prefix.js';

/** `npm run demo` as a process of its own (the real src/demo.ts under tsx), against the test Redis. */
export interface DemoProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** All the demo has written so far, stdout and stderr as they arrived. */
  readonly out: string;
  /** The demo's exit code. */
  exited: Promise<number | null>;
  /**
   * Resolves with what `seen` returns for the output once it returns something other than undefined
   * (looked at on each chunk of stdout); rejects with the output after `timeoutMs`, as "the demo did
   * not `what` in time".
   */
  waitFor<T>(seen: (out: string) => T | undefined, what: string, timeoutMs?: number): Promise<T>;
}

/** Starts the demo for 60 s at `logLevel`, its stdout and stderr gathered into `out`. */
export function spawnDemo(logLevel: string): DemoProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts', '--duration', '60'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: { PATH: process.env.PATH, REDIS_URL, LOG_LEVEL: logLevel },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    get out() {
      return out;
    },
    exited,
    waitFor: (seen, what, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          child.stdout.off('data', look);
          reject(new Error(`the demo did not ${what} in time:\n${out}`));
        }, timeoutMs);
        function look() {
          const found = seen(out);
          if (found === undefined) return;
          clearTimeout(timer);
          child.stdout.off('data', look);
          resolve(found);
        }
        child.stdout.on('data', look);
      }),
  };
}

/**
 * Waits until the demo's banner has named its prefix and its campaign was created on CXone (its keys
 * are being written); returns the prefix's tag (`cxo-demo-…`, without the braces).
 */
export async function demoLaunched(demo: DemoProcess): Promise<string> {
  const prefix = await demo.waitFor((out) => {
    const named = /keys under (\{cxo-demo-[0-9a-f]{8}\})/.exec(out);
    return named && /created on CXone/.test(out) ? (named[1] as string) : undefined;
  }, 'launch');
  return prefix.slice(1, -1);
}
