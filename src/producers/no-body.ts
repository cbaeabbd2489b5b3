import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ValidationFailedError } from './errors.js';

/** What a POST that reads no body answers a body with something in it. */
export const READS_NO_BODY = 'this route reads no body; send the POST without one';

const JSON_TYPE = /^application\/json\s*(?:;|$)/i;

/**
 * An empty body is no body, whatever content type a client labels it with. Many HTTP clients send
 * `Content-Type: application/json` (or curl's `-d ''` its form type) on every POST; on a route that
 * reads nothing that is no reason for a 400 `invalid_json` or a 415. The label is dropped before
 * Fastify picks a parser, so the request goes on as the bare POST it is. A non-empty body of another
 * type than JSON is told the route reads none (Fastify's 415 would say to send it as JSON, which
 * would then be refused below). A chunked body announces no length (a streamed fetch, a client in
 * chunked streaming mode): whether it holds anything is known from its first chunk, put back for the
 * parser when there is one.
 */
async function dropEmptyBodyLabel(request: FastifyRequest, _reply: FastifyReply, payload: Readable) {
  const { headers } = request;
  const chunked = headers['transfer-encoding'] !== undefined;
  let empty = !chunked && (headers['content-length'] === undefined || headers['content-length'] === '0');
  let body = payload;
  if (chunked) {
    const first = await firstChunk(payload);
    if (first === null) empty = true;
    // A body wholly in before this hook ran (anything awaited before it) has spent its end on the
    // read: a chunk put back would wait for an end already emitted, and the request would hang.
    else if (payload.readableEnded) body = Readable.from([first], { objectMode: false });
    else payload.unshift(first);
  }
  if (empty) {
    delete headers['content-type'];
    // Fastify takes a request without a content type but with a Transfer-Encoding for one with a body.
    delete headers['transfer-encoding'];
  } else if (!JSON_TYPE.test(headers['content-type'] ?? ''))
    throw new ApiError(415, 'unsupported_media_type', READS_NO_BODY);
  return body;
}

const brokeOffError = () => new ApiError(400, 'bad_request', 'the request body broke off before it ended');

/** The body's first chunk, or null when it ends without one. */
function firstChunk(payload: Readable): Promise<Buffer | null> {
  // A client gone before this hook ran (while an earlier one awaited) has nothing more to emit.
  if (payload.destroyed) return Promise.reject(brokeOffError());
  return new Promise((resolve, reject) => {
    const settle = (then: () => void) => {
      payload.off('readable', onReadable);
      payload.off('error', brokeOff);
      payload.off('end', onEnd);
      payload.off('close', brokeOff);
      then();
    };
    const onReadable = () => settle(() => resolve(payload.read() as Buffer | null));
    // A body that ended before anything read it (the last chunk came with the headers) ends here.
    const onEnd = () => settle(() => resolve(null));
    // A client gone mid-body: the 400 Fastify's own reading of a body that broke off gets.
    const brokeOff = () => settle(() => reject(brokeOffError()));
    payload.on('readable', onReadable);
    payload.on('end', onEnd);
    payload.on('error', brokeOff);
    payload.on('close', brokeOff);
  });
}

/**
 * A JSON body with something in it is refused rather than ignored: its sender meant something by it
 * (`POST /v1/webhooks/dead-letters/replay {"eventIds": [...]}` replays every dead letter, not the
 * ones named). `{}` is what many clients send for "nothing", and is the bare POST.
 */
async function refuseBody(request: FastifyRequest) {
  const body = request.body;
  if (body === undefined || body === null) return;
  if (typeof body === 'object' && !Array.isArray(body)) {
    const fields = Object.keys(body);
    if (fields.length === 0) return;
    throw new ValidationFailedError(
      fields.map((path) => ({ path, message: `unknown field: ${READS_NO_BODY}` })),
    );
  }
  throw new ValidationFailedError([{ path: '(body)', message: READS_NO_BODY }]);
}

/**
 * Route options of a POST that reads no body (a command named by its path alone). Route hooks, so
 * no other request (a launch above all) pays for them.
 */
export const NO_BODY = { preParsing: dropEmptyBodyLabel, preValidation: refuseBody } as const;
