import type { FastifyInstance } from 'fastify';
import { ApiError, ValidationFailedError } from './errors.js';

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

interface Frame {
  /** Keys seen so far (objects only). */
  keys?: Set<string>;
  /** The member being read: its key, or its index in an array. */
  member: string | number;
}

/**
 * The dotted path of the first object key given twice in a JSON text, or undefined when there is
 * none (or the text is not JSON: the parser that runs next reports that). Keys are compared after
 * their escapes are decoded, so `"a"` and `"\u0061"` are the same key, as JSON.parse sees them.
 */
export function duplicateKeyPath(text: string): string | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push({ keys: new Set(), member: '' });
    else if (c === '[') stack.push({ member: 0 });
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top && !top.keys && typeof top.member === 'number') top.member++;
    } else if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      let j = i + 1;
      while (j < text.length && WHITESPACE.has(text[j] ?? '')) j++;
      const top = stack[stack.length - 1];
      // A string followed by a colon is a key in any JSON text the parser will accept.
      if (text[j] !== ':' || !top?.keys) continue;
      let key: string;
      try {
        key = JSON.parse(text.slice(start, i + 1)) as string;
      } catch {
        return undefined;
      }
      top.member = key;
      if (top.keys.has(key)) return stack.map((f) => String(f.member)).join('.');
      top.keys.add(key);
    }
  }
  return undefined;
}

/**
 * JSON bodies as Fastify parses them (prototype-poisoning keys refused), also refused when they are
 * not UTF-8 or when a key appears twice in one object. JSON.parse keeps the last of the two silently,
 * so `{"callRate": 0.2, …, "callRate": 1}` would be launched at a rate the sender may not have meant,
 * and a proxy or WAF reading the first one would have checked a different request than this API runs.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // Fatal: a lenient decode turns the bytes of a Latin-1 "Café" into "Caf\uFFFD", which would be
  // launched on CXone and audited as such. The BOM is kept, so JSON.parse refuses it as it always has.
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(typeof body === 'string' ? Buffer.from(body) : body);
    } catch {
      done(
        new ApiError(
          400,
          'invalid_json',
          'the request body is not UTF-8; JSON is sent as UTF-8 (RFC 8259), whatever charset the content type names',
        ),
        undefined,
      );
      return;
    }
    const path = duplicateKeyPath(text);
    if (path !== undefined) {
      done(
        new ValidationFailedError([
          { path, message: 'given more than once in the same object; send each field once' },
        ]),
        undefined,
      );
      return;
    }
    parseJson(request, text, done);
  });
}
