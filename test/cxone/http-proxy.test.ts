import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createCxoneHttp, environmentNamesProxy } from '../../src/shared/cxone/http.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';

describe('environmentNamesProxy', () => {
  it('sees the proxy variables axios reads, in either case and in npm spelling', () => {
    expect(environmentNamesProxy({})).toBe(false);
    expect(environmentNamesProxy({ PATH: '/usr/bin', NO_PROXY: 'example.com' })).toBe(false);
    expect(environmentNamesProxy({ HTTPS_PROXY: 'http://proxy:3128' })).toBe(true);
    expect(environmentNamesProxy({ http_proxy: 'proxy:3128' })).toBe(true);
    expect(environmentNamesProxy({ ALL_PROXY: 'http://proxy:3128' })).toBe(true);
    expect(environmentNamesProxy({ npm_config_https_proxy: 'http://proxy:3128' })).toBe(true);
  });

  it('ignores a proxy variable set to nothing', () => {
    expect(environmentNamesProxy({ HTTP_PROXY: '' })).toBe(false);
  });
});

/**
 * The environment is read once, when the HTTP layer is built: these tests build it with and without a
 * proxy variable and look at where the request actually went.
 */
describe('CXone HTTP layer and HTTP_PROXY', () => {
  const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy };
  const servers: http.Server[] = [];

  afterEach(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  /** A server that answers every request with where it was asked to go (a proxy sees absolute URLs). */
  async function recordingServer(name: string): Promise<{ url: string; seen: string[] }> {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.url ?? '');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ answeredBy: name }));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  /** One GET of a campaign through a CXone HTTP layer built now (so with the environment as it is). */
  async function getCampaignVia(baseUrl: string): Promise<unknown> {
    const client = createCxoneHttp({ baseUrl, timeoutMs: 5_000 });
    try {
      const res = await client.send({
        endpoint: CXONE_ENDPOINTS.getCampaign,
        method: 'GET',
        path: '/api/v2/campaigns/c-1',
      });
      return res.body;
    } finally {
      client.close();
    }
  }

  it('sends through the proxy the environment names', async () => {
    const proxy = await recordingServer('proxy');
    const cxone = await recordingServer('cxone');
    delete process.env.http_proxy;
    process.env.HTTP_PROXY = proxy.url;
    expect(await getCampaignVia(cxone.url)).toEqual({ answeredBy: 'proxy' });
    expect(proxy.seen).toEqual([`${cxone.url}/api/v2/campaigns/c-1`]);
    expect(cxone.seen).toEqual([]);
  });

  it('goes straight to CXone when no proxy is named', async () => {
    const cxone = await recordingServer('cxone');
    delete process.env.HTTP_PROXY;
    delete process.env.http_proxy;
    expect(await getCampaignVia(cxone.url)).toEqual({ answeredBy: 'cxone' });
    expect(cxone.seen).toEqual(['/api/v2/campaigns/c-1']);
  });
});
