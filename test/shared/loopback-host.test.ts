import { describe, expect, it } from 'vitest';
import { openControlSurfaceWarning } from '../../src/sandbox/control-exposure.js';
import { fleetIdentity } from '../../src/shared/fleet-identity.js';
import { isLoopbackHost } from '../../src/shared/loopback-host.js';
import { problemsOf } from '../config/problems.js';

/**
 * One answer for HOST (the API's refusal without API_TOKEN, the sandbox's open-control warning) and
 * for a URL's hostname (the fleet identity of an explicit CXONE_BASE_URL). Each row: the host as
 * written, and the hostname Node's URL makes of it where that differs.
 */
const EDGES: { host: string; loopback: boolean; why: string }[] = [
  { host: '127.0.0.1', loopback: true, why: 'the loopback address' },
  { host: '127.8.9.10', loopback: true, why: 'all of 127.0.0.0/8 is loopback' },
  { host: '127.255.255.255', loopback: true, why: 'the top of 127.0.0.0/8' },
  { host: '126.255.255.255', loopback: false, why: 'below 127.0.0.0/8' },
  { host: '128.0.0.1', loopback: false, why: 'above 127.0.0.0/8' },
  { host: '::1', loopback: true, why: 'the IPv6 loopback address' },
  { host: '0:0:0:0:0:0:0:1', loopback: true, why: '::1 written out' },
  { host: '[::1]', loopback: true, why: "URL's hostname of http://[::1]:1" },
  { host: '[0:0:0:0:0:0:0:1]', loopback: true, why: '::1 written out, bracketed' },
  { host: '::ffff:127.0.0.1', loopback: true, why: 'IPv4-mapped loopback' },
  { host: '[::ffff:7f00:1]', loopback: true, why: "URL's hostname of http://[::ffff:127.0.0.1]/" },
  { host: '::ffff:10.0.0.1', loopback: false, why: 'IPv4-mapped, another network' },
  { host: '::127.0.0.1', loopback: false, why: 'IPv4-compatible (deprecated), not loopback' },
  { host: '[::2]', loopback: false, why: 'another IPv6 address' },
  { host: '[127.0.0.1]', loopback: false, why: 'brackets hold an IPv6 address only' },
  { host: '[::11', loopback: false, why: 'an opening bracket without its closing one is no host' },
  { host: '::', loopback: false, why: 'every interface' },
  { host: '0.0.0.0', loopback: false, why: 'every interface' },
  { host: 'fe80::1%eth0', loopback: false, why: 'link-local with a zone' },
  { host: 'localhost', loopback: true, why: 'the one name every resolver keeps for loopback' },
  { host: 'LocalHost', loopback: true, why: 'names are case-insensitive' },
  { host: 'localhost.', loopback: false, why: 'resolver-dependent (not in a hosts file as such)' },
  { host: 'a.localhost', loopback: false, why: 'RFC 6761 asks, but glibc sends it to DNS' },
  { host: 'ip6-localhost', loopback: false, why: "a hosts-file alias (Debian, Docker), DNS's elsewhere" },
  { host: 'ip6-loopback', loopback: false, why: "a hosts-file alias (Debian, Docker), DNS's elsewhere" },
  { host: 'localhost.example', loopback: false, why: 'a name in a real domain' },
  { host: '10.0.0.1', loopback: false, why: 'a private network' },
  { host: 'api.example', loopback: false, why: 'a name' },
];

describe('isLoopbackHost', () => {
  it.each(EDGES)('$host → $loopback ($why)', ({ host, loopback }) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it("reads a URL's hostname as Node writes it", () => {
    expect(new URL('http://[::1]:1').hostname).toBe('[::1]');
    expect(new URL('http://[::ffff:127.0.0.1]:1').hostname).toBe('[::ffff:7f00:1]');
    expect(new URL('http://127.1:1').hostname).toBe('127.0.0.1');
    for (const url of [
      'http://[::1]:1',
      'http://[::ffff:127.0.0.1]:1',
      'http://127.1:1',
      'http://LOCALHOST:1',
    ])
      expect(isLoopbackHost(new URL(url).hostname), url).toBe(true);
  });
});

describe('its callers agree', () => {
  const explicit = {
    cxoneClientId: 'tenant-a',
    embeddedSandbox: false,
    sandboxMode: false,
    hostname: 'pod-1',
  };

  it('fleet identity: an explicit CXONE_BASE_URL on loopback, in any spelling, is offered its former fingerprint', () => {
    // As are the names earlier releases also took for loopback: which fingerprints they wrote is history,
    // not a safety question (fleet-claim.test.ts).
    const formerlyTaken = new Set(['a.localhost', 'ip6-localhost', 'ip6-loopback']);
    for (const { host, loopback } of EDGES) {
      if (host.includes('%') || host === '::' || host === '0.0.0.0') continue;
      const bare = host.startsWith('[') || !host.includes(':') ? host : `[${host}]`;
      if (!URL.canParse(`http://${bare}:15001`)) continue;
      const id = fleetIdentity({ ...explicit, cxoneBaseUrl: `http://${bare}:15001` });
      expect(id.isFormerFingerprint !== undefined, host).toBe(loopback || formerlyTaken.has(host));
    }
  });

  it('config: the API refuses every HOST the table calls reachable without API_TOKEN, and takes every loopback one', () => {
    for (const { host, loopback } of EDGES) {
      // HOST is an address or an RFC 1123 name: brackets and a trailing dot are refused on their own.
      if (host.startsWith('[') || host.endsWith('.')) continue;
      const problems = problemsOf({ HOST: host });
      expect(problems.length === 0, `${host}: ${problems.join('; ')}`).toBe(loopback);
    }
  });

  it('sandbox: warns of open control routes on every HOST but a loopback one', () => {
    for (const { host, loopback } of EDGES) {
      const warning = openControlSurfaceWarning({ host, sandbox: { adminToken: undefined } as never });
      expect(warning === undefined, host).toBe(loopback);
    }
  });
});
