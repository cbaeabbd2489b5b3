import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { clientErrorResponse, type ErrorBody } from './errors.js';

/**
 * What Node's HTTP layer answers on its own, before Fastify sees a request, made to answer in the
 * API's JSON shape: every port this service serves (the API's, a worker's METRICS_PORT) answers a
 * client's malformed bytes or missing Host alike, so a probe or scraper misconfigured against either
 * reads the same `{error, message}`.
 */

/** Fastify server options: bytes Node's parser refuses are answered on the socket, in JSON. */
export const jsonHttpEdgeOptions = {
  clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
    // A reset or destroyed connection has nobody left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) {
      const { status, body } = clientErrorResponse(err.code);
      const text = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`,
      );
    }
    socket.destroy(err);
  },
  // Node answers an HTTP/1.1 request without Host itself, with an empty 400 that is not JSON and
  // never reaches the handler above; refuseMissingHost answers it in the API's shape instead.
  http: { requireHostHeader: false },
};

/** With jsonHttpEdgeOptions: an HTTP/1.1 request without Host is refused as RFC 9112 requires. */
export function refuseMissingHost(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const { httpVersionMajor, httpVersionMinor } = request.raw;
    if (httpVersionMajor !== 1 || httpVersionMinor !== 1 || request.headers.host !== undefined) return;
    return reply.code(400).send({
      error: 'bad_request',
      message: 'an HTTP/1.1 request must carry a Host header (RFC 9112 §3.2)',
    } satisfies ErrorBody);
  });
}
