import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  codeOf,
  needsIsolation,
  relativeImports,
  sharedProcessTestFiles,
  textNeedsIsolation,
} from './isolation.js';

describe('which test files may share a process', () => {
  it('reads code, not the comments, strings or test names that mention a change to the process', () => {
    const pure = [
      '// vi.mock is not used here',
      '/* process.env.A = 1 would leak into the next file */',
      "it('says vi.useFakeTimers() in its name', () => {",
      '  expect(describe(`process.on(${name}) in a message`)).toBe("vi.spyOn(x)");',
      '});',
    ].join('\n');
    expect(textNeedsIsolation(pure)).toBe(false);
    expect(codeOf('a(`x ${b(`y ${c}`)} z`) // d')).toBe("a(''b(''c'')'') ");
  });

  it('sends a file that changes the process for the files after it to its own process', () => {
    const own = [
      "vi.mock('../../src/x.js');",
      'vi.useFakeTimers();',
      'vi.setSystemTime(0);',
      "vi.spyOn(console, 'error');",
      "vi.stubEnv('A', 'x');",
      "process.env.WEBHOOK_URL = 'x';",
      "process.env['A'] = 'x';",
      'delete process.env.A;',
      "process.on('exit', f);",
      'process.exit(1);',
      'process.stdout.write = capture;',
    ];
    for (const line of own) expect(textNeedsIsolation(line), line).toBe(true);
  });

  it('lets a file that connects, serves or spawns share a process: it works under a prefix and ports of its own', () => {
    const shared = [
      "import { Redis } from 'ioredis';",
      "import { spawn } from 'node:child_process';",
      'const redis = createRedis(url);',
      'const stack = await startStack();',
      'await fetch(url);',
      'app.listen({ port: 0 });',
    ];
    for (const line of shared) expect(textNeedsIsolation(line), line).toBe(false);
  });

  it('sends the files of a helper that registers a hook as it is imported to their own process', () => {
    const atImport = "import { afterEach } from 'vitest';\nafterEach(async () => close());";
    expect(textNeedsIsolation(atImport, true)).toBe(true);
    // A test file's own hooks are registered for it, and a helper's function registers them when called.
    expect(textNeedsIsolation(atImport, false)).toBe(false);
    expect(textNeedsIsolation('export function closeAfterEach() {\n  afterEach(close);\n}', true)).toBe(
      false,
    );
  });

  it('takes an environment variable name or a comparison with the environment for what it is', () => {
    expect(textNeedsIsolation("loadConfig({ REDIS_URL: 'redis://x', SANDBOX_PORT: '1' })")).toBe(false);
    expect(textNeedsIsolation("if (process.env.CI === 'true') {}")).toBe(false);
  });

  it('lists relative imports (static, dynamic, re-exports), not packages', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "export * from './c.js';",
      "import './side.js';",
      "const d = await import('./d.js');",
      "import { z } from 'zod';",
    ].join('\n');
    expect(relativeImports(text)).toEqual(['./a.js', '../b/b.js', './c.js', './side.js', './d.js']);
  });

  describe('through the helpers a file imports', () => {
    const root = mkdtempSync(join(tmpdir(), 'cxo-isolation-'));
    const test = join(root, 'test');
    afterAll(() => rmSync(root, { recursive: true, force: true }));
    const write = (path: string, text: string) => {
      mkdirSync(join(test, path, '..'), { recursive: true });
      writeFileSync(join(test, path), text);
    };
    write('a/pure.test.ts', "import { f } from '../../src/f.js';\nimport { fixture } from './fixtures.js';");
    write('a/fixtures.ts', 'export const fixture = 1;');
    write('a/mocking.test.ts', "import { h } from './harness.js';");
    write('a/harness.ts', "export { deeper } from '../b/deeper.js';");
    write('b/deeper.ts', 'export const deeper = () => vi.useFakeTimers();');
    write('b/cycle.test.ts', "import { x } from './cycle-a.js';");
    write('b/cycle-a.ts', "import { y } from './cycle-b.js';");
    write('b/cycle-b.ts', "import { x } from './cycle-a.js';");
    write('b/missing.test.ts', "import { x } from './gone.js';");

    it('finds a change to the process two helpers away, survives an import cycle, and does not vouch for a helper it cannot read', () => {
      expect(needsIsolation(join(test, 'a/pure.test.ts'), test)).toBe(false);
      expect(needsIsolation(join(test, 'a/mocking.test.ts'), test)).toBe(true);
      expect(needsIsolation(join(test, 'b/cycle.test.ts'), test)).toBe(false);
      expect(needsIsolation(join(test, 'b/missing.test.ts'), test)).toBe(true);
      expect(sharedProcessTestFiles(root)).toEqual(['test/a/pure.test.ts', 'test/b/cycle.test.ts']);
    });
  });
});
