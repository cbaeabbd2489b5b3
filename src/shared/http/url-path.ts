/**
 * A request URL's path: everything before the query string or a fragment, whichever comes first, as
 * the router cuts it (find-my-way ends the path at the first `?` or `#`). Cut at `?` only, a
 * `/%761/campaigns/c-1#%zz` kept an undecodable tail the router never reads: the token check's
 * decoded reading failed on it and fell back to the raw text, which does not start with /v1, so the
 * 404/405 table answered what is served there to a caller without a token.
 */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  const fragment = url.indexOf('#');
  const end = query < 0 ? fragment : fragment < 0 ? query : Math.min(query, fragment);
  return end < 0 ? url : url.slice(0, end);
}

/**
 * The scheme and authority of an absolute-form request target (`GET http://host/v1/… HTTP/1.1`),
 * which the router routes by the path that follows.
 */
const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;

/**
 * The path the router routes a request target by: an absolute-form target's path (`/` when it has
 * none), else the path as sent; without the query or fragment either way. Read any other way, a
 * request the router would serve under another method, or one behind the token, looks like an
 * unknown path.
 */
export function routedPath(url: string): string {
  if (url.startsWith('/')) return pathOf(url);
  const rest = url.replace(ABSOLUTE_FORM, '');
  return rest.startsWith('/') ? pathOf(rest) : '/';
}

/** Percent-escapes decoded, or the text as given when they are not valid (as the router keeps it). */
export function decodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * A request URL's path with percent-escapes decoded segment by segment, an undecodable segment kept
 * as sent, as the router reads it: decoded whole, one bad escape anywhere (`/%761/campaigns/%zz`)
 * left the raw text, which does not start with /v1, as the only reading of a path the token must
 * guard.
 */
export function decodedPath(url: string): string {
  return pathOf(url).split('/').map(decodeOrKeep).join('/');
}
