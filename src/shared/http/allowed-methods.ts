import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { finished } from 'node:stream/promises';
import { decodeOrKeep, routedPath } from './url-path.js';

/**
 * Which methods a server serves on a concrete path, from the routes it registered: a request whose
 * path exists under another method gets 405 with `Allow`, not a 404 that sends the caller looking
 * for a typo in the URL. RouteTable is pure; `collectRoutes` fills one from a Fastify app, and
 * `answerUnmatched` wires it into the app's not-found handler.
 */

export interface RegisteredRoute {
  method: string;
  url: string;
}

/**
 * One route URL's segments: a literal, a parameter (`:id`, one segment, possibly empty, as the router
 * takes it) or the rest (`*`, whatever follows its slash, nothing included).
 */
type Segment = { kind: 'literal'; text: string } | { kind: 'param' } | { kind: 'rest' };

/**
 * How the app's router reads paths before matching them (Fastify's routerOptions), for route URLs and
 * request paths alike. Without them a table answers for a router that keeps every slash.
 */
export interface RouteTableOptions {
  /** One trailing slash is dropped (`/a/` is `/a`; `/a//` is `/a/`, not `/a`). */
  ignoreTrailingSlash?: boolean;
  /** Runs of slashes are one slash. */
  ignoreDuplicateSlashes?: boolean;
}

/**
 * A path as the router normalises it (find-my-way's removeDuplicateSlashes and trimLastSlash): one
 * trailing slash at most is dropped, whatever precedes it — trimming them all would send a `/a//` the
 * router 404s to `/a`'s methods, and answer 405 with an Allow that 404s too. Linear: the path is the
 * client's, up to the 16 KiB a request line may hold.
 */
function normalisePath(path: string, opts: RouteTableOptions): string {
  let normal = path;
  if (opts.ignoreDuplicateSlashes && normal.includes('//')) normal = normal.replace(/\/\/+/g, '/');
  if (opts.ignoreTrailingSlash && normal.length > 1 && normal.endsWith('/')) normal = normal.slice(0, -1);
  return normal;
}

function segmentsOf(url: string): Segment[] {
  return url.split('/').map((part): Segment => {
    if (part === '*') return { kind: 'rest' };
    if (part.startsWith(':')) return { kind: 'param' };
    return { kind: 'literal', text: part };
  });
}

/**
 * A request path (raw, without the query) as routes are matched against it: segment by segment, each
 * decoded on its own, as the router does: `a%2Fb` is one parameter, not two segments. Done once per
 * request, not once per route: the path is the client's, up to the 16 KiB a request line may hold.
 */
function requestSegments(normalPath: string): string[] {
  return normalPath.split('/').map(decodeOrKeep);
}

/** Whether a request path's segments (requestSegments) match a route's. */
function matches(route: readonly Segment[], parts: readonly string[]): boolean {
  for (let i = 0; i < route.length; i++) {
    const segment = route[i] as Segment;
    const part = parts[i];
    if (part === undefined) return false;
    if (segment.kind === 'rest') return true;
    if (segment.kind === 'literal' && part !== segment.text) return false;
  }
  return parts.length === route.length;
}

export class RouteTable {
  private readonly routes: { method: string; segments: Segment[] }[] = [];

  constructor(private readonly opts: RouteTableOptions = {}) {}

  add(route: RegisteredRoute): void {
    const segments = segmentsOf(normalisePath(route.url, this.opts));
    this.routes.push({ method: route.method.toUpperCase(), segments });
  }

  /** The methods served on `rawPath` (as sent, no query string), sorted; empty when none. */
  allowedMethods(rawPath: string): string[] {
    const methods = new Set<string>();
    const parts = requestSegments(normalisePath(rawPath, this.opts));
    for (const route of this.routes) if (matches(route.segments, parts)) methods.add(route.method);
    return [...methods].sort();
  }
}

/**
 * A table of every route registered on `app` (its child scopes included) from now on, reading paths
 * as the app's router does: a table that trimmed differently would answer 405 on a path no method is
 * served on, or leave out of Allow a method that is.
 */
export function collectRoutes(app: FastifyInstance): RouteTable {
  const router = app.initialConfig.routerOptions ?? {};
  const routes = new RouteTable({
    ignoreTrailingSlash: router.ignoreTrailingSlash ?? app.initialConfig.ignoreTrailingSlash ?? false,
    ignoreDuplicateSlashes:
      router.ignoreDuplicateSlashes ?? app.initialConfig.ignoreDuplicateSlashes ?? false,
  });
  app.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      routes.add({ method: String(method), url: route.url });
    }
  });
  return routes;
}

/**
 * `Allow` on a 405 (RFC 9110 requires it there): the methods the path serves. Empty when it serves
 * none right now, as RFC 9110 allows for a resource disabled by configuration.
 */
export function setAllow(reply: FastifyReply, methods: readonly string[]): FastifyReply {
  return reply.header('allow', methods.join(', '));
}

/**
 * Collects every route registered on `app` from now on, and answers requests no route matched in the
 * API's error shape: 405 with `Allow` when the path is served under other methods, else 404
 * (`notFoundHint` appended to its message).
 */
export function answerUnmatched(
  app: FastifyInstance,
  opts: {
    notFoundHint?: string;
    /**
     * Of the methods routed on a path, those it serves right now: a route that refuses its method by
     * configuration (Bull Board read-only) is routed but not served, and Allow must not offer it.
     */
    servedNow?: (path: string, routed: readonly string[]) => string[];
  } = {},
): void {
  const routes = collectRoutes(app);
  const answer = (request: FastifyRequest, reply: FastifyReply): void => {
    // An absolute-form target is routed by its path: read otherwise, it would be 404 where the
    // same path sent as usual is 405.
    const path = routedPath(request.url);
    const routed = routes.allowedMethods(path);
    if (routed.length > 0 && !routed.includes(request.method)) {
      const allowed = opts.servedNow ? opts.servedNow(path, routed) : routed;
      void setAllow(reply.code(405), allowed).send({
        error: 'method_not_allowed',
        message: `${request.method} is not served on ${path}; allowed: ${allowed.join(', ') || 'none right now'}`,
        allowed,
      });
      return;
    }
    void reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${path}${opts.notFoundHint ?? ''}`,
    });
  };
  // Before the body is read (after onRequest: a server's token check still comes first): a request
  // no route serves is wrong whatever it sends, so a DELETE with a body not JSON, or above the body
  // limit, gets its 405 (or 404), not a 400 `invalid_json`, 413 or 415 for a body nothing reads.
  app.addHook('preParsing', async (request, reply) => {
    if (!request.is404) return;
    answer(request, reply);
    // An async onSend hook (the sandbox's) ends the response later: the body must not be parsed and
    // the handler run meanwhile, which Fastify only skips once the reply has ended.
    if (!reply.sent) await finished(reply.raw).catch(() => undefined);
  });
  app.setNotFoundHandler(answer);
}
