import { describe, expect, it } from 'vitest';
import { gatewayErrorPage } from '../../src/sandbox/gateway-page.js';
import { errorFromResponse, isMarkup, pageExcerpt, parseBody } from '../../src/shared/cxone/response.js';
import { campaignStatsSchema } from '../../src/shared/cxone/wire.js';
import type { CxoneMalformedResponseError } from '../../src/shared/errors.js';

const ctx = { endpoint: 'GET /api/v2/campaigns/:id', campaignId: 'c-1', attempt: 2 };

describe('pageExcerpt: what an error keeps of a markup page', () => {
  it('keeps the title of a whole document, not its markup or styles', () => {
    expect(pageExcerpt(gatewayErrorPage(502))).toBe('502 Bad Gateway');
    expect(pageExcerpt('\uFEFF  <HTML><HEAD><TITLE>\n  504 Gateway\tTime-out\n</TITLE></HEAD></HTML>')).toBe(
      '504 Gateway Time-out',
    );
  });

  it('without a title, keeps the visible text: no scripts, styles, comments or tags', () => {
    const page =
      '<html><head><style>h1{color:red}</style><script>var token="x";</script></head>' +
      '<body><!-- upstream: 10.0.0.7 --><h1>Service Unavailable</h1><p>Try again &amp; again&nbsp;later.</p></body></html>';
    expect(pageExcerpt(page)).toBe('Service Unavailable Try again & again later.');
  });

  it('never yields markup, even from escaped or unclosed tags', () => {
    for (const page of [
      '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>',
      '<html><body><h1>Bad <b',
      '<html><script>never closed',
      '<html><!-- never closed',
    ]) {
      expect(pageExcerpt(page)).not.toMatch(/[<>]|&lt;|&gt;/);
    }
    expect(pageExcerpt('<html><script>never closed')).toBe('');
  });

  it('is bounded, and reads only the start of a huge page', () => {
    const long = `<html><body><p>${'word '.repeat(10_000)}</p></body></html>`;
    expect(pageExcerpt(long).length).toBeLessThanOrEqual(120);
    expect(pageExcerpt(long).endsWith('…')).toBe(true);
    const late = `<html><body>${' '.repeat(1_000_000)}<title>too late</title></body></html>`;
    expect(pageExcerpt(late)).toBe('');
  });

  it('scrubs credentials a page quotes', () => {
    expect(pageExcerpt('<html><title>refused Authorization: Bearer SECRET-1</title></html>')).toBe(
      'refused Authorization: Bearer [redacted]',
    );
    expect(pageExcerpt('<pre>client_secret=SECRET-2</pre>')).toBe('client_secret=[redacted]');
  });

  it('takes documents for markup, and messages for text', () => {
    expect(isMarkup('<!DOCTYPE html><html></html>')).toBe(true);
    expect(isMarkup('\n  <?xml version="1.0"?><error/>')).toBe(true);
    expect(isMarkup('upstream connect error or disconnect/reset before headers')).toBe(false);
  });
});

describe('errors carrying a markup page', () => {
  it('a 502 page: the message and body name its excerpt and size, nothing more', () => {
    const page = gatewayErrorPage(502);
    const err = errorFromResponse(
      { status: 502, headers: { 'content-type': 'text/html' }, body: page },
      ctx,
      0,
    );
    expect(err.message).toBe(
      'CXone answered 502 to GET /api/v2/campaigns/:id with a markup page: "502 Bad Gateway"',
    );
    expect(err.body).toBe(`markup page (${page.length} chars): 502 Bad Gateway`);
  });

  it('a 503 with an empty body says so; a JSON one adds nothing to the message', () => {
    const empty = errorFromResponse({ status: 503, headers: {}, body: '' }, ctx, 0);
    expect(empty.message).toBe('CXone answered 503 to GET /api/v2/campaigns/:id with an empty body');
    const json = errorFromResponse({ status: 503, headers: {}, body: { error: 'unavailable' } }, ctx, 0);
    expect(json.message).toBe('CXone answered 503 to GET /api/v2/campaigns/:id');
  });

  it('a 400 page (a gateway refusing the request) keeps only the excerpt in its message', () => {
    const err = errorFromResponse(
      {
        status: 400,
        headers: {},
        body: '<html><head><title>400 Bad Request</title><style>p{}</style></head></html>',
      },
      ctx,
      0,
    );
    expect(err.message).not.toMatch(/[<>]|style/);
    expect(err.message).toContain('400 Bad Request');
  });

  it('a 200 page (a captive portal) that fails the schema keeps only the excerpt', () => {
    let err: CxoneMalformedResponseError | undefined;
    try {
      parseBody(campaignStatsSchema, '<html><head><title>Sign in to the network</title></head></html>', ctx);
    } catch (e) {
      err = e as CxoneMalformedResponseError;
    }
    expect(err?.body).toBe('markup page (63 chars): Sign in to the network');
  });
});
