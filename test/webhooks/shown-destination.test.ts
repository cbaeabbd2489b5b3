import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HIDDEN_PART,
  hideDestinationIn,
  labelUrlsIn,
  shownDestination,
} from '../../src/shared/webhooks/shown-destination.js';

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

describe('labelUrlsIn at the edges of a URL (pure)', () => {
  it("keeps an IPv6 host's closing bracket, and a balanced parenthesis, as the URL's", () => {
    const v6 = 'http://[::1]';
    expect(labelUrlsIn(`fetch failed for ${v6}`)).toBe(`fetch failed for http://[::1] (#${digest8(v6)})`);
    expect(labelUrlsIn(`connect ${v6}: refused`)).toBe(`connect http://[::1] (#${digest8(v6)}): refused`);
    const v6Path = 'http://[::1]:8080/hook?token=s3cr3t';
    expect(labelUrlsIn(`(see ${v6Path}).`)).toBe(`(see http://[::1]:8080 (#${digest8(v6Path)})).`);
    const parens = 'https://hooks.example/wiki/Foo_(bar)';
    expect(labelUrlsIn(`got ${parens} back`)).toBe(`got https://hooks.example (#${digest8(parens)}) back`);
    expect(labelUrlsIn(`(${parens})`)).toBe(`(https://hooks.example (#${digest8(parens)}))`);
  });

  it('labels a URL glued to a digit or an underscore before it, where a word boundary is missing', () => {
    for (const before of ['9', '_', 'id=', 'x_']) {
      const text = labelUrlsIn(`${before}https://hooks.example/services/s3cr3tpath`);
      expect(text).not.toContain('s3cr3t');
      expect(text).toContain('https://hooks.example (#');
    }
  });

  it('leaves the text around a URL as it was: a closing backtick or quote stays', () => {
    const url = 'https://hooks.example/s3cr3t';
    expect(labelUrlsIn(`\`${url}\` refused`)).toBe(`\`https://hooks.example (#${digest8(url)})\` refused`);
    expect(labelUrlsIn(`'${url}'`)).toBe(`'https://hooks.example (#${digest8(url)})'`);
    expect(labelUrlsIn('at 12:30 the port 443: no scheme://, no URL')).toBe(
      'at 12:30 the port 443: no scheme://, no URL',
    );
  });
});

describe("the destination in a receiver's answer (pure)", () => {
  const url = 'https://hooks.example/services/T0/B0/s3cr3t-path-0123?token=s3cr3t-query-4567&v=1';

  it('hides its path and query, quoted whole, apart, decoded or as a token alone; labels it quoted whole', () => {
    const answer =
      'Cannot POST /services/T0/B0/s3cr3t-path-0123?token=s3cr3t-query-4567&v=1; ' +
      `path /services/T0/B0/s3cr3t-path-0123, query token=s3cr3t-query-4567&v=1, url ${url}; ` +
      'unknown hook s3cr3t-path-0123 (token s3cr3t-query-4567) for services v=1';
    const shown = hideDestinationIn(answer, url);
    expect(shown).not.toMatch(/s3cr3t/);
    expect(shown).toBe(
      `Cannot POST ${HIDDEN_PART}; path ${HIDDEN_PART}, query ${HIDDEN_PART}, ` +
        `url https://hooks.example (#${digest8(url)}); ` +
        `unknown hook ${HIDDEN_PART} (token ${HIDDEN_PART}) for services v=1`,
    );
    const encoded = 'https://hooks.example/a%20b/s3cr3t%20path%200123';
    expect(hideDestinationIn('no hook at /a b/s3cr3t path 0123', encoded)).toBe(`no hook at ${HIDDEN_PART}`);
  });

  it('leaves an answer alone when the URL is its origin, or quotes none of it', () => {
    expect(hideDestinationIn('{"ok":false,"path":"/"}', 'https://hooks.example/')).toBe(
      '{"ok":false,"path":"/"}',
    );
    expect(hideDestinationIn('rate limited, try later', url)).toBe('rate limited, try later');
  });
});

describe('labelUrlsIn on a text labelled already (pure)', () => {
  it('leaves a label as it is, so labelling twice reads as once; a URL with more than its origin is labelled', () => {
    for (const text of [
      'request to http://hook:hunter2@127.0.0.1:9/services/s3cr3t?token=s3cr3t failed',
      'fetch failed for http://[::1]:8080/hook and https://hooks.example.',
      'no URL here',
    ]) {
      const once = labelUrlsIn(text);
      expect(labelUrlsIn(once)).toBe(once);
    }
    // Looks like a label, but has a path, or credentials: still labelled.
    const withPath = 'https://hooks.example/s3cr3t';
    expect(labelUrlsIn(`${withPath} (#0123abcd)`)).toBe(
      `https://hooks.example (#${digest8(withPath)}) (#0123abcd)`,
    );
    const withUser = 'https://tok3n@hooks.example';
    expect(labelUrlsIn(`${withUser} (#0123abcd)`)).not.toContain('tok3n');
  });
});
