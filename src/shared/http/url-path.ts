/** A request URL's path: everything before the query string. */
export function pathOf(url: string): string {
  return url.split('?', 1)[0] ?? url;
}

/**
 * The scheme and authority of an absolute-form request target (`GET http://host/v1/… HTTP/1.1`),
 * which the router routes by the path that follows.
 */
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;

/**
 * The path the router routes a request target by: an absolute-form target's path (`/` when it has
 * none), else the path as sent; without the query either way. Read any other way, a request the
 * router would serve under another method, or one behind the token, looks like an unknown path.
 */
export function routedPath(url: string): string {
  if (url.startsWith('/')) return pathOf(url);
  const rest = url.replace(ABSOLUTE_FORM, '');
  return rest.startsWith('/') ? pathOf(rest) : '/';
}
