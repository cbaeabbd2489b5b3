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
