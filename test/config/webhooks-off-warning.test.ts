import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, webhooksOffWarning } from '../../src/shared/config.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const RECEIVER = 'https://hooks.example.com/cxo?token=abc123';

/** The warning for `env` on `role`, with the configuration that environment loads. */
const warningFor = (role: string, env: Record<string, string>) =>
  webhooksOffWarning(role, env, loadConfig(env));

describe('webhook settings that send nothing', () => {
  it("names the seed tutorial's EXTERNAL_WEBHOOK_URL, which is not read, and the variable to set", () => {
    const warning = warningFor('all', { EXTERNAL_WEBHOOK_URL: RECEIVER, WEBHOOK_SECRET: SECRET });
    expect(warning).toBe(
      "EXTERNAL_WEBHOOK_URL is set but not read (it is the seed tutorial's name): no webhook is sent; " +
        'set WEBHOOK_URL to the receiver instead, with WEBHOOK_SECRET (whsec_…)',
    );
    // Never the URL itself: its query may hold a token.
    expect(warning).not.toContain('abc123');
    expect(warningFor('worker', { EXTERNAL_WEBHOOK_URL: RECEIVER })).toContain('set WEBHOOK_URL');
  });

  it('names a secret, a rotation secret or audit records set without WEBHOOK_URL', () => {
    expect(warningFor('api', { WEBHOOK_SECRET: SECRET })).toBe(
      'WEBHOOK_SECRET is set but WEBHOOK_URL is not: no webhook is sent (events are recorded only); ' +
        'set WEBHOOK_URL to the receiver, or unset it',
    );
    expect(
      warningFor('worker', {
        WEBHOOK_SECRET: SECRET,
        WEBHOOK_SECRET_PREVIOUS: SECRET,
        WEBHOOK_AUDIT_RECORDS: 'true',
      }),
    ).toBe(
      'WEBHOOK_SECRET, WEBHOOK_SECRET_PREVIOUS, WEBHOOK_AUDIT_RECORDS=true are set but WEBHOOK_URL is not: ' +
        'no webhook is sent (events are recorded only); set WEBHOOK_URL to the receiver, or unset them',
    );
  });

  it('says nothing when webhooks are configured, asked for by nobody, or on the sandbox role', () => {
    expect(warningFor('all', {})).toBeUndefined();
    expect(warningFor('all', { WEBHOOK_AUDIT_RECORDS: 'false' })).toBeUndefined();
    expect(warningFor('all', { WEBHOOK_URL: RECEIVER, WEBHOOK_SECRET: SECRET })).toBeUndefined();
    // Both names for the same receiver: deliveries go where the seed's name meant.
    expect(
      warningFor('all', { WEBHOOK_URL: RECEIVER, WEBHOOK_SECRET: SECRET, EXTERNAL_WEBHOOK_URL: RECEIVER }),
    ).toBeUndefined();
    expect(warningFor('sandbox', { EXTERNAL_WEBHOOK_URL: RECEIVER, WEBHOOK_SECRET: SECRET })).toBeUndefined();
  });

  it('says the seed name is ignored when it names another receiver than WEBHOOK_URL', () => {
    expect(
      warningFor('api', {
        WEBHOOK_URL: RECEIVER,
        WEBHOOK_SECRET: SECRET,
        EXTERNAL_WEBHOOK_URL: 'https://old.example.com/hook',
      }),
    ).toBe(
      "EXTERNAL_WEBHOOK_URL is not read (it is the seed tutorial's name): webhooks go to WEBHOOK_URL only; unset EXTERNAL_WEBHOOK_URL",
    );
  });

  const prefix = testPrefix('webhooks-off');
  afterAll(() => deletePrefixAt(prefix));

  it("an api-role process started with the seed's variables says so at start-up, and starts", async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, 'api'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REDIS_URL,
        KEY_PREFIX: prefix,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'warn',
        EXTERNAL_WEBHOOK_URL: RECEIVER,
        WEBHOOK_SECRET: SECRET,
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
      const line = out.split('\n').find((l) => l.includes('EXTERNAL_WEBHOOK_URL is set but not read'));
      expect(line, out).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({ level: 40, role: 'api', variable: 'WEBHOOK_URL' });
      expect(out).not.toContain('abc123');
    } finally {
      proc.kill('SIGTERM');
      await exited;
    }
  }, 30_000);
});
