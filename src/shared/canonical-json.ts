/**
 * Canonical JSON: object keys sorted at every depth, `undefined` members dropped (as JSON itself
 * drops them), no whitespace. The same logical value always serializes to the same bytes, whatever
 * order it was built in — so audit records hash the same in every process, and two requests that
 * differ only in key order are the same request for idempotency.
 *
 * The bytes are frozen: audit hashes already stored were taken over them. They are exactly
 * `JSON.stringify` of the value with JSON's own rules (toJSON, undefined, non-finite numbers), every
 * object rebuilt with its keys inserted in sorted order — which JavaScript then iterates with
 * array-index keys ("0", "7", "10") first in numeric order. This writes them in one pass, without the
 * stringify/parse/rebuild round trip that an audit append would otherwise pay per record.
 */
export function canonicalJson(value: unknown): string {
  return write(value ?? null, '') ?? 'null';
}

const MAX_ARRAY_INDEX = 4_294_967_294;
const startsWithDigit = (key: string) => {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57;
};
const isArrayIndex = (key: string) => /^(?:0|[1-9]\d*)$/.test(key) && Number(key) <= MAX_ARRAY_INDEX;

/** Keys in the order JavaScript iterates an object whose keys were inserted sorted. */
function orderedKeys(value: object): string[] {
  const sorted = Object.keys(value).sort();
  // Every array index starts with a digit, and such keys are rare in a record: most objects skip the
  // pattern test entirely.
  if (!sorted.some(startsWithDigit)) return sorted;
  const indices = sorted.filter(isArrayIndex);
  if (indices.length === 0) return sorted;
  indices.sort((a, b) => Number(a) - Number(b));
  return [...indices, ...sorted.filter((k) => !isArrayIndex(k))];
}

function write(input: unknown, key: string): string | undefined {
  let value = input;
  if (value !== null && (typeof value === 'object' || typeof value === 'bigint')) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') value = (toJSON as (k: string) => unknown).call(value, key);
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value); // throws, as JSON does
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => write(item, String(i)) ?? 'null').join(',')}]`;
  }
  const parts: string[] = [];
  for (const k of orderedKeys(value as object)) {
    // A rebuilt object cannot hold an own "__proto__" (the assignment sets the prototype instead).
    if (k === '__proto__') continue;
    const text = write((value as Record<string, unknown>)[k], k);
    if (text !== undefined) parts.push(`${JSON.stringify(k)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}
