import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * An empty body is no body, whatever content type a client labels it with. Many HTTP clients send
 * `Content-Type: application/json` (or curl's `-d ''` its form type) on every POST; on a route that
 * reads nothing that is no reason for a 400 `invalid_json` or a 415. The label is dropped before
 * Fastify picks a parser, so the request goes on as the bare POST it is. A non-empty body still
 * meets the usual parsers.
 */
async function dropEmptyBodyLabel(request: FastifyRequest, _reply: FastifyReply, payload: unknown) {
  const { headers } = request;
  const empty =
    headers['transfer-encoding'] === undefined &&
    (headers['content-length'] === undefined || headers['content-length'] === '0');
  if (empty) delete headers['content-type'];
  return payload;
}

/**
 * Route options of a POST that reads no body (a command named by its path alone). A route hook, so
 * no other request (a launch above all) pays for it.
 */
export const NO_BODY = { preParsing: dropEmptyBodyLabel } as const;
