import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodeSupportProblem } from '../../src/process/node-support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs an entry point with Node's require(esm) turned off, as on Node 20 before 20.19. */
function runWithoutRequireModule(
  entry: string,
  args: string[],
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--no-experimental-require-module', '--import', 'tsx', entry, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, timeout: 30_000 },
      (err, _stdout, stderr) => resolve({ code: err ? (err.code as number | null) : 0, stderr }),
    );
  });
}

describe('the Node.js the orchestrator needs', () => {
  it('accepts a Node that can require() ES modules', () => {
    expect(nodeSupportProblem('20.19.0', true)).toBeUndefined();
    expect(nodeSupportProblem('22.12.0', true)).toBeUndefined();
  });

  // Node 21 never loaded ES modules with require() by default, and Node 22 did only from 22.12: the
  // flag is not what is wrong there, the release is.
  it('names the version and the minimum on a release without require(esm) by default', () => {
    for (const version of ['20.18.3', '20.9.0', '18.20.4', '21.7.3', '22.11.0', '22.5.1']) {
      const problem = nodeSupportProblem(version, undefined);
      expect(problem).toContain(`Node.js ${version} is too old`);
      expect(problem).toContain('20.19.0 (Node 20) or 22.12.0 (Node 22 and later)');
    }
    expect(nodeSupportProblem('22.5.1', false)).toContain('is too old');
  });

  it('names the flag when require(esm) is turned off on a recent Node', () => {
    expect(nodeSupportProblem('20.20.2', false)).toMatch(
      /--no-experimental-require-module.*remove that flag/,
    );
  });

  // Before, the built entry points died, `--help` too, with an ERR_REQUIRE_ESM stack trace from
  // @fastify/static (through tsx they ran: see the import-order cases below).
  for (const [entry, args] of [
    ['src/main.ts', ['--help']],
    ['src/demo.ts', ['--help']],
  ] as const) {
    it(`${entry} refuses such a Node with one line and exit code 1, before Fastify loads`, async () => {
      const { code, stderr } = await runWithoutRequireModule(entry, [...args]);
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^cxone-orchestrator cannot start: require\(\) of ES modules is turned off/),
      ]);
      expect(stderr).not.toContain('ERR_REQUIRE_ESM');
    });
  }

  // The runs above go through tsx, whose require() hook loads these ES modules even with require(esm)
  // off: there the check refuses wherever it is imported (and before, --help just worked). The crash it prevents is the built files' (node dist/main.js in
  // the image), where ES modules are evaluated in import order: only a check imported before every
  // other module, and itself importing nothing that loads Fastify, runs before the require() throws.
  const importsOf = (path: string) =>
    [
      ...readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8').matchAll(
        /^import\b.*?'([^']+)';$/gms,
      ),
    ].map((m) => m[1]);
  for (const entry of ['src/main.ts', 'src/demo.ts']) {
    it(`${entry} imports the check before any other module`, () => {
      expect(importsOf(entry)[0]).toBe('./process/node-support-check.js');
    });
  }
  it('the check imports nothing but its pure part, which imports nothing', () => {
    expect(importsOf('src/process/node-support-check.ts')).toEqual(['./node-support.js']);
    expect(importsOf('src/process/node-support.ts')).toEqual([]);
  });
});
