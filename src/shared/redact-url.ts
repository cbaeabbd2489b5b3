import { createHash } from 'node:crypto';

/**
 * A URL safe to print: any password (Redis URLs often carry one) replaced by `***`, and a user name
 * that comes without a password (`https://token@host`, where the name is the credential) too.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    else if (u.username) u.username = '***';
    return u.toString().replace(/\/$/, '');
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
