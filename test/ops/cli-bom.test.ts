import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/args.js';
import { API_TOKEN, api, startStack, type Stack } from '../e2e/stack.js';
import { cliRunner } from './helpers.js';

/**
 * A config file saved with a UTF-8 byte order mark (Notepad, some Windows editors and PowerShell's
 * Out-File write one) is the same config to the API, whose JSON parser ignores a leading BOM (RFC
 * 8259 §8.1 allows it). cxo refused it before sending, exit 2, with an invisible character quoted:
 * `Unexpected token '<U+FEFF>', "<U+FEFF>{…" is not valid JSON (line 1 column 1)`.
 */
const example = readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8');
const BOM = '\ufeff';

let stack: Stack;
const files: Record<string, string> = {
  'bom.json': BOM + example,
  // A BOM does not hide a real error behind it: the position is the file's own.
  'bom-broken.json': `${BOM}{\n  "name": x\n}\n`,
};
const cxo = cliRunner({ files, env: () => ({ API_URL: stack.apiUrl, API_TOKEN }), pollMs: 100 });

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('a config file that starts with a UTF-8 byte order mark', () => {
  it('is the same config to the API', async () => {
    const reply = await api(stack, 'POST', '/v1/campaigns/validate', { raw: BOM + example });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ valid: true, issues: [] });
  });

  it('is valid to cxo validate, online and offline, as it is to the API', async () => {
    const online = await cxo('validate', 'bom.json');
    expect(online.err).toBe('');
    expect(online.out).toBe('bom.json: valid');
    expect(online.code).toBe(EXIT.ok);
    const offline = await cxo('validate', 'bom.json', '--offline');
    expect(offline.out).toBe('bom.json: valid');
    expect(offline.code).toBe(EXIT.ok);
  });

  it('is launched by cxo launch', async () => {
    const launched = await cxo('launch', 'bom.json', '--no-wait', '--json');
    expect(launched.code).toBe(EXIT.ok);
    expect(JSON.parse(launched.out)).toMatchObject({ launchId: expect.any(String) as unknown });
  });

  it('still has a broken file named with the line and column of its error, and no invisible character', async () => {
    const broken = await cxo('validate', 'bom-broken.json', '--offline');
    expect(broken.code).toBe(EXIT.validation);
    expect(broken.err).toMatch(/^bom-broken\.json is not valid JSON: .*\(line 2 column 11\)$/);
    expect(broken.err).not.toContain(BOM);
  });
});
