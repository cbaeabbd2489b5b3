/**
 * Parses an HTTP Retry-After header (RFC 9110 §10.2.3) into milliseconds from `nowMs`:
 * delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"). Returns undefined when
 * the header is absent or unusable, so the caller falls back to jittered backoff instead of guessing.
 * A date in the past means "now" (0). Pure.
 */
export function parseRetryAfter(
  value: string | readonly string[] | number | null | undefined,
  nowMs: number,
): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') {
    return Number.isFinite(value) && value >= 0 ? Math.ceil(value * 1000) : undefined;
  }
  const raw = typeof value === 'string' ? value : value[0];
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;

  // delta-seconds is 1*DIGIT; a fraction is tolerated because some gateways send one.
  if (/^\d+(\.\d+)?$/.test(text)) {
    const seconds = Number(text);
    return Number.isFinite(seconds) ? Math.ceil(seconds * 1000) : undefined;
  }
  // Anything else must be a date; a bare negative or garbage number is not one.
  if (/^[-+]?[\d.]+$/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
