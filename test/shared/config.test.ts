import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/shared/config.js';

describe('loadConfig', () => {
  it('applies the documented sandbox defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.port).toBe(3000);
    expect(config.sandboxMode).toBe(true);
    expect(config.apiToken).toBe('dev-token');
    expect(config.apiTokenIsDefault).toBe(true);
    expect(config.cxone.baseUrl).toBe('http://127.0.0.1:4010');
    expect(config.cxone.clientId).toBe('sandbox-client');
    expect(config.cxone.rateLimitPerWindow).toBe(100);
    expect(config.webhook).toBeUndefined();
    expect(config.keyPrefix).toBe('{cxo}');
  });

  it('marks an operator-chosen token as not the default', () => {
    const config = loadConfig({ API_TOKEN: 'a-real-secret-token' });
    expect(config.apiToken).toBe('a-real-secret-token');
    expect(config.apiTokenIsDefault).toBe(false);
  });

  it('reports one line per bad variable, naming it', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        REDIS_URL: 'http://nope',
        CXONE_RATE_LIMIT_PER_MIN: '0',
        LOG_LEVEL: 'loud',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.find((p) => p.startsWith('PORT:'))).toContain('"eighty"');
    expect(problems.some((p) => p.startsWith('REDIS_URL:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('CXONE_RATE_LIMIT_PER_MIN:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('LOG_LEVEL:'))).toBe(true);
  });

  it('requires real credentials and an API token against a real CXone, without echoing secrets', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ CXONE_BASE_URL: 'https://api.example.test', CXONE_CLIENT_SECRET: 'shh' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems.map((p) => p.split(':')[0]).sort()).toEqual(['API_TOKEN', 'CXONE_CLIENT_ID']);
    expect(error?.message).not.toContain('shh');
  });

  it('refuses one port for the API and the embedded sandbox, but not with a real CXone', () => {
    expect(() => loadConfig({ PORT: '4010' })).toThrow(/PORT: is 4010, the embedded sandbox's port too/);
    expect(() => loadConfig({ PORT: '4011', SANDBOX_PORT: '4011' })).toThrow(/SANDBOX_PORT/);
    expect(loadConfig({ PORT: '0', SANDBOX_PORT: '0' }).port).toBe(0);
    expect(
      loadConfig({
        PORT: '4010',
        CXONE_BASE_URL: 'https://api.example.test',
        CXONE_CLIENT_ID: 'id',
        CXONE_CLIENT_SECRET: 'secret',
        API_TOKEN: 'a-real-secret-token',
      }).port,
    ).toBe(4010);
  });

  it('requires a whsec_ secret with a webhook URL', () => {
    expect(() => loadConfig({ WEBHOOK_URL: 'http://127.0.0.1:9/hook' })).toThrow(/WEBHOOK_SECRET/);
    expect(() => loadConfig({ WEBHOOK_URL: 'http://127.0.0.1:9/hook', WEBHOOK_SECRET: 'plain' })).toThrow(
      /WEBHOOK_SECRET: must look like whsec_/,
    );
    const ok = loadConfig({
      WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    });
    expect(ok.webhook?.url).toBe('http://127.0.0.1:9/hook');
  });

  it('refuses a WEBHOOK_URL with a user name or password, naming it and never echoing the password', () => {
    const problems = (env: NodeJS.ProcessEnv): string[] => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const found = problems({
      WEBHOOK_URL: 'https://hook:hunter2@receiver.example.test/in',
      WEBHOOK_SECRET: secret,
    });
    expect(found).toEqual([expect.stringMatching(/^WEBHOOK_URL: must not carry a user name or password/)]);
    expect(found.join('\n')).not.toContain('hunter2');
    const tokenOnly = problems({
      WEBHOOK_URL: 'https://s3cr3t-token@receiver.example.test/in',
      WEBHOOK_SECRET: secret,
    });
    expect(tokenOnly).toEqual([
      expect.stringMatching(/^WEBHOOK_URL: must not carry a user name or password/),
    ]);
    // A user name alone is the credential: not echoed either.
    expect(tokenOnly.join('\n')).not.toContain('s3cr3t-token');
    expect(
      loadConfig({ WEBHOOK_URL: 'https://receiver.example.test/in', WEBHOOK_SECRET: secret }).webhook,
    ).toEqual({
      url: 'https://receiver.example.test/in',
      secret,
    });
  });

  it('refuses a WEBHOOK_SECRET that is not whsec_ and canonical padded base64 of at least 24 bytes', () => {
    const url = 'http://127.0.0.1:9/hook';
    const problem = (secret: string): string | undefined => {
      try {
        loadConfig({ WEBHOOK_URL: url, WEBHOOK_SECRET: secret });
      } catch (err) {
        return (err as ConfigError).problems.join('\n');
      }
      return undefined;
    };
    for (const [secret, why] of [
      ['whsec_================', /not padded standard base64/],
      ['whsec_abc=defghijklmnopqrs', /not padded standard base64/],
      ['whsec_AAAAAAAAAAAAAAAAA', /not padded standard base64/],
      ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw-_', /not padded standard base64/],
      ['whsec_c2VjcmV0LWtleS0xMjM0NTY=', /decodes to 17 bytes/],
      ['whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB', undefined],
      // A last character with stray low bits: receivers' decoders disagree on what key it means.
      ['whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=', /not canonical base64/],
      ['plain', /does not start with whsec_/],
    ] as const) {
      const found = problem(secret);
      if (why === undefined) {
        expect(found, secret).toBeUndefined();
        continue;
      }
      expect(found, secret).toMatch(/^WEBHOOK_SECRET: must look like whsec_/);
      expect(found, secret).toMatch(why);
      expect(found, secret).not.toContain(secret);
    }
    // openssl rand -base64 32
    expect(problem(`whsec_${Buffer.alloc(32, 7).toString('base64')}`)).toBeUndefined();
  });

  it('reads WEBHOOK_AUDIT_RECORDS as a boolean, off by default, and names it when it is not one', () => {
    expect(loadConfig({}).webhookAuditRecords).toBe(false);
    expect(loadConfig({ WEBHOOK_AUDIT_RECORDS: 'true' }).webhookAuditRecords).toBe(true);
    expect(loadConfig({ WEBHOOK_AUDIT_RECORDS: 'false' }).webhookAuditRecords).toBe(false);
    let error: ConfigError | undefined;
    try {
      loadConfig({ WEBHOOK_AUDIT_RECORDS: 'sometimes' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.problems).toEqual([
      expect.stringMatching(/^WEBHOOK_AUDIT_RECORDS: .*\(got "sometimes"\)$/),
    ]);
  });

  it('reads whether creates carry an Idempotency-Key, and whether the sandbox honours one, naming a bad value', () => {
    expect(loadConfig({}).cxone.createIdempotency).toBe('key');
    expect(loadConfig({}).sandbox.idempotencyKeys).toBe(true);
    const without = loadConfig({ CXONE_CREATE_IDEMPOTENCY: 'none', SANDBOX_IDEMPOTENCY_KEYS: 'ignored' });
    expect(without.cxone.createIdempotency).toBe('none');
    expect(without.sandbox.idempotencyKeys).toBe(false);
    let error: ConfigError | undefined;
    try {
      loadConfig({ CXONE_CREATE_IDEMPOTENCY: 'maybe', SANDBOX_IDEMPOTENCY_KEYS: 'yes' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems).toEqual([
      expect.stringMatching(/^CXONE_CREATE_IDEMPOTENCY: .*"key".*"none".*\(got "maybe"\)$/),
      expect.stringMatching(/^SANDBOX_IDEMPOTENCY_KEYS: .*"honoured".*"ignored".*\(got "yes"\)$/),
    ]);
  });

  it('refuses a key prefix that is not a hash tag (Redis Cluster needs one slot)', () => {
    expect(() => loadConfig({ KEY_PREFIX: 'cxo' })).toThrow(/KEY_PREFIX/);
  });

  const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
    try {
      loadConfig(env);
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('reads a number variable set to nothing as unset, not as 0 (a random port)', () => {
    const config = loadConfig({ PORT: '', SANDBOX_PORT: ' ', SHUTDOWN_TIMEOUT_MS: '', METRICS_PORT: '' });
    expect(config.port).toBe(3000);
    expect(config.shutdownTimeoutMs).toBe(30_000);
    expect(config.metricsPort).toBeUndefined();
    expect(problemsOf({ PORT: 'abc' })).toEqual([expect.stringMatching(/^PORT: /)]);
  });

  it('refuses timeouts beyond what a timer can wait, naming the ceiling', () => {
    // Node fires a timer of more than 2^31 - 1 ms after 1 ms: every shutdown would be forced at once.
    expect(problemsOf({ SHUTDOWN_TIMEOUT_MS: '2147483000', CXONE_TIMEOUT_MS: '3000000000' })).toEqual([
      'CXONE_TIMEOUT_MS: must be at most 600000 (ten minutes) (got "3000000000")',
      'SHUTDOWN_TIMEOUT_MS: must be at most 3600000 (an hour) (got "2147483000")',
    ]);
    expect(problemsOf({ CXONE_RATE_LIMIT_WINDOW_MS: '9999999999' })).toEqual([
      expect.stringMatching(/^CXONE_RATE_LIMIT_WINDOW_MS: must be at most 3600000/),
    ]);
  });

  it('refuses a token no HTTP header can carry as sent', () => {
    expect(problemsOf({ API_TOKEN: 'my team token 2026' })).toEqual([
      'API_TOKEN: must be printable ASCII without spaces (it is sent in an HTTP header)',
    ]);
    expect(problemsOf({ SANDBOX_ADMIN_TOKEN: 'admin\ttoken-1' })).toEqual([
      expect.stringMatching(/^SANDBOX_ADMIN_TOKEN: must be printable ASCII/),
    ]);
    expect(loadConfig({ API_TOKEN: 'a.b-c_d~e+f/g=' }).apiToken).toBe('a.b-c_d~e+f/g=');
  });

  it('refuses a Redis URL whose database is not a number', () => {
    expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1:6379/abc' })).toEqual([
      'REDIS_URL: must name its database by number, if at all (redis://host:6379/0) (got "redis://127.0.0.1:6379/abc")',
    ]);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/3' }).redisUrl).toBe('redis://127.0.0.1:6379/3');
    // Not a URL at all (the scheme forgotten): one line naming it, not a crash.
    expect(problemsOf({ REDIS_URL: '127.0.0.1:6379' })).toEqual([
      expect.stringMatching(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/),
    ]);
    expect(loadConfig({ REDIS_URL: 'rediss://127.0.0.1:6380/' }).redisUrl).toBe('rediss://127.0.0.1:6380/');
  });
});

describe('loadConfig and credentials in URLs', () => {
  it('never echoes a password carried in an invalid URL value', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ REDIS_URL: 'http://:S3cretPassw0rd@127.0.0.1:6399' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems[0]).toMatch(/^REDIS_URL:/);
    expect(error?.message).not.toContain('S3cretPassw0rd');
    expect(error?.message).toContain('***');
  });
});
