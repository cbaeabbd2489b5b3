import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { problemsOf } from './problems.js';

describe('number variables', () => {
  // Number() reads hex, octal, binary and exponents: PORT=0x50 would bind port 80 and
  // WORKER_CONCURRENCY=1e3 run a thousand jobs, where an operator more likely mistyped.
  it.each([
    ['PORT', '0x50'],
    ['PORT', '1e3'],
    ['SANDBOX_PORT', '0o7000'],
    ['WORKER_CONCURRENCY', '0b11'],
    ['CXONE_RATE_LIMIT_PER_MIN', '1e2'],
    ['SHUTDOWN_TIMEOUT_MS', '3e4'],
    ['SANDBOX_TIME_SCALE', '.5e1'],
    ['METRICS_PORT', '0x2406'],
    ['PORT', '30 00'],
  ])('refuses %s=%s, naming it and the value', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toBe(`${name}: must be a decimal number (got ${JSON.stringify(value)})`);
  });

  it('reads plain decimal values, with surrounding spaces, a sign or a fraction where those make sense', () => {
    const config = loadConfig({
      PORT: ' 3001 ',
      WORKER_CONCURRENCY: '7',
      SANDBOX_TIME_SCALE: '0.5',
      SANDBOX_SEED: '-12',
      SHUTDOWN_TIMEOUT_MS: '0',
      METRICS_PORT: '9464',
    });
    expect(config.port).toBe(3001);
    expect(config.workerConcurrency).toBe(7);
    expect(config.sandbox.timeScale).toBe(0.5);
    expect(config.sandbox.seed).toBe(-12);
    expect(config.shutdownTimeoutMs).toBe(0);
    expect(config.metricsPort).toBe(9464);
    expect(loadConfig({ METRICS_PORT: '' }).metricsPort).toBeUndefined();
  });

  it('still refuses a fraction where a whole number is needed, and a number out of range', () => {
    expect(problemsOf({ PORT: '3000.5' })[0]).toMatch(/^PORT: .*int/);
    expect(problemsOf({ WORKER_CONCURRENCY: '0' })[0]).toMatch(/^WORKER_CONCURRENCY: /);
  });
});
