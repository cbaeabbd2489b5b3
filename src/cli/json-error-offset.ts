/**
 * Where a text stops being JSON. Node 20's JSON.parse names a position for most syntax errors, but
 * not for the two a hand-edited config meets most: a character where a value belongs (a comment, a
 * single-quoted string, `NaN`: "Unexpected token '/', … is not valid JSON") and a file that ends too
 * early ("Unexpected end of JSON input"). cxo promises the line and column of every one.
 */

const WHITESPACE = ' \t\n\r';
const ESCAPES = '"\\/bfnrtu';
const HEX = /^[0-9a-fA-F]{4}$/;
const LITERALS: Record<string, string> = { t: 'true', f: 'false', n: 'null' };

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Pure: the offset of the first character at which `text` stops being JSON — its length when the
 * text ends too early — or undefined when it is JSON. Iterative, so a deeply nested file that
 * JSON.parse reads is read here too.
 */
export function jsonErrorOffset(text: string): number | undefined {
  const open: string[] = [];
  let i = 0;
  let expect: 'value' | 'key' | 'after' = 'value';
  const skipWhitespace = (): void => {
    while (i < text.length && WHITESPACE.includes(text[i] ?? '')) i++;
  };
  /** Reads the string at i (a `"`); the offset of its first error, or undefined with i past it. */
  const readString = (): number | undefined => {
    for (i++; i < text.length; i++) {
      const c = text[i] ?? '';
      if (c === '"') {
        i++;
        return undefined;
      }
      if (c < ' ') return i;
      if (c === '\\') {
        const e = text[i + 1];
        if (e === undefined) return text.length;
        if (!ESCAPES.includes(e)) return i + 1;
        if (e === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!HEX.test(hex)) return hex.length < 4 && /^[0-9a-fA-F]*$/.test(hex) ? text.length : i + 2;
          i += 4;
        }
        i++;
      }
    }
    return text.length;
  };

  /** Reads the number at i; the offset of a digit it lacks, or undefined with i past it. */
  const readNumber = (): number | undefined => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (!skipDigits()) return i;
    if (text[i] === '.') {
      i++;
      if (!skipDigits()) return i;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!skipDigits()) return i;
    }
    return undefined;
  };
  /** Whether at least one digit was skipped. */
  const skipDigits = (): boolean => {
    const start = i;
    while (isDigit(text[i])) i++;
    return i > start;
  };

  for (;;) {
    skipWhitespace();
    if (expect === 'after') {
      const top = open[open.length - 1];
      if (top === undefined) return i < text.length ? i : undefined;
      const c = text[i];
      if (c === undefined) return text.length;
      if (c === ',') {
        i++;
        expect = top === '{' ? 'key' : 'value';
      } else if ((c === '}' && top === '{') || (c === ']' && top === '[')) {
        i++;
        open.pop();
      } else return i;
      continue;
    }
    const c = text[i];
    if (c === undefined) return text.length;
    if (expect === 'key') {
      if (c !== '"') return i;
      const bad = readString();
      if (bad !== undefined) return bad;
      skipWhitespace();
      if (i >= text.length) return text.length;
      if (text[i] !== ':') return i;
      i++;
      expect = 'value';
      continue;
    }
    if (c === '{' || c === '[') {
      open.push(c);
      i++;
      skipWhitespace();
      const close = c === '{' ? '}' : ']';
      if (text[i] === close) {
        i++;
        open.pop();
        expect = 'after';
      } else expect = c === '{' ? 'key' : 'value';
      continue;
    }
    if (c === '"') {
      const bad = readString();
      if (bad !== undefined) return bad;
    } else if (c === '-' || isDigit(text[i])) {
      const bad = readNumber();
      if (bad !== undefined) return bad;
    } else {
      const literal = LITERALS[c];
      if (literal === undefined) return i;
      for (let k = 0; k < literal.length; k++) {
        if (i + k >= text.length) return text.length;
        if (text[i + k] !== literal[k]) return i + k;
      }
      i += literal.length;
    }
    expect = 'after';
  }
}
