import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Which test files may share one process with the files run before them (vitest's `isolate: false`).
 * Most of the suite's CPU went to importing the same modules again for every file, in a fresh process
 * each; a file that leaves the process as it found it loses nothing by reusing the modules of the file
 * before it. Redis and the sandbox are no reason to keep a file apart: every test works under a prefix
 * of its own (testPrefix), on ports of its own, and closes what it opens (the leak guard fails a run that
 * leaves keys behind). What does keep a file in a process of its own is a change to the process that
 * the files after it would inherit: module mocks, fake timers, spies, the environment, process-wide
 * listeners, a replaced stdout.
 *
 * The rule reads the file and every test helper it imports, so a test that starts mocking through a
 * helper moves to its own process by itself. It errs towards isolation: a file that only names such a
 * change costs some time, never a wrong result. The patterns are read in the code with comments and
 * strings taken out.
 */
const CHANGES_THE_PROCESS: readonly RegExp[] = [
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

/**
 * A hook registered by a helper as it is imported. A module is evaluated once per process, so with
 * files sharing one it would be registered for the first of them only: the next files' tests would go
 * without their clean-up.
 */
const HOOK_AT_IMPORT = /^(?:afterAll|afterEach|beforeAll|beforeEach)\s*\(/m;

/**
 * Pure: whether this file's own code changes the process for the files after it, or, for a helper
 * (`helper: true`), registers a hook as it is imported.
 */
export function textNeedsIsolation(text: string, helper = false): boolean {
  const code = codeOf(text);
  return CHANGES_THE_PROCESS.some((pattern) => pattern.test(code)) || (helper && HOOK_AT_IMPORT.test(code));
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
 * Modules under src/ are not followed: importing one changes nothing of the process (the entry points
 * that install signal handlers and exit are src/main.ts, src/demo.ts and the CLI, which tests run as
 * processes of their own), and what a test changes through them is in the test's own text or a
 * helper's.
 */
export function needsIsolation(file: string, testRoot: string, seen = new Set<string>()): boolean {
  if (seen.has(file)) return false;
  seen.add(file);
  // A helper this rule cannot read is one it cannot vouch for.
  if (!existsSync(file)) return true;
  const text = readFileSync(file, 'utf8');
  if (textNeedsIsolation(text, !file.endsWith('.test.ts'))) return true;
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
