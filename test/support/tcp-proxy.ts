import net from 'node:net';
import { REDIS_URL } from './redis-prefix.js';

/**
 * A TCP proxy in front of Redis that a test can freeze (bytes held both ways, connections kept open:
 * a stalled Redis or network) or cut (connections closed, new ones refused: Redis down).
 */
export interface TcpProxy {
  url: string;
  freeze(): void;
  thaw(): void;
  cut(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Pure: the URL that reaches `redisUrl`'s Redis through a proxy on 127.0.0.1:`port` — with its user,
 * password and database, so that `npm test` against a Redis that wants a password (README: it needs
 * only a reachable REDIS_URL) authenticates through the proxy too, in the same database.
 */
export function proxiedRedisUrl(redisUrl: string, port: number): string {
  const url = new URL(redisUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

/** A proxy in front of `redisUrl`'s Redis (REDIS_URL unless told), on a free port of 127.0.0.1. */
export async function startTcpProxy(redisUrl: string = REDIS_URL): Promise<TcpProxy> {
  const target = new URL(redisUrl);
  const targetPort = Number(target.port || 6379);
  // A bracketed IPv6 literal ([::1]) is connected to without its brackets.
  const targetHost = target.hostname.replace(/^\[(.*)\]$/, '$1');
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const held: Array<() => void> = [];
  const relay = (from: net.Socket, to: net.Socket) =>
    from.on('data', (chunk: Buffer) => {
      if (frozen) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const onConnection = (client: net.Socket) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    relay(client, upstream);
    relay(upstream, client);
  };
  let server = net.createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const listen = async () => {
    server = net.createServer(onConnection);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return {
    url: proxiedRedisUrl(redisUrl, port),
    freeze: () => void (frozen = true),
    thaw: () => {
      frozen = false;
      for (const write of held.splice(0)) write();
    },
    cut: () => void stop(),
    restore: listen,
    close: stop,
  };
}
