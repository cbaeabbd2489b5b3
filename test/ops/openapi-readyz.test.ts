import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../src/producers/openapi.js';

/**
 * The OpenAPI document's /readyz entry is what an SRE reads in /docs when wiring the readiness probe:
 * it must name every condition the route checks (src/producers/routes/ops.ts, docs/operations.md:
 * Redis, a CXone token, CXone answering and accepting connections, no other fleet on KEY_PREFIX), not
 * only some of them — a 503 with `checks.cxone` failing on a refused connection while the summary
 * promised "200 when a token can be had" reads as a bug in the probe.
 */
describe('OpenAPI /readyz', () => {
  const doc = buildOpenApiDocument() as {
    paths: Record<string, { get: { summary: string; responses: Record<string, { description: string }> } }>;
  };
  const readyz = doc.paths['/readyz']!.get;
  const summary = readyz.summary;

  it.each([
    ['Redis', /redis answers/i],
    ['a CXone token', /cxone token/i],
    ['CXone answering its calls and accepting connections', /cxone (is )?answer|accepts? connections/i],
    ['no other fleet on KEY_PREFIX', /fleet/i],
  ])('its summary names %s', (_what, pattern) => {
    expect(summary).toMatch(pattern);
  });

  it('its 503 names the `checks` field that says which failed', () => {
    expect(readyz.responses['503']!.description).toMatch(/`checks`/);
  });
});
