import { createHash } from 'node:crypto';

/**
 * A query parameter name that reads as a credential: ioredis takes `?password=` (and
 * `sentinelPassword`) from REDIS_URL, and gateways `?token=`, `?api_key=`, `?auth=`, `?secret=`.
 */
const CREDENTIAL_NAME = /pass|pwd|secret|token|key|auth|cred|sig/i;

/**
 * Pure: a parameter name as a server would read it, each valid `%XX` decoded on its own (a malformed
 * one elsewhere, `%ZZ`, made decodeURIComponent throw and the name go unmatched: `p%61ssword%ZZ`).
 */
function decodedName(raw: string): string {
  return raw
    .replace(/\+/g, ' ')
    .replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Pure: `a=1&password=x` with the value of each credential-looking parameter replaced by `***`, the
 * rest kept as written (re-encoding it would show a URL the operator never typed). `;` separates as
 * `&` does: servers that split on it (and receivers behind them) read `a=1;token=x` as a token.
 */
function redactParams(params: string): string {
  return params
    .split(/([&;])/)
    .map((pair, i) => {
      const eq = pair.indexOf('=');
      if (i % 2 === 1 || eq < 0 || !CREDENTIAL_NAME.test(decodedName(pair.slice(0, eq)))) return pair;
      return `${pair.slice(0, eq)}=***`;
    })
    .join('');
}

/**
 * A URL safe to print: any password (Redis URLs often carry one) replaced by `***`, a user name that
 * comes without a password (`https://token@host`, where the name is the credential) too, and the value
 * of every credential-looking query (or fragment) parameter: ioredis reads `?password=` as the password.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    else if (u.username) u.username = '***';
    const search = u.search.slice(1);
    const hash = u.hash.slice(1);
    u.search = '';
    u.hash = '';
    return (
      u.toString().replace(/\/$/, '') +
      (search ? `?${redactParams(search)}` : '') +
      (hash ? `#${redactParams(hash)}` : '')
    );
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * `scheme://user:pass@host` anywhere in a text (an error message quoting a URL), the user information
 * replaced by `***`.
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi, '$1***@');
}

/**
 * A URL as an error message quotes it: up to its `?` or `#` only, then `…`, since what follows may be
 * a secret (`?access_token=…`, ioredis's `?password=…`), and that part through `redact` for
 * credentials. For a value a check refused, which the operator has in front of them anyway.
 */
export function quotedUpToQuery(url: string, redact: (url: string) => string = redactUrl): string {
  const at = url.search(/[?#]/);
  return at < 0 ? redact(url) : `${redact(url.slice(0, at))}${url.charAt(at)}…`;
}

/**
 * A URL whose path and query may hold a token (WEBHOOK_URL: Slack's `/services/T…/B…/<secret>`,
 * `?token=…`), shown as the webhook workers label it: scheme and host, `/…` when anything followed
 * them, any user information as `***`, and the first 8 hex digits of the SHA-256 of the whole URL, so
 * that an operator can still tell which value it is (`printf %s "$WEBHOOK_URL" | sha256sum`). It
 * also serves URLs that a check refused (a wrong scheme, credentials), which the label must not quote
 * whole either.
 */
export function redactUrlPathAndQuery(url: string): string {
  const digest = createHash('sha256').update(url).digest('hex').slice(0, 8);
  let shown = '(unparseable URL)';
  try {
    const u = new URL(url);
    const more = (u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '';
    shown = `${u.protocol}//${u.username || u.password ? '***@' : ''}${u.host}${more ? '/…' : ''}`;
  } catch {
    // Nothing of it is shown: where the host ends is not known.
  }
  return `${shown} (#${digest})`;
}
