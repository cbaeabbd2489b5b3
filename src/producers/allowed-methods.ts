/**
 * Which methods the API serves on a concrete path, from the routes it registered: a request whose
 * path exists under another method gets 405 with `Allow`, not a 404 that sends the caller looking
 * for a typo in the URL. Pure; the app collects the routes as they are registered.
 */

export interface RegisteredRoute {
  method: string;
  url: string;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A Fastify route URL as a matcher: `:param` matches one segment, `*` the rest of the path. */
export function routeMatcher(url: string): RegExp {
  const segments = url.split('/').map((segment) => {
    if (segment === '*') return '.*';
    if (segment.startsWith(':')) return '[^/]+';
    return escapeRegExp(segment);
  });
  return new RegExp(`^${segments.join('/')}/?$`);
}

export class RouteTable {
  private readonly routes: { method: string; matcher: RegExp }[] = [];

  add(route: RegisteredRoute): void {
    this.routes.push({ method: route.method.toUpperCase(), matcher: routeMatcher(route.url) });
  }

  /** The methods served on `path` (already decoded, no query string), sorted; empty when none. */
  allowedMethods(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) if (route.matcher.test(path)) methods.add(route.method);
    return [...methods].sort();
  }
}
