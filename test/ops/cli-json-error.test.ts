import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/args.js';
import { jsonErrorOffset } from '../../src/cli/json-error-offset.js';
import { jsonErrorWithLine, runCli } from '../../src/cli/run.js';
import { capturingIo } from './helpers.js';

const example = readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8');

/** JSON.parse's message for a text it refuses. */
function parseError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${JSON.stringify(text)} is JSON`);
}

/** `cxo validate --offline FILE` of this text: nothing but the file is needed. */
async function validateOffline(text: string): Promise<{ code: number; err: string; out: string }> {
  const { io, out, err } = capturingIo({ isTty: false, readFile: async () => text });
  const code = await runCli(['validate', '--offline', 'c.json'], {}, io);
  return { code, err: err.join('\n'), out: out.join('\n') };
}

describe('jsonErrorOffset', () => {
  it('finds no error in JSON, deep nesting and every kind of value included', () => {
    for (const text of [
      example,
      ' {} ',
      '[]',
      '"a\\u00e9\\n"',
      '-0.5e+3',
      '[true, false, null, {"a": [1, {"b": "c"}]}]',
      `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
    ]) {
      expect(jsonErrorOffset(text), text.slice(0, 40)).toBeUndefined();
    }
  });

  it('agrees with JSON.parse on where a text stops being JSON, wherever JSON.parse names it', () => {
    const broken = [
      '{"a": 1,}',
      '{"a" 1}',
      '[1 2]',
      '{"a": 1',
      '{"a": tru}',
      '{"a": nul',
      '{"a": "b\u0001"}',
      '{"a": 01}',
      '{"a": -}',
      '{"a": 1.}',
      '{"a": "\\x"}',
      '{"a": 1}}',
      '[1]]',
      '{"a": [1}',
      '{"a": 1e}',
      '{"a": -x}',
      '{"a": 1.5E+}',
    ];
    for (const text of broken) {
      const at = /at position (\d+)/.exec(parseError(text));
      const offset = jsonErrorOffset(text);
      expect(offset, text).toBeDefined();
      if (at) expect(offset, text).toBe(Number(at[1]));
    }
  });

  it('names the offset of the errors JSON.parse gives no position for', () => {
    // A comment, a single-quoted string, a bare word, a byte-order mark: a character where a value belongs.
    expect(jsonErrorOffset('{\n  "a": 1,\n  "b": // no\n}')).toBe(19);
    expect(jsonErrorOffset('{"a": \'x\'}')).toBe(6);
    expect(jsonErrorOffset('{"a": NaN}')).toBe(6);
    expect(jsonErrorOffset('\ufeff{}')).toBe(0);
    // A file cut short ends at its length.
    expect(jsonErrorOffset('{"a": ')).toBe(6);
    expect(jsonErrorOffset('{"a": "unterminated')).toBe(19);
    expect(jsonErrorOffset('')).toBe(0);
  });
});

describe('jsonErrorWithLine', () => {
  it('adds the line and column to a message without a position, keeping the message on one line', () => {
    const text = '{\n  "name": "x",\n  "dialerStrategy": {\n    "callRate": x\n  }\n}\n';
    const message = jsonErrorWithLine(parseError(text), text);
    expect(message).toMatch(/\(line 4 column 17\)$/);
    expect(message).not.toContain('\n');
  });

  it('names where a file cut short ends', () => {
    const text = '{\n  "name": "x",\n  "startDateTime":';
    expect(jsonErrorWithLine(parseError(text), text)).toMatch(/\(line 3 column 19\)$/);
  });

  it('leaves a message that already names the line as it is', () => {
    expect(jsonErrorWithLine('Unexpected token at line 2 column 3', '{\n  x')).toBe(
      'Unexpected token at line 2 column 3',
    );
  });
});

describe('cxo validate of a file that is not JSON', () => {
  it('names the line and column of a stray character, in one line, exit 2', async () => {
    const r = await validateOffline('{\n  "name": "x",\n  "targetListId": // the list\n    "y"\n}\n');
    expect(r.code).toBe(EXIT.validation);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^c\.json is not valid JSON: Unexpected token .*\(line 3 column 19\)$/);
  });

  it('names the end of a file cut short, exit 2', async () => {
    const cut = example.slice(0, example.indexOf('{', example.indexOf('"dialerStrategy"')));
    const r = await validateOffline(cut);
    expect(r.code).toBe(EXIT.validation);
    const lines = cut.split('\n');
    expect(r.err).toBe(
      `c.json is not valid JSON: Unexpected end of JSON input (line ${lines.length} column ${(lines.at(-1) ?? '').length + 1})`,
    );
  });
});
