import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';
import { problemsOf } from './problems.js';

const REAL_TENANT = {
  CXONE_CLIENT_ID: 'client-id',
  CXONE_CLIENT_SECRET: 'client-secret',
  API_TOKEN: 'an-operator-token',
};

describe('CXONE_BASE_URL', () => {
  it('takes a base with a path, which every call is appended to', () => {
    const config = loadConfig({
      ...REAL_TENANT,
      CXONE_BASE_URL: 'https://api-c32.incontact.com/inContactAPI',
    });
    expect(config.cxone.baseUrl).toBe('https://api-c32.incontact.com/inContactAPI');
  });

  // The client appends /api/v2/... to the base: after a query or a fragment every call would go to
  // the base's own path (404s at run time), so the mistake is named at start instead.
  it.each([
    'https://api.example.test/?tenant=1',
    'https://api.example.test/#v2',
    'https://api.example.test?',
  ])('refuses %s, whose query or fragment every call would be swallowed by', (url) => {
    const problems = problemsOf({ ...REAL_TENANT, CXONE_BASE_URL: url });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^CXONE_BASE_URL: must not have a query or fragment/);
  });

  // The refusal quoted the URL whole, query and all: a token pasted into it (`?access_token=…`) went
  // to stderr and the container's log, as API_URL's usage error no longer does (src/cli/args.ts).
  it('refuses a query without quoting it, where a token may be', () => {
    const problems = problemsOf({
      ...REAL_TENANT,
      CXONE_BASE_URL: 'https://api.example.test/inContactAPI?access_token=s3cr3t-t0ken',
    });
    expect(problems).toEqual([
      'CXONE_BASE_URL: must not have a query or fragment (? or #): every call path is appended to it ' +
        '(e.g. https://api-c32.incontact.com/inContactAPI) (got "https://api.example.test/inContactAPI?…")',
    ]);
  });

  // zod's own message was a bare "Invalid URL" beside "(unparseable URL)": the operator who wrote the
  // host without its scheme (the usual slip) was told neither what was wrong nor what to write.
  it.each(['api-c32.incontact.com/inContactAPI', 'ftp://api.example.test', 'api.example.test:443'])(
    'says what %s lacks: an http:// or https:// scheme',
    (url) => {
      const problems = problemsOf({ ...REAL_TENANT, CXONE_BASE_URL: url });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^CXONE_BASE_URL: must be an http:\/\/ or https:\/\/ URL, scheme included/);
    },
  );

  it('says the same of a WEBHOOK_URL without its scheme', () => {
    const problems = problemsOf({
      WEBHOOK_URL: 'hooks.example.test/cxone',
      WEBHOOK_SECRET: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^WEBHOOK_URL: must be an http:\/\/ or https:\/\/ URL, scheme included/);
  });

  // OAuth client credentials authenticate the orchestrator; a password in the URL would be printed
  // in the start-up banner, and calls do not send it.
  it('refuses a user name or password in the URL, naming it and never echoing the password', () => {
    const problems = problemsOf({
      ...REAL_TENANT,
      CXONE_BASE_URL: 'https://admin:hunter22@api.example.test',
    });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^CXONE_BASE_URL: must not carry a user name or password/);
    expect(problems[0]).toContain('CXONE_CLIENT_ID');
    expect(problems.join('\n')).not.toContain('hunter22');
  });
});
