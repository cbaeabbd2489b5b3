import { describe, expect, it } from 'vitest';
import { bannerLines } from '../../src/process/banner.js';
import { loadConfig } from '../../src/shared/config.js';

describe('bannerLines for a worker', () => {
  // With METRICS_PORT=0 the port is picked at start: the banner is where the operator learns it.
  it('says where its METRICS_PORT serves metrics and probes, as bound', () => {
    // A worker serves no API, so it may bind every interface without API_TOKEN.
    const config = loadConfig({ HOST: '0.0.0.0', METRICS_PORT: '0' }, { servesApi: false });
    const lines = bannerLines({ role: 'worker', config, workers: ['launch'], metricsPort: 41234 });
    expect(lines).toContain('  Metrics        http://localhost:41234/metrics');
    expect(lines).toContain('  Health         http://localhost:41234/healthz, http://localhost:41234/readyz');
  });

  it('prints no metrics address without METRICS_PORT', () => {
    const lines = bannerLines({ role: 'worker', config: loadConfig({}), workers: ['launch'] });
    expect(lines.join('\n')).not.toMatch(/Metrics|Health/);
  });
});

describe('bannerLines: the Redis line', () => {
  // The fleet claim, Redis Cluster hash tags and every operator command depend on the prefix.
  it('names KEY_PREFIX', () => {
    const lines = bannerLines({ role: 'all', config: loadConfig({ KEY_PREFIX: '{cxo-eu}' }), apiPort: 3000 });
    expect(lines).toContain('  Redis          redis://127.0.0.1:6379  (keys under {cxo-eu})');
  });

  it('names the default prefix, and a private redis-server', () => {
    const lines = bannerLines({ role: 'worker', config: loadConfig({}), privateRedis: true });
    expect(lines).toContain(
      '  Redis          redis://127.0.0.1:6379  (keys under {cxo}; private redis-server, not persisted)',
    );
  });

  it('still redacts credentials in REDIS_URL', () => {
    const config = loadConfig({ REDIS_URL: 'redis://ops:s3cret@redis.internal:6380/2' });
    const line = bannerLines({ role: 'api', config, apiPort: 3000 }).find((l) => l.startsWith('  Redis'))!;
    expect(line).not.toContain('s3cret');
    expect(line).toMatch(/^ {2}Redis {10}redis:\/\/.*redis\.internal:6380\/2 {2}\(keys under \{cxo\}\)$/);
  });

  it('is not printed by the sandbox role, which uses no Redis', () => {
    const lines = bannerLines({ role: 'sandbox', config: loadConfig({}), sandboxUrl: 'http://0.0.0.0:4010' });
    expect(lines.join('\n')).not.toContain('Redis');
  });
});

describe('bannerLines: an exposed sandbox control surface', () => {
  // With API_TOKEN set the sandbox role binds every interface; its /__sandbox routes (faults, time
  // skip, reset) were then open to the network without a word at start.
  const exposed = { SANDBOX_PORT: '4010', HOST: '0.0.0.0', API_TOKEN: 'an-operator-chosen-token' };
  const warning = (lines: string[]) => lines.filter((l) => l.startsWith('  WARNING'));

  it('warns when other machines reach /__sandbox without SANDBOX_ADMIN_TOKEN', () => {
    const lines = bannerLines({
      role: 'sandbox',
      config: loadConfig(exposed),
      sandboxUrl: 'http://0.0.0.0:4010',
    });
    expect(warning(lines)).toHaveLength(1);
    expect(warning(lines)[0]).toMatch(
      /\/__sandbox control routes .* HOST=0\.0\.0\.0, with no token; set SANDBOX_ADMIN_TOKEN/,
    );
  });

  it('says nothing with an admin token, on loopback, or for the embedded sandbox', () => {
    const guarded = loadConfig({ ...exposed, SANDBOX_ADMIN_TOKEN: 'admin-token-123' });
    const local = loadConfig({ ...exposed, HOST: '127.0.0.1' });
    for (const config of [guarded, local]) {
      expect(warning(bannerLines({ role: 'sandbox', config, sandboxUrl: 'http://127.0.0.1:4010' }))).toEqual(
        [],
      );
    }
    const embedded = bannerLines({
      role: 'all',
      config: loadConfig(exposed),
      apiPort: 3000,
      sandboxUrl: 'http://127.0.0.1:4010',
      sandboxEmbedded: true,
    });
    expect(warning(embedded)).toEqual([]);
  });
});

describe('bannerLines: the addresses', () => {
  // HOST=::1 is a loopback HOST the API may bind without API_TOKEN; `http://::1:3000` is no URL.
  it('puts an IPv6 HOST in brackets, so every address printed is a URL', () => {
    const lines = bannerLines({ role: 'all', config: loadConfig({ HOST: '::1' }), apiPort: 3000 });
    expect(lines).toContain(
      '  API            http://[::1]:3000/v1  (e.g. POST http://[::1]:3000/v1/campaigns)',
    );
    expect(lines).toContain('  Health         http://[::1]:3000/healthz, http://[::1]:3000/readyz');
    for (const url of lines.join(' ').match(/http:\/\/\S+:3000\S*/g) ?? []) {
      expect(new URL(url.replace(/,$/, '')).hostname, url).toBe('[::1]');
    }
  });

  // WHATWG URL takes no zone at all; RFC 6874 writes one as `%25`, which curl takes.
  it("puts a worker's IPv6 HOST in brackets too, a zone's % escaped", () => {
    const config = loadConfig({ HOST: 'fe80::1%eth0', METRICS_PORT: '0' }, { servesApi: false });
    const lines = bannerLines({ role: 'worker', config, workers: ['launch'], metricsPort: 41234 });
    expect(lines).toContain('  Metrics        http://[fe80::1%25eth0]:41234/metrics');
  });

  it('shows a wildcard HOST as localhost and leaves names and IPv4 addresses as they are', () => {
    const wildcard = loadConfig({ HOST: '::', API_TOKEN: 'a-token-of-the-operator-own-1234567' });
    expect(bannerLines({ role: 'api', config: wildcard, apiPort: 3000 })).toContain(
      '  Metrics        http://localhost:3000/metrics',
    );
    for (const host of ['127.0.0.1', 'localhost']) {
      expect(bannerLines({ role: 'api', config: loadConfig({ HOST: host }), apiPort: 3000 })).toContain(
        `  Metrics        http://${host}:3000/metrics`,
      );
    }
  });
});
