/**
 * Canonical JSON: object keys sorted at every depth, `undefined` members dropped (as JSON itself
 * drops them), no whitespace. The same logical value always serializes to the same bytes, whatever
 * order it was built in — so audit records hash the same in every process, and two requests that
 * differ only in key order are the same request for idempotency.
 */
export function canonicalJson(value: unknown): string {
  // The JSON round trip applies toJSON (dates) and JSON's own rules for undefined and functions
  // before sorting, so the result is exactly what JSON.stringify would send, only ordered.
  return JSON.stringify(sortDeep(JSON.parse(JSON.stringify(value ?? null)) as unknown));
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = sortDeep((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}
