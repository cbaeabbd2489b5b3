import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { labelUrlsIn, shownDestination } from '../../src/shared/webhooks/shown-destination.js';

/** The first 8 hex digits of the SHA-256 of the whole URL, as an operator computes them. */
const digest8 = (url: string): string => createHash('sha256').update(url).digest('hex').slice(0, 8);

describe('the webhook destination as the API shows it (pure)', () => {
  it('shows the origin and a digest of the whole URL, never its path or query', () => {
    const url = 'https://hooks.example.com:8443/services/T0/B0/s3cr3tpath?token=s3cr3tquery';
    const shown = shownDestination(url);
    expect(shown).toEqual({
      destination: `https://hooks.example.com:8443 (#${digest8(url)})`,
      pathOrQueryHidden: true,
    });
    expect(JSON.stringify(shown)).not.toMatch(/s3cr3t|token|services/);
  });

  it('says nothing is hidden only when the URL is its origin', () => {
    expect(shownDestination('https://hooks.example.com').pathOrQueryHidden).toBe(false);
    expect(shownDestination('https://hooks.example.com/').pathOrQueryHidden).toBe(false);
    expect(shownDestination('https://hooks.example.com/?t=1').pathOrQueryHidden).toBe(true);
    expect(shownDestination('https://hooks.example.com/#frag').pathOrQueryHidden).toBe(true);
    expect(shownDestination('https://hooks.example.com/hook').pathOrQueryHidden).toBe(true);
    // Unparseable (configuration refuses it): the label shows no origin, and all of it is hidden.
    expect(shownDestination('not a url')).toEqual({
      destination: `(unparseable URL) (#${digest8('not a url')})`,
      pathOrQueryHidden: true,
    });
  });

  it('replaces every URL a text quotes by its label, credentials, path and query gone', () => {
    const a = 'http://hook:hunter2@127.0.0.1:9/services/s3cr3tpath?token=s3cr3tquery';
    const b = 'https://other.example/x';
    expect(labelUrlsIn(`fetch failed for ${a}, then (${b}).`)).toBe(
      `fetch failed for http://127.0.0.1:9 (#${digest8(a)}), then (https://other.example (#${digest8(b)})).`,
    );
    expect(labelUrlsIn('ECONNREFUSED')).toBe('ECONNREFUSED');
  });
});
