import { STATUS_CODES } from 'node:http';
import formbody from '@fastify/formbody';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { refuseCodedBody } from './content-coding.js';
import { SandboxHttpError } from './errors.js';
import { authenticateBearer, gatewayHook } from './gateway.js';
import { GatewayPageError } from './gateway-page.js';
import { endpointOf, infoOf } from './request-context.js';
import { CXONE_ENDPOINTS } from '../shared/cxone/wire.js';
import { registerCampaignRoutes } from './routes/campaigns.js';
import { registerControlRoutes } from './routes/control.js';
import { notAFormMessage, registerOauthRoutes } from './routes/oauth.js';
import { registerOutboundRoutes } from './routes/outbound.js';
import type { SandboxState } from './state.js';
import { answerUnmatched } from '../shared/http/allowed-methods.js';
import { NOT_UTF8_MESSAGE, strictUtf8 } from '../shared/http/utf8-body.js';
import { invalidJsonMessage } from '../shared/http/invalid-json.js';

/** Request bodies above this are refused with 413; campaign payloads are a few kB. */
export const SANDBOX_BODY_LIMIT = 256 * 1024;

/** Maps Fastify's own errors (parsing, content type, size) to the sandbox's JSON error shape. */
function fromFastifyError(error: FastifyError): SandboxHttpError {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new SandboxHttpError(
        400,
        'invalid_json',
        `the request body is not valid JSON: ${error.message}`,
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new SandboxHttpError(
        413,
        'payload_too_large',
        `request bodies are limited to ${SANDBOX_BODY_LIMIT} bytes`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new SandboxHttpError(
        415,
        'unsupported_media_type',
        'send application/json (or application/x-www-form-urlencoded to /oauth2/token)',
      );
    default:
      break;
  }
  if (error instanceof SyntaxError)
    return new SandboxHttpError(400, 'invalid_json', 'the request body is not valid JSON');
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500)
    return new SandboxHttpError(status, 'bad_request', error.message);
  return new SandboxHttpError(500, 'internal_error', 'the sandbox failed to handle this request');
}

/**
 * A refusal Fastify made at the token endpoint before its handler ran (a body in no parsable type,
 * too large, malformed), in the OAuth shape every other answer there has (error_description, RFC
 * 6749 §5.2). A 415 names the form type: the API-wide advice to send JSON is wrong there.
 */
function asTokenEndpointError(
  httpError: SandboxHttpError,
  request: Pick<FastifyRequest, 'headers'>,
): SandboxHttpError {
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const message = httpError.statusCode === 415 ? notAFormMessage(mediaType) : httpError.message;
  return new SandboxHttpError(
    httpError.statusCode,
    httpError.code,
    message,
    { ...httpError.extra, error_description: message },
    httpError.headers,
  );
}

/**
 * The answer to a request the router refused before any hook ran (a path that does not decode): the
 * 401 of a contract path without a valid token first, as the gateway would answer, then a 400.
 * The control surface and the token endpoint take no bearer token.
 */
function frameworkRefusal(
  state: SandboxState,
  request: Pick<FastifyRequest, 'headers' | 'url'>,
  error: FastifyError,
): SandboxHttpError {
  const path = request.url.split('?')[0] ?? '';
  if (!path.startsWith('/__sandbox/') && path !== '/oauth2/token') {
    try {
      authenticateBearer(state, request, {});
    } catch (refused) {
      if (refused instanceof SandboxHttpError) return refused;
      throw refused;
    }
  }
  return new SandboxHttpError(
    400,
    'invalid_url',
    `the request path is not a valid URL path: ${error.message}`,
  );
}

/**
 * The token endpoint's answer for an error its handler or the gateway raised without OAuth's
 * error_description (a rate-limit 429, an injected 503): every answer there carries one (RFC 6749
 * §5.2), and a client reading it (the seed's `error_description || message`) finds it on each. A
 * gateway's HTML or empty page is left as it is: it is no JSON at all.
 */
function withOauthDescription(httpError: SandboxHttpError, request: FastifyRequest): SandboxHttpError {
  if (endpointOf(request) !== CXONE_ENDPOINTS.token || httpError instanceof GatewayPageError)
    return httpError;
  if (httpError.extra.error_description !== undefined) return httpError;
  return new SandboxHttpError(
    httpError.statusCode,
    httpError.code,
    httpError.message,
    { ...httpError.extra, error_description: httpError.message },
    httpError.headers,
  );
}

