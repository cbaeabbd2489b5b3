import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ValidationIssue } from '../shared/campaign-config.js';
import { DUPLICATE_KEY_MESSAGE, duplicateKeyPath, duplicateKeyPaths } from '../shared/json-duplicate-keys.js';
import { ApiError, ValidationFailedError } from './errors.js';
import { NOT_UTF8_MESSAGE, strictUtf8 } from '../shared/http/utf8-body.js';
import { contentCodings } from '../shared/http/content-coding.js';
import { invalidJsonMessage } from '../shared/http/invalid-json.js';

export { duplicateKeyPath };

/** The issues of the keys a request's JSON body gives twice, kept by the parser for its route. */
const duplicateKeys = new WeakMap<FastifyRequest, ValidationIssue[]>();

/**
 * Route config of a route that answers a body's repeated keys itself, among the body's other issues
 * (`duplicateKeyIssues`): the campaign config's /validate and launch, whose `issues` list every
 * problem. Every other route refuses such a body before its handler, with those issues alone.
 */
export const ANSWERS_DUPLICATE_KEYS = { config: { answersDuplicateKeys: true } } as const;

/** The issues of the keys the request's JSON body gave twice (none for most requests). */
export function duplicateKeyIssues(request: FastifyRequest): ValidationIssue[] {
  return duplicateKeys.get(request) ?? [];
}

/**
 * JSON bodies as Fastify parses them (prototype-poisoning keys refused), also refused when they are
 * not UTF-8 or when a key appears twice in one object. JSON.parse keeps the last of the two silently,
 * so `{"callRate": 0.2, …, "callRate": 1}` would be launched at a rate the sender may not have meant,
 * and a proxy or WAF reading the first one would have checked a different request than this API runs.
 * A repeated key is a validation issue, not a parse failure: the body is parsed, and its route
 * refuses it before its handler runs, unless it lists it among the body's other issues
 * (ANSWERS_DUPLICATE_KEYS).
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const issues = duplicateKeys.get(request);
    if (issues === undefined) return;
    const config = request.routeOptions.config as { answersDuplicateKeys?: boolean } | undefined;
    if (config?.answersDuplicateKeys !== true) throw new ValidationFailedError(issues);
  });
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const encodings = contentCodings(request.headers['content-encoding']);
    if (encodings.length > 0) {
      // Nothing here inflates bodies: a gzipped config would otherwise be refused as "not UTF-8",
      // sending its client after the charset instead of the compression (RFC 9110 §15.5.16).
      done(
        new ApiError(
          415,
          'unsupported_media_type',
          `the body is sent with Content-Encoding: ${encodings.join(', ')}; this API reads bodies uncompressed only`,
          {},
          { 'accept-encoding': 'identity' },
        ),
        undefined,
      );
      return;
    }
    const text = strictUtf8(body);
    if (text === undefined) {
      done(new ApiError(400, 'invalid_json', NOT_UTF8_MESSAGE), undefined);
      return;
    }
    parseJson(request, text, (err, parsed) => {
      // Fastify's refusal says neither what nor where: a client is told which, and at what position.
      if (err && (err as { code?: unknown }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        done(new ApiError(400, 'invalid_json', invalidJsonMessage(text)), undefined);
        return;
      }
      if (!err) {
        const paths = duplicateKeyPaths(text);
        if (paths.length > 0) {
          duplicateKeys.set(
            request,
            paths.map((path) => ({ path, message: DUPLICATE_KEY_MESSAGE })),
          );
        }
      }
      done(err, parsed);
    });
  });
}

/**
 * The issue of a request to a route that reads a JSON body but sent none: what to send, where the
 * schema alone would say "(body): Invalid input: expected object, received undefined".
 */
export function missingBodyIssue(what: string): ValidationIssue {
  return {
    path: '(body)',
    message: `required: the request needs a JSON body (Content-Type: application/json) holding ${what}; it sent none`,
  };
}

/**
 * Route options of a route that reads a JSON body; `what` names that body for a sender who left it
 * out. A request without one is answered before its handler, with missingBodyIssue as its only issue:
 * a 400 `validation_failed` as for any invalid body, or the route's own answer to invalid input
 * (`answer`: /validate answers 200 `{valid: false, issues}`). A route hook, as NO_BODY is for the routes
 * that read none. (An empty body labelled application/json is the parser's 400 `invalid_json`.)
 */
export function readsJsonBody(what: string, answer?: (issues: ValidationIssue[]) => unknown) {
  return {
    preValidation: async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.body !== undefined) return;
      const issues = [missingBodyIssue(what)];
      if (!answer) throw new ValidationFailedError(issues);
      return reply.send(answer(issues));
    },
  } as const;
}
