import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { deliverOnce } from '../../src/shared/webhooks/deliver.js';
import { getDestinationState, listDeadLetters } from '../../src/shared/webhooks/store.js';
import { Receiver, SECRET, cleanupsAfterEach, startHarness, waitFor } from './harness.js';
import { isolateProxyEnv, listenOnLoopback, startForwardProxy } from './proxy-helpers.js';

/**
 * Deliveries honour HTTP(S)_PROXY / NO_PROXY as the CXone client does: through a forward proxy when
 * one applies to the receiver, directly otherwise.
 */

isolateProxyEnv(['NODE_TLS_REJECT_UNAUTHORIZED']);
const cleanups = cleanupsAfterEach();

const startProxy = () => startForwardProxy(cleanups);

async function send(url: string) {
  return deliverOnce({
    url,
    secret: SECRET,
    eventId: 'evt_proxy',
    body: '{"n":1}',
    nowMs: Date.now(),
    timeoutMs: 5_000,
  });
}

describe('webhook deliveries behind a proxy', () => {
  it('go through HTTP_PROXY, signed, with the receiver status, Retry-After and body excerpt', async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    receiver.respond = () => ({ status: 429, headers: { 'retry-after': '7' }, body: 'slow down' });
    const proxy = await startProxy();
    process.env.HTTP_PROXY = proxy.url;
    const attempt = await send(receiver.url);
    expect(attempt).toMatchObject({ status: 429, retryAfter: '7', bodyExcerpt: 'slow down' });
    expect(proxy.seen).toEqual([`POST ${receiver.url}`]);
    expect(receiver.received).toEqual([
      expect.objectContaining({ id: 'evt_proxy', body: '{"n":1}', signatureValid: true }),
    ]);
  });

  it('go direct when NO_PROXY names the receiver, and report a dead proxy as a network error', async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    const proxy = await startProxy();
    process.env.HTTP_PROXY = proxy.url;
    process.env.NO_PROXY = '127.0.0.1';
    expect(await send(receiver.url)).toMatchObject({ status: 200 });
    expect(proxy.seen).toEqual([]);

    delete process.env.NO_PROXY;
    process.env.HTTP_PROXY = 'http://127.0.0.1:9';
    const refused = await send(receiver.url);
    expect(refused.status).toBeUndefined();
    expect(refused.error).toBe('ECONNREFUSED');
    expect(receiver.received).toHaveLength(1);
  });
});

