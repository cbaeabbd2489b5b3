/**
 * Parses an HTTP Retry-After header (RFC 9110 §10.2.3) into milliseconds from `nowMs`:
 * delta-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"). Returns undefined when
 * the header is absent or unusable, so the caller falls back to jittered backoff instead of guessing.
 * A date in the past means "now" (0); anything outside RFC 9110's grammar is unusable. Pure.
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
  // Anything else must be an HTTP-date. V8's Date.parse reads nearly anything as some date ("soon 5"
  // is May 2001), and a date in the past means "retry now": a garbled header would turn a 429 into an
  // immediate retry where no header at all gets the caller's backoff. So only RFC 9110's grammar is read.
  let at: number;
  if (GMT_DATE.test(text)) at = Date.parse(text);
  // Without a zone Date.parse would read it in this host's local time.
  else if (ASCTIME_DATE.test(text)) at = Date.parse(`${text} GMT`);
  else return undefined;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const CLOCK = '\\d\\d:\\d\\d:\\d\\d';
/** RFC 9110 §5.6.7: IMF-fixdate and the obsolete rfc850-date, both in GMT. */
const GMT_DATE = new RegExp(
  `^(?:${DAY}, \\d\\d ${MONTH} \\d{4}|${LONG_DAY}, \\d\\d-${MONTH}-\\d\\d) ${CLOCK} GMT$`,
  'i',
);
/** The obsolete asctime-date, which names no zone but means GMT. */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${CLOCK} \\d{4}$`, 'i');
