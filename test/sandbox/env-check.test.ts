import { describe, expect, it } from 'vitest';
import { SANDBOX_VARIABLES, unknownSandboxVariables } from '../../src/sandbox/env-check.js';

describe('unknown SANDBOX_* variables', () => {
  it('knows exactly the SANDBOX_* variables the environment schema reads', () => {
    expect([...SANDBOX_VARIABLES].sort()).toEqual([
      'SANDBOX_ADMIN_TOKEN',
      'SANDBOX_AUTH_FAILURES_PER_MIN',
      'SANDBOX_AUTH_FAILURE_WINDOW_MS',
      'SANDBOX_IDEMPOTENCY_KEYS',
      'SANDBOX_PORT',
      'SANDBOX_RATE_LIMIT_PER_MIN',
      'SANDBOX_RATE_LIMIT_WINDOW_MS',
      'SANDBOX_SEED',
      'SANDBOX_TIME_SCALE',
      'SANDBOX_TOKEN_TTL_SECONDS',
    ]);
  });

  it.each([
    ['SANDBOX_TIMESCALE', 'SANDBOX_TIME_SCALE'],
    ['SANDBOX_TIME_SCALLE', 'SANDBOX_TIME_SCALE'],
    ['SANDBOX_SEEDS', 'SANDBOX_SEED'],
    ['SANDBOX_POTR', 'SANDBOX_PORT'],
    ['SANDBOX_TOKEN_TTL', 'SANDBOX_TOKEN_TTL_SECONDS'],
    ['SANDBOX_RATE_LIMIT', 'SANDBOX_RATE_LIMIT_PER_MIN'],
    ['SANDBOX_ADMIN_TOKN', 'SANDBOX_ADMIN_TOKEN'],
  ])('names %s with the closest known one, %s', (name, closest) => {
    expect(unknownSandboxVariables({ [name]: '1' })).toEqual([{ name, closest }]);
  });

  it('leaves known variables and other prefixes alone', () => {
    expect(
      unknownSandboxVariables({
        SANDBOX_PORT: '0',
        SANDBOX_SEED: '1',
        SANDBOX_TIME_SCALE: '60',
        SANDBOX_TOKEN_TTL_SECONDS: '5',
        SANDBOX_ADMIN_TOKEN: 'let-me-in-please',
        SANDBOXPORT: '1',
        sandbox_port: '1',
        CXONE_TIMESCALE: '1',
      }),
    ).toEqual([]);
  });
});
