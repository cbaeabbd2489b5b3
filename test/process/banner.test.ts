import { describe, expect, it } from 'vitest';
import { bannerLines } from '../../src/process/banner.js';
import { loadConfig } from '../../src/shared/config.js';

describe('bannerLines for a worker', () => {
  // With METRICS_PORT=0 the port is picked at start: the banner is where the operator learns it.
  it('says where its METRICS_PORT serves metrics and probes, as bound', () => {
    const config = loadConfig({ HOST: '0.0.0.0', METRICS_PORT: '0' });
    const lines = bannerLines({ role: 'worker', config, workers: ['launch'], metricsPort: 41234 });
    expect(lines).toContain('  Metrics        http://localhost:41234/metrics');
    expect(lines).toContain('  Health         http://localhost:41234/healthz, http://localhost:41234/readyz');
  });

  it('prints no metrics address without METRICS_PORT', () => {
    const lines = bannerLines({ role: 'worker', config: loadConfig({}), workers: ['launch'] });
    expect(lines.join('\n')).not.toMatch(/Metrics|Health/);
  });
});
