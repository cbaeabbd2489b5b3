import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import { cxoneCallDuration, cxoneCalls, cxoneRateLimited } from '../metrics.js';
import { nodeHttpAdapter } from './node-http-adapter.js';
import { createCxoneReachability, judgesReachability, type CxoneReachability } from './reachability.js';
import { errorFromNetwork, type RawResponse } from './response.js';
import type { CxoneEndpoint } from './wire.js';

export interface CxoneHttpOptions {
  baseUrl: string;
  /** Deadline for one HTTP exchange, connecting included. */
  timeoutMs: number;
}

export interface CxoneHttp {
  axios: AxiosInstance;
  /** Whether CXone has been answering this process's calls (readiness reads it). */
  reachability: CxoneReachability;
  /** Sends one request; resolves with any HTTP status, rejects only with CxoneUnavailableError (no answer). */
  send(req: {
    endpoint: CxoneEndpoint;
    method: 'GET' | 'POST' | 'PATCH';
    path: string;
    headers?: Record<string, string>;
    params?: Record<string, string | number | undefined>;
    data?: unknown;
    campaignId?: string;
    attempt?: number;
    signal?: AbortSignal;
  }): Promise<RawResponse>;
  close(): void;
}

/** A variable axios reads a proxy from, through proxy-from-env (either case). */
export function isProxyVariable(name: string): boolean {
  return /^(https?|all)_proxy$/i.test(name);
}

/**
 * Whether the environment names a proxy axios could pick for CXone: npm's spellings too, which
 * proxy-from-env read before its version 2 (a lock file may pin one). Without one, every call would
 * still look the variables up.
 */
export function environmentNamesProxy(env: NodeJS.ProcessEnv = process.env): boolean {
  return Object.keys(env).some((name) => isProxyVariable(name.replace(/^npm_config_/i, '')) && !!env[name]);
}

/**
 * The HTTP layer under the CXone client: one axios instance with keep-alive agents (CXone calls are
 * frequent and small; a TLS handshake per call would double their latency), JSON only, and every
 * status handed back to the caller for mapping. It records the call metrics; it never logs bodies
 * or headers, which carry the bearer token.
 */
export function createCxoneHttp(opts: CxoneHttpOptions): CxoneHttp {
  const agentOptions = {
    keepAlive: true,
    // axios arms TCP keep-alive at 60 s on every request's socket and the agent re-arms it with its own
    // delay whenever the socket returns to the pool; with the same delay both are no-ops after the
    // first time, instead of two setsockopt system calls per CXone call.
    keepAliveMsecs: 60_000,
    maxSockets: 64,
    maxFreeSockets: 16,
    timeout: opts.timeoutMs,
  };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const instance = axios.create({
    baseURL: opts.baseUrl.replace(/\/+$/, ''),
    timeout: opts.timeoutMs,
    httpAgent,
    httpsAgent,
    maxRedirects: 0,
    // Error bodies are part of the contract (422 field errors, 409 currentVersion): never throw on status.
    validateStatus: () => true,
    // A 10 MB answer to a stats call is a broken proxy, not data.
    maxContentLength: 10 * 1024 * 1024,
    transitional: { clarifyTimeoutError: true },
    // axios resolves HTTP(S)_PROXY / NO_PROXY on every request (several environment reads each); the
    // environment does not change while we run, so without a proxy variable that lookup is skipped.
    // With one, axios keeps resolving it per request, NO_PROXY included.
    ...(environmentNamesProxy() ? {} : { proxy: false as const }),
    // Keep-alive JSON calls on node:http; whatever it does not cover (a proxy above all) goes to
    // axios's own adapter.
    adapter: nodeHttpAdapter,
  });
  // The one default header (JSON only). Set here rather than in `create`, which would put it beside
  // axios's default header groups (`common` and one per method) that axios deep-merges into every
  // request's config: a flat default is merged like a request's own headers, the same headers reach
  // the wire, and a launch costs about 5 % less CPU (docs/fleet-benchmark.md, _Eighth pass_).
  instance.defaults.headers = { Accept: 'application/json' } as unknown as typeof instance.defaults.headers;

  const reachability = createCxoneReachability();

  return {
    axios: instance,
    reachability,
    async send(req) {
      const started = process.hrtime.bigint();
      const ctx = { endpoint: req.endpoint, campaignId: req.campaignId, attempt: req.attempt };
      try {
        const res = await instance.request({
          method: req.method,
          url: req.path,
          headers: req.headers,
          params: req.params,
          data: req.data,
          signal: req.signal,
        });
        cxoneCalls.inc({ endpoint: req.endpoint, status: String(res.status) });
        if (res.status === 429) cxoneRateLimited.inc({ endpoint: req.endpoint });
        if (judgesReachability(req.endpoint)) {
          if (res.status >= 500) reachability.failed(Date.now(), `HTTP ${res.status} to ${req.endpoint}`);
          else reachability.answered(Date.now());
        }
        return {
          status: res.status,
          headers: { ...res.headers } as Record<string, unknown>,
          body: res.data as unknown,
        };
      } catch (err) {
        const mapped = errorFromNetwork(err, ctx);
        cxoneCalls.inc({ endpoint: req.endpoint, status: 'unavailable' });
        // A call its own caller gave up on says nothing about CXone.
        if (!req.signal?.aborted && judgesReachability(req.endpoint)) {
          reachability.failed(Date.now(), mapped.message);
        }
        throw mapped;
      } finally {
        cxoneCallDuration.observe(
          { endpoint: req.endpoint },
          Number(process.hrtime.bigint() - started) / 1e9,
        );
      }
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
