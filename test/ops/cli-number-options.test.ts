import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/cli/args.js';

/**
 * cxo's number options are read in plain decimal notation, as the service reads its environment and
 * the API its `?limit=`: Number() would take `0x10` as 16, `1e3` as 1000, `0b11` as 3 and ` 5` as 5,
 * so a typo or a pasted value would quietly set some other wait or page size than the one meant.
 */
const error = (argv: string[]) => {
  const r = parseCliArgs(argv, {});
  return r.ok ? 'accepted' : r.error;
};

describe('cxo number options', () => {
  it('refuse hex, binary, exponent, blank-padded and signed spellings, naming the option and the value', () => {
    for (const raw of ['0x10', '0b11', '0o7', '1e3', ' 5', '5 ', '+5', '.', '1.', 'Infinity']) {
      expect(error(['watch', 'c-1', '--interval', raw]), `--interval ${JSON.stringify(raw)}`).toMatch(
        new RegExp(`^--interval must be .*\\(got "${raw.replace(/[.+]/g, '\\$&')}"\\)$`),
      );
      expect(error(['pause', 'c-1', '--timeout', raw]), `--timeout ${JSON.stringify(raw)}`).toMatch(
        /^--timeout must be/,
      );
      expect(
        error(['launch', 'c.json', '--timeout', raw]),
        `launch --timeout ${JSON.stringify(raw)}`,
      ).toMatch(/^--timeout must be/);
      expect(error(['audit', 'c-1', '--limit', raw]), `--limit ${JSON.stringify(raw)}`).toMatch(
        /^--limit must be/,
      );
    }
  });

  it('take plain decimals: seconds with a fraction, a limit as a whole number', () => {
    expect(parseCliArgs(['watch', 'c-1', '--interval', '0.5'], {})).toMatchObject({
      ok: true,
      command: { kind: 'watch', intervalSec: 0.5 },
    });
    expect(parseCliArgs(['watch', 'c-1', '--interval', '.5'], {})).toMatchObject({ ok: true });
    expect(parseCliArgs(['pause', 'c-1', '--timeout', '90'], {})).toMatchObject({ ok: true });
    expect(parseCliArgs(['audit', 'c-1', '--limit', '20'], {})).toMatchObject({
      ok: true,
      command: { kind: 'audit', limit: 20 },
    });
    expect(error(['audit', 'c-1', '--limit', '1.5'])).toBe('--limit must be a whole number (got "1.5")');
    expect(error(['pause', 'c-1', '--timeout', '0x10'])).toBe(
      '--timeout must be written in plain decimal digits, such as 16 (got "0x10")',
    );
  });
});
