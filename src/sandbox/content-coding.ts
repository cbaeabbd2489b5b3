import type { IncomingHttpHeaders } from 'node:http';
import { contentCodings } from '../shared/http/content-coding.js';
import { SandboxHttpError } from './errors.js';

/** Methods whose body Fastify never reads (its `bodyless` set): a coding on one is not refused. */
const BODY_NOT_READ = new Set(['GET', 'HEAD', 'TRACE']);

/**
 * 415 for a request body in a content coding: the sandbox, like the API it stands in for, decodes
 * none (RFC 9110 §15.5.16; Accept-Encoding says what it takes, RFC 7694). Ignoring the header, it
 * answered a gzip'd JSON body "not UTF-8" and applied a plain one labelled `br`, which a server
 * honouring the header fails to decode. A request with no body is not looked at, nor one whose body
 * is never read (a GET's: it is served as without the body, so a coding on it changes nothing).
 */
export function refuseCodedBody(method: string, headers: IncomingHttpHeaders): void {
  const hasBody =
    !BODY_NOT_READ.has(method) &&
    (headers['transfer-encoding'] !== undefined ||
      (headers['content-length'] !== undefined && headers['content-length'] !== '0'));
  const codings = hasBody ? contentCodings(headers['content-encoding']) : [];
  if (codings.length === 0) return;
  throw new SandboxHttpError(
    415,
    'unsupported_media_type',
    `the body is sent with Content-Encoding: ${codings.join(', ')}; request bodies are read uncompressed only`,
    {},
    { 'accept-encoding': 'identity' },
  );
}
