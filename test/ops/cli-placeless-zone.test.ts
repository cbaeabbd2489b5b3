import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/args.js';
import { cliRunner } from './helpers.js';

/** `cxo validate --offline` holds a campaign's zone to the launch's rule: no fixed UTC offset. */
const example = JSON.parse(
  readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;
const onZone = (zone: string) => JSON.stringify({ ...example, complianceTimeZone: zone });

const cxo = cliRunner({
  files: {
    'gmt5.json': onZone('Etc/GMT+5'),
    'utc.json': onZone('UTC'),
    'new-york.json': onZone('America/New_York'),
  },
  // Offline: nothing is sent, so no API needs to listen.
  env: () => ({ API_URL: 'http://127.0.0.1:9', API_TOKEN: 'cli-token-1' }),
  pollMs: 10,
});

describe('cxo validate --offline on a fixed offset', () => {
  it('exits 2 naming complianceTimeZone and a zone to write instead', async () => {
    for (const [file, zone] of [
      ['gmt5.json', 'Etc/GMT+5'],
      ['utc.json', 'UTC'],
    ] as const) {
      const checked = await cxo('validate', file, '--offline');
      expect(checked.code, file).toBe(EXIT.validation);
      expect(checked.out, file).toContain(`- complianceTimeZone: ${zone} is a fixed offset`);
      expect(checked.out, file).toContain("name the called party's zone, e.g. ");
      // The example declares NY, NJ and PA: the zone's refusal is their one message, not three more.
      expect(checked.out, file).not.toContain('recipientStates');
    }
    expect((await cxo('validate', 'new-york.json', '--offline')).code).toBe(EXIT.ok);
  });
});
