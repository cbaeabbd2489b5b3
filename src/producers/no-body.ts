import type { FastifyInstance } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads no request body (a command named by its path alone). */
    noBody?: boolean;
  }
}

/** Route options of a POST that reads no body. */
export const NO_BODY = { config: { noBody: true } } as const;

/**
 * An empty body is no body, whatever content type a client labels it with. Many HTTP clients send
 * `Content-Type: application/json` (or curl's `-d ''` its form type) on every POST; on a route that
 * reads nothing that is no reason for a 400 `invalid_json` or a 415. The label is dropped before
 * Fastify picks a parser, so the request goes on as the bare POST it is. A non-empty body still
 * meets the usual parsers.
 */
export function ignoreEmptyBodyLabels(app: FastifyInstance): void {
  app.addHook('preParsing', async (request, _reply, payload) => {
    if (!request.routeOptions.config.noBody) return payload;
    const { headers } = request;
    const empty =
      headers['transfer-encoding'] === undefined &&
      (headers['content-length'] === undefined || headers['content-length'] === '0');
    if (empty) delete headers['content-type'];
    return payload;
  });
}
