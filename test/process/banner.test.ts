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
