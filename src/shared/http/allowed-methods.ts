import type { FastifyInstance } from 'fastify';
import { pathOf, trimTrailingSlashes } from './url-path.js';

/**
 * Which methods a server serves on a concrete path, from the routes it registered: a request whose
 * path exists under another method gets 405 with `Allow`, not a 404 that sends the caller looking
 * for a typo in the URL. RouteTable is pure; `answerUnmatched` wires it into a Fastify app.
 */

export interface RegisteredRoute {
  method: string;
  url: string;
}

/** One route URL's segments: a literal, a parameter (`:id`, one segment) or the rest (`*`). */
type Segment = { kind: 'literal'; text: string } | { kind: 'param' } | { kind: 'rest' };

function segmentsOf(url: string): Segment[] {
  return trimTrailingSlashes(url)
    .split('/')
    .map((part): Segment => {
      if (part === '*') return { kind: 'rest' };
      if (part.startsWith(':')) return { kind: 'param' };
      return { kind: 'literal', text: part };
    });
}

const decodeSegment = (part: string) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
};

/**
 * A request path (raw, without the query) as routes are matched against it: segment by segment, each
 * decoded on its own, as the router does: `a%2Fb` is one parameter, not two segments. Done once per
 * request, not once per route: the path is the client's, up to the 16 KiB a request line may hold.
 */
function requestSegments(rawPath: string): string[] {
  return trimTrailingSlashes(rawPath).split('/').map(decodeSegment);
}

/** Whether a request path's segments (requestSegments) match a route's. */
function matches(route: readonly Segment[], parts: readonly string[]): boolean {
  for (let i = 0; i < route.length; i++) {
    const segment = route[i] as Segment;
    if (segment.kind === 'rest') return true;
    const part = parts[i];
    if (part === undefined) return false;
    if (segment.kind === 'param' ? part === '' : part !== segment.text) return false;
  }
  return parts.length === route.length;
}

export class RouteTable {
  private readonly routes: { method: string; segments: Segment[] }[] = [];

  add(route: RegisteredRoute): void {
    this.routes.push({ method: route.method.toUpperCase(), segments: segmentsOf(route.url) });
  }

  /** The methods served on `rawPath` (as sent, no query string), sorted; empty when none. */
  allowedMethods(rawPath: string): string[] {
    const methods = new Set<string>();
    const parts = requestSegments(rawPath);
    for (const route of this.routes) if (matches(route.segments, parts)) methods.add(route.method);
    return [...methods].sort();
  }
}

/**
 * Collects every route registered on `app` from now on, and answers requests no route matched in the
 * API's error shape: 405 with `Allow` when the path is served under other methods, else 404
 * (`notFoundHint` appended to its message).
 */
export function answerUnmatched(app: FastifyInstance, opts: { notFoundHint?: string } = {}): void {
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      routes.add({ method: String(method), url: route.url });
    }
  });
  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request.url);
    const allowed = routes.allowedMethods(path);
    if (allowed.length > 0 && !allowed.includes(request.method)) {
      void reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({
          error: 'method_not_allowed',
          message: `${request.method} is not served on ${path}; allowed: ${allowed.join(', ')}`,
          allowed,
        });
      return;
    }
    void reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${path}${opts.notFoundHint ?? ''}`,
    });
  });
}
