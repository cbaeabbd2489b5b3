/**
 * Keys given twice in one object of a JSON text. JSON.parse keeps the last of the two silently, so
 * `{"callRate": 0.2, …, "callRate": 1}` reads as something its author may not have meant: the API
 * refuses such bodies (producers/json-body.ts), and `cxo` refuses such files before sending them.
 */

/** The issue message for a key given twice, the same from the API and from `cxo`. */
export const DUPLICATE_KEY_MESSAGE = 'given more than once in the same object; send each field once';

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

interface Frame {
  /** Keys seen so far (objects only). */
  keys?: Set<string>;
  /** The member being read: its key, or its index in an array. */
  member: string | number;
}

/**
 * The dotted path of the first object key given twice in a JSON text, or undefined when there is
 * none (or the text is not JSON: the parser that runs next reports that).
 */
export function duplicateKeyPath(text: string): string | undefined {
  return duplicateKeyPaths(text)[0];
}

/**
 * The dotted paths of the object keys given twice in a JSON text, each once, in the order they
 * repeat; none when the text is not JSON (the parser that runs next reports that). Keys are compared
 * after their escapes are decoded, so `"a"` and `"\u0061"` are the same key, as JSON.parse sees them.
 */
export function duplicateKeyPaths(text: string): string[] {
  const stack: Frame[] = [];
  const found = new Set<string>();
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
        return [];
      }
      top.member = key;
      if (top.keys.has(key)) found.add(stack.map((f) => String(f.member)).join('.'));
      top.keys.add(key);
    }
  }
  return [...found];
}
