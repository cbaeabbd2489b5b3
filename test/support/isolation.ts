import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Which test files may share one process with the files run before them (vitest's `isolate: false`).
 * Half the suite's CPU went to importing the same modules again for every file, in a fresh process each;
 * a file that touches nothing outside its own memory loses nothing by reusing the modules of the file
 * before it. Anything else keeps its own process: Redis and the sandbox (a stray connection, a worker
 * or a timer left running by one file would act inside the next), processes and sockets, and whatever
 * changes the process for the files after it (module mocks, fake timers, spies, the environment).
 *
 * The rule reads the file and every test helper it imports, so a test that starts using Redis through a
 * helper moves to its own process by itself. It errs towards isolation: a pure test that calls a
 * function named for the sandbox costs some time, never a wrong result.
 */
const IO_PACKAGES =
  /^(?:ioredis|bullmq|@maselious\/bottleneck|bottleneck|fastify|@fastify\/.*|@bull-board\/.*|undici|node:(?:child_process|net|http|https|http2|tls|dgram|worker_threads|cluster))$/;

/** Read in the code with comments and strings taken out. */
const NEEDS_ITS_OWN_PROCESS: readonly RegExp[] = [
  // An environment variable's name (REDIS_URL, SANDBOX_PORT) is a setting read, not a connection made.
  /(?<![A-Z_])(?:[Rr]edis|REDIS|[Ss]andbox|SANDBOX|[Ss]tack|STACK|[Bb]ull[Mm][Qq]|[Bb]ottleneck)(?![A-Z_])/,
  /\blisten\(|\bcreateServer\b|\bfetch\(/,
  /\bvi\.(mock|doMock|unmock|stubEnv|stubGlobal|spyOn|useFakeTimers|setSystemTime)\b/,
  /process\.env(\.\w+|\[[^\]]+\])\s*=[^=]|delete process\.env|process\.(on|once|exit|chdir)\(/,
  /process\.(stdout|stderr)\.write\s*=/,
];

/**
 * Pure: a file's code with its comments and string literals blanked, for the rule to read: comments
 * and test names say "Redis" as often as code uses it. A template literal's `${…}` parts are code and
 * kept.
 */
export function codeOf(text: string): string {
  let out = '';
  let i = 0;
  const templateDepth: number[] = [];
  let braces = 0;
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i += 1;
    } else if (c === '/' && next === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? text.length : close + 2;
    } else if (c === "'" || c === '"') {
      i += 1;
      while (i < text.length && text[i] !== c && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      i += 1;
      out += "''";
    } else if (c === '`' || (c === '}' && templateDepth.at(-1) === braces)) {
      // The text of a template literal, from its start or the end of a `${…}` to its end or the next `${`.
      if (c === '}') templateDepth.pop();
      i += 1;
      while (i < text.length && text[i] !== '`' && !(text[i] === '$' && text[i + 1] === '{')) {
        i += text[i] === '\\' ? 2 : 1;
      }
      if (text[i] === '$') {
        templateDepth.push(braces);
        i += 2;
      } else {
        i += 1;
      }
      out += "''";
    } else {
      if (c === '{') braces += 1;
      if (c === '}') braces -= 1;
      out += c;
      i += 1;
    }
  }
  return out;
}

/** Pure: the modules a file imports (static, dynamic and re-exports), packages and relative alike. */
export function importSpecifiers(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
    found.add(match[1]!);
  }
  return [...found];
}

/** Pure: whether this file's own code asks for a process of its own. */
export function textNeedsIsolation(text: string): boolean {
  if (importSpecifiers(text).some((name) => IO_PACKAGES.test(name))) return true;
  const code = codeOf(text);
  return NEEDS_ITS_OWN_PROCESS.some((pattern) => pattern.test(code));
}

/** Pure: the relative modules a file imports: its helpers, for the rule to read in turn. */
export function relativeImports(text: string): string[] {
  return importSpecifiers(text).filter((specifier) => /^\.{1,2}\//.test(specifier));
}

/** The test helper a specifier names: `.js` in an import is the `.ts` file beside it. */
function helperPath(fromFile: string, specifier: string): string {
  return resolve(dirname(fromFile), specifier.replace(/\.js$/, '.ts'));
}

/**
 * Whether `file` needs a process of its own, looking through the helpers under `testRoot` it imports.
 * Modules under src/ are not followed: importing one runs no I/O (the entry points that do are
 * src/main.ts and the CLIs, which no pure test imports), and what a test calls from them is in the
 * test's own text or a helper's.
 */
export function needsIsolation(file: string, testRoot: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  // A helper this rule cannot read is one it cannot vouch for.
  if (!existsSync(file)) return true;
  const text = readFileSync(file, 'utf8');
  if (textNeedsIsolation(text)) return true;
  return relativeImports(text)
    .map((specifier) => helperPath(file, specifier))
    .filter((helper) => !relative(testRoot, helper).startsWith('..'))
    .some((helper) => needsIsolation(helper, testRoot, seen));
}

function testFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFilesUnder(path);
    return entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The test files under `testRoot` that may share a process, as paths relative to `projectRoot`. */
export function sharedProcessTestFiles(projectRoot: string, testRoot = join(projectRoot, 'test')): string[] {
  return testFilesUnder(testRoot)
    .filter((file) => !needsIsolation(file, testRoot))
    .map((file) => relative(projectRoot, file))
    .sort();
}
