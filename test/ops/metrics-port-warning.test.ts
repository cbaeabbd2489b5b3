import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, metricsPortWarning } from '../../src/shared/config.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

describe('METRICS_PORT on a role that does not serve it', () => {
  it('is warned about on api, all and sandbox, naming where metrics are served instead; not on worker', () => {
    const config = (env: Record<string, string>) => loadConfig({ METRICS_PORT: '9464', ...env });
    expect(metricsPortWarning('api', config({ PORT: '3000' }))).toBe(
      "METRICS_PORT=9464 is ignored by the api role: only a worker-role process serves /metrics, /healthz and /readyz on METRICS_PORT; this process serves them on the API's port (PORT 3000), e.g. /metrics there",
    );
    expect(metricsPortWarning('all', config({ PORT: '0' }))).toContain(
      "ignored by the all role: only a worker-role process serves /metrics, /healthz and /readyz on METRICS_PORT; this process serves them on the API's port (PORT=0: the port the banner names)",
    );
    expect(metricsPortWarning('sandbox', config({}))).toBe(
      'METRICS_PORT=9464 is ignored by the sandbox role: only a worker-role process serves /metrics, /healthz and /readyz on METRICS_PORT; the sandbox role serves no metrics',
    );
    expect(metricsPortWarning('worker', config({}))).toBeUndefined();
    expect(metricsPortWarning('api', loadConfig({}))).toBeUndefined();
  });

  const prefix = testPrefix('metrics-port');
  afterAll(() => deletePrefixAt(prefix));

  it('an api-role process says so in its start-up log, and starts', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'api'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REDIS_URL,
        KEY_PREFIX: prefix,
        HOST: '127.0.0.1',
        PORT: '0',
        METRICS_PORT: '9464',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    try {
      const deadline = Date.now() + 20_000;
      while (!/API token/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(out, out).toMatch(/API token/);
      const line = out.split('\n').find((l) => l.includes('METRICS_PORT=9464 is ignored'));
      expect(line, out).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({
        level: 40,
        role: 'api',
        variable: 'METRICS_PORT',
        metricsPort: 9464,
        msg: expect.stringContaining("this process serves them on the API's port (PORT=0"),
      });
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
  }, 30_000);
});