/** A raw HTTP response for a request Node could not parse, in the sandbox's JSON error shape. Pure. */
export function clientErrorResponse(code: string | undefined): string {
  const tooLarge = code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : 400;
  const body = JSON.stringify(
    tooLarge
      ? { error: 'headers_too_large', message: 'the request headers are larger than the server accepts' }
      : { error: 'bad_request', message: 'the request is not valid HTTP/1.1' },
  );
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** Builds the sandbox's Fastify app on an existing state; `startSandbox` is the usual entry point. */
export async function buildSandboxApp(state: SandboxState): Promise<FastifyInstance> {
  const app = Fastify({
    // pino 10's Logger is a structural superset of Fastify's logger interface.
    loggerInstance: state.logger as FastifyBaseLogger,
    // Benchmarks push thousands of requests through; per-request lines would drown the fleet's logs.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: SANDBOX_BODY_LIMIT,
    // Fastify's router refuses a longer parameter itself (414, in its own error shape, before the
    // gateway): set past what a request line can hold, so any id reaches the token check and is then
    // simply not a campaign (404), as on CXone.
    routerOptions: { maxParamLength: 16 * 1024 },
    // A path the router cannot decode (`%zz`) is refused before any hook: answered here in the
    // sandbox's shape, and behind the token check like every other contract path.
    frameworkErrors: (error, request, rawReply) => {
      // Typed by Fastify for the route-less context this runs in; it is the ordinary reply.
      const reply = rawReply as unknown as FastifyReply;
      const refusal = frameworkRefusal(state, request, error);
      void reply.code(refusal.statusCode).headers(refusal.headers).send(refusal.body());
    },
    // Bytes Node's HTTP parser refuses never become a request; they are answered on the socket.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      if (socket.writable) socket.write(clientErrorResponse(err.code));
      socket.destroy(err);
    },
    // Automatic HEAD routes would answer outside the gateway (no token, no budget); CXone has none.
    exposeHeadRoutes: false,
  });
  // CXone's API takes JSON; only the token endpoint also takes a form (registered with its route).
  // Fastify's default text/plain parser would hand a plain-text body to a handler as a string;
  // without it, such a body is a 415 like any other non-JSON content type.
  app.removeContentTypeParser('text/plain');
  // Strictly UTF-8 (strictUtf8): a client sending another encoding would otherwise pass here and
  // find its names mangled, or refused, on the platform.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const text = strictUtf8(body);
    if (text === undefined) {
      done(new SandboxHttpError(400, 'invalid_json', NOT_UTF8_MESSAGE), undefined);
      return;
    }
    parseJson(request, text, (err, parsed) => {
      // Fastify's refusal says neither what nor where ("Body is not valid JSON but content-type is
      // set to 'application/json'", also for a valid body holding "__proto__"): say which, and where.
      if (err && (err as { code?: unknown }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        done(new SandboxHttpError(400, 'invalid_json', invalidJsonMessage(text)), undefined);
        return;
      }
      done(err, parsed);
    });
  });

  app.addHook('onRequest', async (request) => gatewayHook(state, request));
  // After the gateway (401 first, budget spent), before any parser reads the coded bytes.
  app.addHook('preParsing', async (request, _reply, payload) => {
    refuseCodedBody(request.method, request.headers);
    return payload;
  });
  // A scripted `applied` fault: the request was carried out; its answer is the failure.
  app.addHook('onSend', async (request, reply, payload) => {
    const fault = infoOf(request)?.deferredFault;
    if (fault === undefined) return payload;
    void reply.code(fault.statusCode).headers(fault.headers);
    reply.removeHeader('location');
    reply.removeHeader('idempotent-replayed');
    reply.removeHeader('cache-control');
    reply.removeHeader('pragma');
    if (fault instanceof GatewayPageError) {
      const { contentType, payload: page } = fault.page();
      if (contentType === undefined) reply.removeHeader('content-type');
      else void reply.type(contentType);
      return page;
    }
    void reply.type('application/json; charset=utf-8');
    return JSON.stringify(withOauthDescription(fault, request).body());
  });
  app.addHook('onResponse', async (request, reply) => {
    const endpoint = endpointOf(request);
    if (endpoint === null) return;
    state.counters.record(endpoint, infoOf(request)?.outcome ?? 'unauthorized', reply.statusCode);
  });

  app.setErrorHandler(async (error: FastifyError | SandboxHttpError, request, reply) => {
    const httpError =
      error instanceof SandboxHttpError
        ? withOauthDescription(error, request)
        : endpointOf(request) === CXONE_ENDPOINTS.token
          ? asTokenEndpointError(fromFastifyError(error), request)
          : fromFastifyError(error);
    if (httpError.statusCode >= 500 && !(error instanceof SandboxHttpError)) {
      request.log.error({ err: error, url: request.url, method: request.method }, 'sandbox handler failed');
    }
    void reply.code(httpError.statusCode).headers(httpError.headers);
    if (httpError instanceof GatewayPageError) {
      const { contentType, payload } = httpError.page();
      if (contentType !== undefined) return reply.type(contentType).send(payload);
      // No payload at all: Fastify then sends neither a body nor a content type.
      return reply.send();
    }
    return httpError.body();
  });
  // Registered before the routes, which it collects: DELETE on a campaign is 405 with Allow, as
  // CXone's gateway answers a method a resource does not serve, not a 404 that suggests a wrong id.
  answerUnmatched(app);

  // Encapsulated: the form parser applies to the token route alone, so a form-encoded PATCH of a
  // campaign is refused with 415 as CXone would, instead of being applied.
  await app.register(async (oauth) => {
    await oauth.register(formbody, { bodyLimit: SANDBOX_BODY_LIMIT });
    await registerOauthRoutes(oauth, state);
  });
  await registerCampaignRoutes(app, state);
  await registerOutboundRoutes(app, state);
  await registerControlRoutes(app, state);
  return app;
}
