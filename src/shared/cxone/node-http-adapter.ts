import http from 'node:http';
import https from 'node:https';
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import axios, {
  AxiosError,
  AxiosHeaders,
  CanceledError,
  type AxiosAdapter,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import buildFullPath from 'axios/unsafe/core/buildFullPath.js';
import settle from 'axios/unsafe/core/settle.js';
import buildURL from 'axios/unsafe/helpers/buildURL.js';

/**
 * The transport under the CXone client's axios instance: one keep-alive `node:http(s)` request per
 * call, the JSON or form body written in one piece, the answer collected into one string that axios's
 * own response transform then parses. axios's bundled `http` adapter does the same job for every
 * kind of request axios supports (streams, forms, redirects, proxies, progress events, HTTP/2), and
 * pays for that generality on each call: about 220 µs of CPU per CXone call against about 85 µs for
 * the same request on `node:http`, measured on the development machine with the same agent and
 * server (docs/fleet-benchmark.md, _Seventh pass_) — at two calls per launch, one of the largest costs of
 * a launch.
 *
 * Only what the CXone client sends takes this path; any request it does not cover (a proxy, a
 * redirect to follow, a stream or form body, a non-text response type, progress callbacks, basic
 * auth, a Unix socket, `decompress: false`) goes to axios's own adapter, so axios's behaviour stays
 * the contract.
 * No `Accept-Encoding` is sent, so servers answer uncompressed; a compressed answer is still decoded
 * (gzip, deflate, br), within `maxContentLength`.
 */
export const nodeHttpAdapter: AxiosAdapter = (config) => {
  if (!handles(config)) return fallbackAdapter()(config);
  return send(config);
};

let fallback: AxiosAdapter | undefined;
const fallbackAdapter = (): AxiosAdapter => (fallback ??= axios.getAdapter('http'));

const TEXT_RESPONSE_TYPES = new Set([undefined, 'json', 'text']);

/** Whether this request is one the lean path carries exactly as axios's adapter would. */
function handles(config: InternalAxiosRequestConfig): boolean {
  const data: unknown = config.data;
  return (
    config.proxy === false &&
    !config.auth &&
    !config.socketPath &&
    !(config.maxRedirects && config.maxRedirects > 0) &&
    !config.onUploadProgress &&
    !config.onDownloadProgress &&
    config.decompress !== false &&
    TEXT_RESPONSE_TYPES.has(config.responseType) &&
    (data === undefined || data === null || typeof data === 'string' || Buffer.isBuffer(data))
  );
}

const USER_AGENT = `axios/${axios.VERSION}`;

function timeoutError(config: InternalAxiosRequestConfig, req: http.ClientRequest): AxiosError {
  const ms = config.timeout;
  return new AxiosError(
    config.timeoutErrorMessage ?? (ms ? `timeout of ${ms}ms exceeded` : 'timeout exceeded'),
    config.transitional?.clarifyTimeoutError ? AxiosError.ETIMEDOUT : AxiosError.ECONNABORTED,
    config,
    req,
  );
}

function decode(body: Buffer, encoding: string | undefined, maxBytes: number): Buffer {
  const limit = maxBytes > -1 ? { maxOutputLength: maxBytes } : {};
  switch ((encoding ?? '').trim().toLowerCase()) {
    case '':
    case 'identity':
      return body;
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body, limit);
    case 'deflate':
      // Servers disagree on whether "deflate" carries the zlib header; axios accepts both.
      return body.length > 0 && (body[0]! & 0x0f) === 0x08
        ? inflateSync(body, limit)
        : inflateRawSync(body, limit);
    case 'br':
      return brotliDecompressSync(body, limit);
    default:
      throw new Error(`unsupported content-encoding ${JSON.stringify(encoding)}`);
  }
}

function send(config: InternalAxiosRequestConfig): Promise<AxiosResponse> {
  return new Promise((resolve, reject) => {
    const signal = config.signal as AbortSignal | undefined;
    if (signal?.aborted) {
      reject(new CanceledError(undefined, config));
      return;
    }
    let url: URL;
    try {
      // What axios.getUri does, without merging the config with the defaults a second time.
      url = new URL(
        buildURL(
          buildFullPath(config.baseURL, config.url, config.allowAbsoluteUrls, config),
          config.params,
          config.paramsSerializer,
        ),
      );
    } catch (err) {
      reject(AxiosError.from(err, AxiosError.ERR_INVALID_URL, config));
      return;
    }
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') {
      fallbackAdapter()(config).then(resolve, reject);
      return;
    }
    const raw: unknown = config.data;
    const body =
      raw === undefined || raw === null ? undefined : Buffer.isBuffer(raw) ? raw : Buffer.from(raw as string);
    if (
      body &&
      config.maxBodyLength !== undefined &&
      config.maxBodyLength > -1 &&
      body.length > config.maxBodyLength
    ) {
      reject(
        new AxiosError('Request body larger than maxBodyLength limit', AxiosError.ERR_BAD_REQUEST, config),
      );
      return;
    }

    const headers = AxiosHeaders.from(config.headers).normalize(false);
    if (!headers.has('User-Agent')) headers.set('User-Agent', USER_AGENT);
    headers.set('Content-Length', body ? body.length : null);
    if (!body) headers.delete('Content-Type');

    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: unknown, response?: AxiosResponse) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(response as AxiosResponse);
    };
    const fail = (err: AxiosError) => {
      finish(err);
      req.destroy();
    };
    const onAbort = () => fail(new CanceledError(undefined, config, req));

    const maxContentLength = config.maxContentLength ?? -1;
    const options: http.RequestOptions = {
      protocol: url.protocol,
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method: (config.method ?? 'get').toUpperCase(),
      headers: headers.toJSON(true) as http.OutgoingHttpHeaders,
      agent: secure ? config.httpsAgent : config.httpAgent,
    };
    const req = (secure ? https : http).request(options, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (maxContentLength > -1 && received > maxContentLength) {
          fail(
            new AxiosError(
              `maxContentLength size of ${maxContentLength} exceeded`,
              AxiosError.ERR_BAD_RESPONSE,
              config,
              req,
            ),
          );
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => finish(AxiosError.from(err, undefined, config, req)));
      // The connection closed before the whole answer came (no 'end'): never leave the call hanging.
      res.on('close', () => {
        if (!res.complete) {
          finish(new AxiosError('stream has been aborted', AxiosError.ERR_BAD_RESPONSE, config, req));
        }
      });
      res.on('end', () => {
        let text: string;
        try {
          const whole = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          const decoded =
            options.method === 'HEAD' || res.statusCode === 204
              ? whole
              : decode(whole, res.headers['content-encoding'], maxContentLength);
          text = decoded.toString(
            config.responseEncoding === undefined ? 'utf8' : (config.responseEncoding as BufferEncoding),
          );
        } catch (err) {
          finish(AxiosError.from(err, AxiosError.ERR_BAD_RESPONSE, config, req));
          return;
        }
        const response: AxiosResponse = {
          data: text,
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: new AxiosHeaders(res.headers as Record<string, string>),
          config,
          request: req,
        };
        // validateStatus decides, as in axios's own adapters.
        settle(
          (ok) => finish(undefined, ok),
          (err) => finish(err),
          response,
        );
      });
    });
    req.on('error', (err) => finish(AxiosError.from(err, undefined, config, req)));
    // One deadline for the whole exchange, connecting included, as axios's `timeout` documents.
    if (config.timeout && config.timeout > 0)
      timer = setTimeout(() => fail(timeoutError(config, req)), config.timeout);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}
