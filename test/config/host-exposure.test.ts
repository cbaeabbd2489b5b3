import { describe, expect, it } from 'vitest';
import { loadConfig, weakApiTokenWarning } from '../../src/shared/config.js';
import { isLoopbackHost } from '../../src/shared/loopback-host.js';
import { problemsOf } from './problems.js';

/**
 * In sandbox mode API_TOKEN defaults to the `dev-token` the README prints, and HOST defaulted to every
 * interface: an `npm start` on a laptop let anyone on its network launch, stop and read campaigns.
 */
describe('HOST without API_TOKEN', () => {
  it('defaults to loopback while API_TOKEN is unset (or empty), and to every interface once it is set', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ API_TOKEN: '' }).host).toBe('127.0.0.1');
    expect(loadConfig({ API_TOKEN: 'an-operator-chosen-token' }).host).toBe('0.0.0.0');
    const real = {
      CXONE_BASE_URL: 'https://api.example.test',
      CXONE_CLIENT_ID: 'id',
      CXONE_CLIENT_SECRET: 'secret',
      API_TOKEN: 'an-operator-chosen-token',
    };
    expect(loadConfig(real).host).toBe('0.0.0.0');
    // Explicit values are kept as given.
    expect(loadConfig({ ...real, HOST: '10.0.0.5' }).host).toBe('10.0.0.5');
    expect(loadConfig({ HOST: '127.0.0.1' }).host).toBe('127.0.0.1');
  });

  it('refuses a HOST other machines reach, in one line naming HOST and API_TOKEN and what to set', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'fe80::1', '::ffff:10.0.0.1', 'my-laptop.lan']) {
      const problems = problemsOf({ HOST: host });
      expect(problems, host).toEqual([
        `HOST: is ${host}, which other machines reach, while API_TOKEN is unset: the API would take the ` +
          "sandbox's published token (dev-token) from anyone on the network and let them launch, stop and " +
          'read campaigns; set API_TOKEN to a secret of your own (e.g. $(openssl rand -hex 32)), or unset ' +
          'HOST to listen on 127.0.0.1 only',
      ]);
      // Set to nothing, compose's way of passing an unset one, API_TOKEN is still unset.
      expect(problemsOf({ HOST: host, API_TOKEN: '' }), host).toEqual(problems);
      expect(problemsOf({ HOST: host, API_TOKEN: 'an-operator-chosen-token' }), host).toEqual([]);
    }
  });

  it('takes a loopback HOST without API_TOKEN, in any spelling', () => {
    for (const host of [
      '127.0.0.1',
      '127.8.9.10',
      '::1',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
      'localhost',
      'LocalHost',
    ]) {
      expect(problemsOf({ HOST: host }), host).toEqual([]);
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of ['0.0.0.0', '::', '128.0.0.1', '126.255.255.255', 'localhost.example', 'fe80::1%eth0'])
      expect(isLoopbackHost(host), host).toBe(false);
  });

  it('is listed with every other problem at once, and not on top of one that already says it', () => {
    expect(problemsOf({ HOST: '0.0.0.0', PORT: 'abc' })).toEqual([
      'PORT: must be a decimal number (got "abc")',
      expect.stringMatching(/^HOST: is 0\.0\.0\.0, which other machines reach, while API_TOKEN is unset/),
    ]);
    // A HOST refused on its own, an API_TOKEN set but refused, or CXONE_BASE_URL set (API_TOKEN is
    // then required, and named so): one line each, no second one about the sandbox token.
    expect(problemsOf({ HOST: 'not..a..host' })).toEqual([
      expect.stringMatching(/^HOST: must be an IP address/),
    ]);
    expect(problemsOf({ HOST: '0.0.0.0', API_TOKEN: 'short' })).toEqual([
      'API_TOKEN: must be at least 8 characters',
    ]);
    expect(
      problemsOf({
        HOST: '0.0.0.0',
        CXONE_BASE_URL: 'https://api.example.test',
        CXONE_CLIENT_ID: 'id',
        CXONE_CLIENT_SECRET: 's',
      }),
    ).toEqual(['API_TOKEN: is required when CXONE_BASE_URL is set (it has no sandbox default)']);
  });

  // The README's published token set by hand (a copied smoke command, a compose .env) is as public as
  // the token taken when API_TOKEN is unset: it listened on every interface, and a real CXone too.
  it('treats API_TOKEN set to the published dev-token as unset: loopback by default, a reachable HOST refused', () => {
    expect(loadConfig({ API_TOKEN: 'dev-token' }).host).toBe('127.0.0.1');
    // The banner prints it as the sandbox default it is, with no "short token" warning on top.
    expect(loadConfig({ API_TOKEN: 'dev-token' }).apiTokenIsDefault).toBe(true);
    expect(weakApiTokenWarning('all', loadConfig({ API_TOKEN: 'dev-token' }))).toBeUndefined();
    expect(loadConfig({ API_TOKEN: 'dev-token', HOST: 'localhost' }).host).toBe('localhost');
    const real = {
      CXONE_BASE_URL: 'https://api.example.test',
      CXONE_CLIENT_ID: 'id',
      CXONE_CLIENT_SECRET: 'secret',
      API_TOKEN: 'dev-token',
    };
    expect(loadConfig(real).host).toBe('127.0.0.1');
    for (const env of [
      { API_TOKEN: 'dev-token', HOST: '0.0.0.0' },
      { ...real, HOST: '10.0.0.5' },
    ]) {
      expect(problemsOf(env), env.HOST).toEqual([
        `HOST: is ${env.HOST}, which other machines reach, while API_TOKEN is the sandbox's published ` +
          'token (dev-token), printed in the README: anyone on the network could launch, stop and read ' +
          'campaigns; set API_TOKEN to a secret of your own (e.g. $(openssl rand -hex 32)), or unset HOST ' +
          'to listen on 127.0.0.1 only',
      ]);
    }
    // A token that merely contains it is the operator's own.
    expect(loadConfig({ API_TOKEN: 'dev-token-2' }).host).toBe('0.0.0.0');
    expect(loadConfig({ API_TOKEN: 'dev-token', HOST: '0.0.0.0' }, { servesApi: false }).host).toBe(
      '0.0.0.0',
    );
  });

  // The `worker` role serves only metrics and probes on HOST, the `sandbox` role only the sandbox (the
  // image sets HOST=0.0.0.0 for compose's sandbox container, which has no API_TOKEN): neither takes
  // the API token.
  it('lets a process that serves no API bind any HOST', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }, { servesApi: false }).host).toBe('0.0.0.0');
    expect(() => loadConfig({ HOST: '0.0.0.0' }, { servesApi: true })).toThrow(
      /^invalid configuration:\n {2}- HOST: /,
    );
  });
});
