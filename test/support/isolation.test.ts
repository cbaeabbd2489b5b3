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
  it('reads code, not the comments, strings or test names that mention Redis', () => {
    const pure = [
      '// no Redis here',
      '/* the sandbox is not started */',
      "it('answers 503 when Redis went away', () => {",
      '  expect(describeOutage(`Redis at ${host} is down`)).toBe("Redis down");',
      '});',
    ].join('\n');
    expect(textNeedsIsolation(pure)).toBe(false);
    expect(codeOf('a(`x ${b(`y ${c}`)} z`) // d')).toBe("a(''b(''c'')'') ");
  });

  it('sends a file that connects, serves, spawns or changes the process to its own process', () => {
    const own = [
      "import { Redis } from 'ioredis';",
      "import { spawn } from 'node:child_process';",
      'const redis = createRedis(url);',
      'const stack = await startStack();',
      'await fetch(url);',
      "vi.mock('../../src/x.js');",
      'vi.useFakeTimers();',
      "vi.spyOn(console, 'error');",
      "process.env.WEBHOOK_URL = 'x';",
      "process.env['A'] = 'x';",
      'delete process.env.A;',
      "process.on('exit', f);",
    ];
    for (const line of own) expect(textNeedsIsolation(line), line).toBe(true);
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
    write('a/io.test.ts', "import { h } from './harness.js';");
    write('a/harness.ts', "export { deeper } from '../b/deeper.js';");
    write('b/deeper.ts', 'export const deeper = () => createRedis(url);');
    write('b/cycle.test.ts', "import { x } from './cycle-a.js';");
    write('b/cycle-a.ts', "import { y } from './cycle-b.js';");
    write('b/cycle-b.ts', "import { x } from './cycle-a.js';");
    write('b/missing.test.ts', "import { x } from './gone.js';");

    it('finds Redis two helpers away, survives an import cycle, and does not vouch for a helper it cannot read', () => {
      expect(needsIsolation(join(test, 'a/pure.test.ts'), test)).toBe(false);
      expect(needsIsolation(join(test, 'a/io.test.ts'), test)).toBe(true);
      expect(needsIsolation(join(test, 'b/cycle.test.ts'), test)).toBe(false);
      expect(needsIsolation(join(test, 'b/missing.test.ts'), test)).toBe(true);
      expect(sharedProcessTestFiles(root)).toEqual(['test/a/pure.test.ts', 'test/b/cycle.test.ts']);
    });
  });
});
