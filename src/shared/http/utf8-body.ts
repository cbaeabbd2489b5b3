/**
 * JSON is UTF-8 (RFC 8259 §8.1), whatever charset a content type names. Fastify decodes bodies
 * leniently, so the Latin-1 bytes of "Café" would become "Caf\uFFFD" and be launched, stored and
 * audited as such; both HTTP surfaces (the API and the sandbox) decode strictly instead. A leading
 * BOM is kept here; Fastify's JSON parser (secure-json-parse) then drops it, as RFC 8259 §8.1 allows,
 * so a body that starts with one is read as the same JSON (and `cxo` drops it from a file alike).
 */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body's text, or undefined when its bytes are not UTF-8. */
export function strictUtf8(body: string | Buffer): string | undefined {
  try {
    return utf8.decode(typeof body === 'string' ? Buffer.from(body) : body);
  } catch {
    return undefined;
  }
}

export const NOT_UTF8_MESSAGE =
  'the request body is not valid UTF-8; JSON is sent as UTF-8 (RFC 8259 §8.1), whatever charset the content type names';
