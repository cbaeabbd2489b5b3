import { describe, expect, it } from 'vitest';
import { loadConfig, weakApiTokenWarning } from '../../src/shared/config.js';

// The API checks every token it is sent (its failed-authentication limit slows no guesser down), so
// a short token of the operator's own is warned of at start-up; the sandbox's printed dev-token and
// roles without the API are not.
const config = (env: Record<string, string>) =>
  loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', ...env }, { servesApi: false });

const live = {
  CXONE_BASE_URL: 'https://api.example.com',
  CXONE_CLIENT_ID: 'client',
  CXONE_CLIENT_SECRET: 'secret',
};

describe('a short API_TOKEN', () => {
  it('is warned of on the roles that serve the API, naming its length and not its value', () => {
    const token = 'abcdefgh1234';
    for (const role of ['api', 'all']) {
      const warning = weakApiTokenWarning(role, config({ ...live, API_TOKEN: token }));
      expect(warning).toContain('API_TOKEN is 12 characters');
      expect(warning).toContain('openssl rand -hex 32');
      expect(warning).not.toContain(token);
    }
  });

  it('is not warned of at 32 characters, on worker and sandbox roles, or for the sandbox default', () => {
    expect(weakApiTokenWarning('api', config({ ...live, API_TOKEN: 'x'.repeat(32) }))).toBeUndefined();
    expect(weakApiTokenWarning('api', config({ ...live, API_TOKEN: 'x'.repeat(31) }))).toContain(
      '31 characters',
    );
    for (const role of ['worker', 'sandbox']) {
      expect(weakApiTokenWarning(role, config({ ...live, API_TOKEN: 'short-token' }))).toBeUndefined();
    }
    // Sandbox mode without API_TOKEN: the printed dev-token, kept on loopback (hostDefault).
    expect(weakApiTokenWarning('all', config({}))).toBeUndefined();
  });
});
