import { describe, expect, it } from 'vitest';
import { HIDDEN_PART, hideDestinationIn } from '../../src/shared/webhooks/shown-destination.js';

/*
 * A receiver that refuses a delivery often quotes the token it refused as it received it: the query
 * value's raw text, not URLSearchParams' reading of it (which turns `+` into a space and decodes
 * `%2F`). Dead letters, the audit trail and the API keep the answer, so the raw value is hidden too.
 */
describe('QA: a query token quoted raw in a receiver answer', () => {
  it('hides a base64 token with + and / in it', () => {
    const url = 'https://hooks.example.com/in?source=cxo&token=Zm9v+YmFy/YmF6cXV4=';
    const shown = hideDestinationIn('invalid token Zm9v+YmFy/YmF6cXV4= for source cxo', url);
    expect(shown).toBe(`invalid token ${HIDDEN_PART} for source cxo`);
  });

  it('hides a percent-encoded token quoted as sent, and as decoded', () => {
    const url = 'https://hooks.example.com/in?token=abc%2Fdef%2Bghijklmnop';
    expect(hideDestinationIn('invalid token abc%2Fdef%2Bghijklmnop', url)).toBe(
      `invalid token ${HIDDEN_PART}`,
    );
    expect(hideDestinationIn('invalid token abc/def+ghijklmnop', url)).toBe(`invalid token ${HIDDEN_PART}`);
  });

  it('still leaves short values (ordinary words) alone', () => {
    const url = 'https://hooks.example.com/in?v=1&source=cxo&token=Zm9v+YmFy/YmF6cXV4=';
    expect(hideDestinationIn('source cxo v=1 refused', url)).toBe('source cxo v=1 refused');
  });
});
