/**
 * Benchmark dispatcher: `npm run bench -- <name> [args...]` loads bench/<name>.ts and calls its
 * exported `run(args)`. Benchmarks are discovered from the directory so an area adds one by dropping
 * a file here, without editing this dispatcher.
 */
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchModule {
  run(args: string[]): Promise<void>;
}

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const NOT_BENCHMARKS = new Set(['run']);
const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** Names of the runnable benchmarks: every bench/<name>.ts except this dispatcher. */
export async function listBenchmarks(dir: string = BENCH_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => e.name.slice(0, -'.ts'.length))
    .filter((name) => NAME.test(name) && !NOT_BENCHMARKS.has(name))
    .sort();
}

export type Dispatch = { kind: 'run'; name: string; args: string[] } | { kind: 'usage'; message: string };

/** Pure: decides what to do with the command line, given the benchmarks that exist. */
export function parseBenchArgs(argv: string[], available: string[]): Dispatch {
  const [name, ...args] = argv;
  const list = available.length > 0 ? available.join(', ') : '(none yet)';
  if (!name || name === '--help' || name === '-h') {
    return { kind: 'usage', message: `usage: npm run bench -- <name> [--json]\navailable: ${list}` };
  }
  if (!available.includes(name)) {
    return { kind: 'usage', message: `unknown benchmark "${name}"\navailable: ${list}` };
  }
  return { kind: 'run', name, args };
}

function isBenchModule(mod: unknown): mod is BenchModule {
  return typeof (mod as { run?: unknown } | null)?.run === 'function';
}

export async function main(argv: string[]): Promise<number> {
  const decision = parseBenchArgs(argv, await listBenchmarks());
  if (decision.kind === 'usage') {
    console.error(decision.message);
    return 1;
  }
  const mod: unknown = await import(pathToFileURL(join(BENCH_DIR, `${decision.name}.ts`)).href);
  if (!isBenchModule(mod)) {
    console.error(`bench/${decision.name}.ts does not export run(args: string[])`);
    return 1;
  }
  await mod.run(decision.args);
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    // Exit explicitly: a library timer left behind by a benchmark must not keep the run hanging
    // after its figures are printed (stdout to a pipe or file is synchronous on Linux).
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