/** A self-signed certificate for 127.0.0.1 / localhost (test only; the client skips verification). */
const TLS_CERT = `-----BEGIN CERTIFICATE-----
MIIDJzCCAg+gAwIBAgIUaPWdYAcWOp6OEKCrN+fhv7l71hEwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyOTE3MDgwNFoYDzIxMjYx
MTA1MTcwODA0WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQC2bTOrOYIPYtXBefY9e23kCNavQAdf1kaO0DUdN7H8
W60OnPpFINZjbUVcEwZzOzbcy++BW0AtSHCgngvWOAqnwKOyR9PjReRWThJ+2ZYF
6g1w4wqN98jQctWypOoV2HRr2oa010fZFq3lWtgD9c5Zy5FqCfjgF2HQj2agYeXb
MGc0ey99YcYWwP4LaoE57up8mLNaYdwfSqcDYoNmuaCWuEqHZq8XNtGQWucrx57r
vX3S1lLlq93xetcWo0AIu1K0662pOenCRMRvxRPKcYBZLx7BtTCgBh6O5nayari1
/d43/6IP3dk/eCrDhcsJ6OWGB5QsAgIr0PbRD1SYAgi1AgMBAAGjbzBtMB0GA1Ud
DgQWBBSedeP7kTWs6Qy/h9NSIrHIdOtY4DAfBgNVHSMEGDAWgBSedeP7kTWs6Qy/
h9NSIrHIdOtY4DAPBgNVHRMBAf8EBTADAQH/MBoGA1UdEQQTMBGCCWxvY2FsaG9z
dIcEfwAAATANBgkqhkiG9w0BAQsFAAOCAQEAmmFwYmWcdiuSBucWi0aOtHUqlDAw
DzZ+BMoOOJPTBMFYgE5MJ3sdENHoNdG4KSq53awJ6vu2GIs6eSecmkSXpFbUCV8o
c1BzmEpyoNwzqco0GcWrv69bZBw0V9bm0RjClRdffMKeq1bGMKysEoWxKVfWwrX6
dtbkr4l0gmgX337QGNEID/7H8VdL0lHQ/TOo2u17///obExOYsbL6y240KARqygn
1XwuODxDyfTAomQkKqACJHPLXTS20vbC++2pO1zGyVhLac1xkrsHwLdvXVvSmlUR
XjqtDT4FBSCmzf7WLrAxRCXla2hmUyn0DguIl6m0ZK06gV1lxOJFzT2LYg==
-----END CERTIFICATE-----`;
const TLS_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC2bTOrOYIPYtXB
efY9e23kCNavQAdf1kaO0DUdN7H8W60OnPpFINZjbUVcEwZzOzbcy++BW0AtSHCg
ngvWOAqnwKOyR9PjReRWThJ+2ZYF6g1w4wqN98jQctWypOoV2HRr2oa010fZFq3l
WtgD9c5Zy5FqCfjgF2HQj2agYeXbMGc0ey99YcYWwP4LaoE57up8mLNaYdwfSqcD
YoNmuaCWuEqHZq8XNtGQWucrx57rvX3S1lLlq93xetcWo0AIu1K0662pOenCRMRv
xRPKcYBZLx7BtTCgBh6O5nayari1/d43/6IP3dk/eCrDhcsJ6OWGB5QsAgIr0PbR
D1SYAgi1AgMBAAECggEADifFwpuLxAs0mva5F2bkeAqs3fG8oMB3vnfZfJLodLSI
ZoHidErAAqcP+BJh2xR/2qeDG36BKa0H+u6d7IQcujebJtJRVr6toSTIZUoXog3Z
99B7mS3eSePJ6+VwDzyPNsSWKfd/07s2yH1BayKVCH1gozcdi1tFHnHXfMpxPji5
jGOc2qOcd50QWYuNu+QXnbSGY/oQG6Z595+8wUN0hWefZacypJOhtK2CGegB0DGX
jBH48dl8rzfIEBS9led4y9TjAJyVWM8rJrplk7rrfrUx9FjmMj/mOGj6fg+Z7LMG
Yy4wsFqw01IZCkF/AYeinYHTAUK2KCyWj257JuVuYQKBgQDxEabOaG7Ut9SNM76o
OmALfqoI8cescZGQl2qlNX8IJQTHvscN6quS+t7FNkyffm+qKoiKAoPwEL0SSO5+
yD7coMbqRityDtWJUxNCOvweL91WGhdCPIpVzIdxkeqL+AR48USVCmxCEGD+ygxf
24Be/xrEKz1VRUR6RlnkITE6cwKBgQDBuboBUiPaHmkE+1FFObowYvFHUANcXLZB
EnohiBKz66cv9Yf88J/euCiyB8P4+SWzjpZKpDVLAayfOP4Izdtvml5HEf660a4g
Gd1dZp+1caQs2ygSnBhr2RkzweODyHbkF2GVwM9d1A+0AuC4wVZ2bXbJrC0lK635
/YAmOdceNwKBgD/g44iSV7v6MlJwQbcmMMka+UeBed2SAnaECPhaIp0v4gJj5S8k
3e4Gl/0+FDO3NzOqLaAUZo24gcFUng3uVen0mID/swd4MtE+uD22j5QYLthf9YXR
sP5nQgSwG6yXPegmVnv/1Qv0dx9MvtavvWZuxtLwekIcJrcX6T3wJbFNAoGAGV/C
RToFCCTDjKt+UZrmEEBlafnI9ugN1ygcZxfzmy1akKWQUkkSJ5HngqoRuSKpFYOv
m8c2U8S8X36Ph4evHkcR4i0xODcOn5XDsOAoOxPPdTCfZxCbAkVFT8otiq1PJUEK
vxqqDpggFmvqE0j/kjN0Q6YRo7S87OmPR3J8ArECgYAYg4r/7RS1BG95Ltbkii4b
y5YNfPY8PBnUjragyJw9qCTyqPZloXmpDcA9GW+eqo3yba9ivc4d4HuMtkqSn+fJ
6ovmxaAoeKKs/hy7wJDAbKV16QWUOrcNzF01bx/0nL2BvBQ6D8gJ9N27S0EyKufK
odjya7RbWtWSjszasumVuQ==
-----END PRIVATE KEY-----`;

/** An https:// receiver on a random port. */
async function startTlsReceiver(status: number): Promise<{ port: number; hits: number[] }> {
  const hits: number[] = [];
  const server = createHttpsServer({ cert: TLS_CERT, key: TLS_KEY }, (req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push(status);
      res.writeHead(status).end('from the receiver');
    });
  });
  return { port: await listenOnLoopback(server, cleanups), hits };
}

/**
 * A CONNECT proxy: refuses every tunnel with `refuse()`'s status while it returns one, otherwise opens
 * the tunnel to the requested host. Plain (absolute-URI) requests get `plainStatus`.
 */
async function startConnectProxy(opts: { refuse: () => number | undefined; plainStatus?: number }) {
  const seen: string[] = [];
  const tunnels = new Set<{ destroy(): void }>();
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    res
      .writeHead(opts.plainStatus ?? 502, { 'proxy-authenticate': 'Basic realm="corp"' })
      .end('proxy says no');
  });
  server.on('connect', (req, socket) => {
    seen.push(`CONNECT ${req.url}`);
    const status = opts.refuse();
    if (status !== undefined) {
      socket.end(
        `HTTP/1.1 ${status} Proxy Says No\r\nProxy-Authenticate: Basic realm="corp"\r\nContent-Length: 13\r\n\r\nproxy says no`,
      );
      return;
    }
    const [host, port] = req.url!.split(':');
    const upstream = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    tunnels.add(socket).add(upstream);
  });
  const port = await listenOnLoopback(server, cleanups);
  // Run first (clean-ups run last-in first-out): tunnels leave the server's connection tracking once
  // CONNECT is answered, so closeAllConnections would not end them.
  cleanups.push(async () => {
    for (const socket of tunnels) socket.destroy();
  });
  return { url: `http://127.0.0.1:${port}`, seen };
}

