import type { FastifyRequest } from 'fastify';
import { CXONE_ENDPOINTS, type CxoneEndpoint } from '../shared/cxone/wire.js';
import type { RequestOutcome } from './counters.js';
import type { SandboxHttpError } from './errors.js';
import type { TokenGrant } from './token-store.js';

/** What the gateway hooks learned about a request, for the handler and the counters. */
export interface RequestInfo {
  endpoint: CxoneEndpoint;
  grant?: TokenGrant;
  outcome?: RequestOutcome;
  /**
   * An injected failure that answers the request after it was carried out (a scripted `applied`
   * fault): the app's onSend hook replaces whatever the handler answered with it.
   */
  deferredFault?: SandboxHttpError;
}

const ENDPOINTS = new Set<string>(Object.values(CXONE_ENDPOINTS));
const infos = new WeakMap<FastifyRequest, RequestInfo>();

/** The contract endpoint (method + route template) a request was routed to, or null for anything else. */
export function endpointOf(request: FastifyRequest): CxoneEndpoint | null {
  const template = request.routeOptions.url;
  if (template === undefined) return null;
  const key = `${request.method} ${template}`;
  return ENDPOINTS.has(key) ? (key as CxoneEndpoint) : null;
}

export function setInfo(request: FastifyRequest, info: RequestInfo): RequestInfo {
  infos.set(request, info);
  return info;
}

export function infoOf(request: FastifyRequest): RequestInfo | undefined {
  return infos.get(request);
}

/** The token grant of an authenticated contract request; the gateway hook guarantees it exists. */
export function grantOf(request: FastifyRequest): TokenGrant {
  const grant = infos.get(request)?.grant;
  if (!grant) throw new Error('sandbox route reached without an authenticated grant');
  return grant;
}
