import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { problemsOf } from './problems.js';

describe('problems between variables', () => {
  // zod skips an object's refinements once any field is refused outright (a number that is not
  // one): the operator saw only PORT, fixed it, and learnt of the missing client on the next start.
  it('are reported together with a variable refused on its own, in one list', () => {
    expect(problemsOf({ CXONE_BASE_URL: 'https://api.example.test', PORT: 'abc' })).toEqual([
      'PORT: must be a decimal number (got "abc")',
      'CXONE_CLIENT_ID: is required when CXONE_BASE_URL is set (it has no sandbox default)',
      'CXONE_CLIENT_SECRET: is required when CXONE_BASE_URL is set (it has no sandbox default)',
      'API_TOKEN: is required when CXONE_BASE_URL is set (it has no sandbox default)',
    ]);
    expect(
      problemsOf({
        WEBHOOK_URL: 'https://hooks.example.test/in',
        LOG_LEVEL: 'loud',
        WORKER_CONCURRENCY: 'x',
      }),
    ).toEqual([
      expect.stringMatching(/^LOG_LEVEL: /),
      expect.stringMatching(/^WORKER_CONCURRENCY: must be a decimal number/),
      'WEBHOOK_SECRET: is required when WEBHOOK_URL is set',
    ]);
  });

  it('do not mistake two refused values for a conflict between them', () => {
    expect(problemsOf({ PORT: 'abc', SANDBOX_PORT: 'abc' })).toEqual([
      'PORT: must be a decimal number (got "abc")',
      'SANDBOX_PORT: must be a decimal number (got "abc")',
    ]);
    expect(problemsOf({ PORT: '4011', SANDBOX_PORT: '4011', LOG_LEVEL: 'loud' })).toEqual([
      expect.stringMatching(/^LOG_LEVEL: /),
      expect.stringMatching(/^PORT: is 4011, the embedded sandbox's port too/),
    ]);
  });
});

describe('CXONE_CLIENT_ID and CXONE_CLIENT_SECRET', () => {
  const base = { CXONE_BASE_URL: 'https://api.example.test', API_TOKEN: 'a-long-token' };

  // A secret copied with its file's newline started the fleet, then failed every token request with
  // 401 invalid_client: refused at start instead, naming the variable but never echoing the secret.
  it('refuse a value copied with a trailing newline or padding, without printing a secret', () => {
    expect(
      problemsOf({ ...base, CXONE_CLIENT_ID: 'fleet ', CXONE_CLIENT_SECRET: 'hunter2-secret\n' }),
    ).toEqual([
      'CXONE_CLIENT_ID: must not start or end with spaces or line breaks (copied with a trailing newline?) (got "fleet ")',
      'CXONE_CLIENT_SECRET: must not start or end with spaces or line breaks (copied with a trailing newline?)',
    ]);
    expect(problemsOf({ ...base, CXONE_CLIENT_ID: 'fleet', CXONE_CLIENT_SECRET: 'a\u0000b' })).toEqual([
      'CXONE_CLIENT_SECRET: must not contain control characters',
    ]);
    expect(problemsOf({ ...base, CXONE_CLIENT_ID: '', CXONE_CLIENT_SECRET: 's' })).toContain(
      'CXONE_CLIENT_ID: must not be empty (got "")',
    );
  });

  it('take any other value as given, inner spaces and punctuation included', () => {
    const config = loadConfig({
      ...base,
      CXONE_CLIENT_ID: 'my client:1',
      CXONE_CLIENT_SECRET: 'p@ss w0rd/+=',
    });
    expect(config.cxone.clientId).toBe('my client:1');
    expect(config.cxone.clientSecret).toBe('p@ss w0rd/+=');
  });
});

describe('SANDBOX_ADMIN_TOKEN', () => {
  // An empty value is one problem: it is too short. It also matched "not printable ASCII", so the
  // operator read two lines for it.
  it('set to nothing is refused with one line, naming the length it needs', () => {
    expect(problemsOf({ SANDBOX_ADMIN_TOKEN: '' })).toEqual([
      'SANDBOX_ADMIN_TOKEN: must be at least 8 characters',
    ]);
    expect(problemsOf({ SANDBOX_ADMIN_TOKEN: 'has a space' })).toEqual([
      'SANDBOX_ADMIN_TOKEN: must be printable ASCII without spaces (it is sent in an HTTP header)',
    ]);
  });
});

describe('REDIS_URL', () => {
  // It said "must be a redis:// or rediss:// URL" of a redis:// URL, and hid the value (it may hold a
  // password), leaving the operator nothing to go on.
  it('that is redis:// but does not parse says so, without showing the value', () => {
    expect(problemsOf({ REDIS_URL: 'redis://:hunter2@cache:99999' })).toEqual([
      'REDIS_URL: is not a valid URL: check its host, its port (at most 65535) and any user:password@ part (got "(unparseable URL)")',
    ]);
    expect(problemsOf({ REDIS_URL: 'http://cache:6379' })).toEqual([
      'REDIS_URL: must be a redis:// or rediss:// URL (got "http://cache:6379")',
    ]);
  });

  // Compose's `REDIS_URL: ${REDIS_URL}` with the variable unset passes it on empty: the line read
  // (got "(unparseable URL)"), sending the operator to look for a malformed URL in a blank variable.
  it('set to nothing says it got nothing', () => {
    expect(problemsOf({ REDIS_URL: '' })).toEqual([
      'REDIS_URL: must be a redis:// or rediss:// URL (got "")',
    ]);
    // Blank but for a space (`REDIS_URL= ` in an env file) holds no URL, and no password to hide.
    expect(problemsOf({ REDIS_URL: ' ' })).toEqual([
      'REDIS_URL: must be a redis:// or rediss:// URL (got " ")',
    ]);
  });
});