describe('a proxy refusing a delivery', () => {
  it("is a network error, not the https receiver's answer, whatever status it refuses CONNECT with", async () => {
    const receiver = await startTlsReceiver(202);
    let refusal: number | undefined = 407;
    const proxy = await startConnectProxy({ refuse: () => refusal });
    process.env.HTTPS_PROXY = proxy.url;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const url = `https://localhost:${receiver.port}/hook`;
    for (const status of [407, 403, 410, 400, 502]) {
      refusal = status;
      const attempt = await send(url);
      expect(attempt.status).toBeUndefined();
      expect(attempt.error).toBe(`proxy refused CONNECT: ${status}`);
    }
    expect(receiver.hits).toEqual([]);
    // Once the proxy lets the tunnel through, the receiver's own answer counts.
    refusal = undefined;
    expect(await send(url)).toMatchObject({ status: 202, bodyExcerpt: 'from the receiver' });
    expect(receiver.hits).toEqual([202]);
    expect(proxy.seen).toHaveLength(6);
  });

  it('is a network error when an http proxy asks for authentication (407)', async () => {
    const proxy = await startConnectProxy({ refuse: () => 407, plainStatus: 407 });
    process.env.HTTP_PROXY = proxy.url;
    const attempt = await send('http://receiver.example.test/hook');
    expect(attempt.status).toBeUndefined();
    expect(attempt.error).toBe('proxy refused request: 407');
    expect(proxy.seen).toEqual(['POST http://receiver.example.test/hook']);
  });

  it('is retried, never dead-letters the event as rejected nor disables the destination (410)', async () => {
    let refusal: number | undefined = 410;
    const proxy = await startConnectProxy({ refuse: () => refusal });
    const receiver = await startTlsReceiver(200);
    process.env.HTTPS_PROXY = proxy.url;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const url = `https://localhost:${receiver.port}/hook`;
    const h = await startHarness(url, { sweepIntervalMs: 0 });
    cleanups.push(() => h.close());
    const e = await h.events.publish('campaign.state.changed', 'camp-proxy', {});
    await waitFor(() => proxy.seen.length >= 3, 10_000, 'three refused attempts');
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'state')).toBe('pending');
    expect(await h.redis.hget(h.keys.webhookEvent(e.id), 'lastError')).toBe('proxy refused CONNECT: 410');
    expect((await getDestinationState(h, url)).enabled).toBe(true);
    expect(await listDeadLetters(h)).toEqual([]);
    refusal = undefined;
    await waitFor(
      async () => (await h.redis.hget(h.keys.webhookEvent(e.id), 'state')) === 'delivered',
      10_000,
      'delivered once the proxy lets it through',
    );
    expect(receiver.hits).toEqual([200]);
  });
});
