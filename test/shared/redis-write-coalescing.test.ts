import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRedis } from '../../src/shared/redis.js';
import { coalesceRedisWrites, coalesceSocketWrites } from '../../src/shared/redis-write-coalescing.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

const streamOf = (redis: Redis) => (redis as unknown as { stream: net.Socket }).stream;

describe('coalesceSocketWrites', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A TCP server that records each chunk as it was read. */
  async function chunkServer(): Promise<{ port: number; chunks: string[] }> {
    const chunks: string[] = [];
    const server = net.createServer((socket) => socket.on('data', (d) => chunks.push(d.toString())));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return { port: (server.address() as AddressInfo).port, chunks };
  }

  async function connect(port: number): Promise<net.Socket> {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise((resolve) => socket.once('connect', resolve));
    cleanups.push(() => socket.destroy());
    return socket;
  }

  /**
   * The system-level writes the socket makes (each a `write`/`writev` call), as the data each carried:
   * the receiving side may read two of them as one chunk, so its reads cannot tell.
   */
  function recordWrites(socket: net.Socket): string[] {
    const writes: string[] = [];
    type Chunk = { chunk: Buffer | string };
    const raw = socket as unknown as {
      _write(chunk: Buffer | string, encoding: string, cb: () => void): void;
      _writev(chunks: Chunk[], cb: () => void): void;
    };
    const write = raw._write.bind(socket);
    const writev = raw._writev.bind(socket);
    raw._write = (chunk, encoding, cb) => {
      writes.push(chunk.toString());
      write(chunk, encoding, cb);
    };
    raw._writev = (chunks, cb) => {
      writes.push(chunks.map((c) => c.chunk.toString()).join(''));
      writev(chunks, cb);
    };
    return writes;
  }

  it('sends the writes of one turn of the event loop together, in order, once its callbacks have run', async () => {
    const { port, chunks } = await chunkServer();
    const socket = await connect(port);
    const writes = recordWrites(socket);
    coalesceSocketWrites(socket);
    coalesceSocketWrites(socket); // applying twice changes nothing

    socket.write('a');
    await Promise.resolve(); // a promise continuation of the same callback
    socket.write('b');
    // A later callback of the same turn (as when several answers arrive together) joins the same write.
    await new Promise((resolve) => process.nextTick(resolve));
    socket.write('c');
    expect(socket.writableCorked).toBe(1);
    // Flushed before the process waits for I/O or runs timers: an immediate queued now runs after it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.writableCorked).toBe(0);
    expect(writes).toEqual(['abc']);
    // Waited for, not a fixed 50 ms: a loaded machine can take longer to hand the bytes over.
    const received = (data: string) =>
      vi.waitFor(() => expect(chunks.join('')).toBe(data), { timeout: 5_000, interval: 5 });
    await received('abc');

    socket.write('d');
    await received('abcd');
    expect(writes).toEqual(['abc', 'd']);
  });

  it('never holds a write past the turn it was made in, even when nothing else happens', async () => {
    const { port, chunks } = await chunkServer();
    const socket = await connect(port);
    coalesceSocketWrites(socket);
    const arrived = new Promise<void>((resolve) => {
      const check = () => (chunks.length > 0 ? resolve() : setTimeout(check, 1));
      check();
    });
    const started = Date.now();
    // From a timer, as a heartbeat or a scheduled retry writes: still flushed in the same turn.
    setTimeout(() => socket.write('x'), 5);
    await arrived;
    expect(chunks).toEqual(['x']);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('leaves other sockets alone', async () => {
    const { port } = await chunkServer();
    const socket = await connect(port);
    socket.write('a');
    expect(socket.writableCorked).toBe(0);
  });
});

describe('coalesceRedisWrites', () => {
  let redis: Redis | undefined;
  const prefix = testPrefix('coalesce');
  afterEach(async () => {
    if (redis) {
      await deletePrefix(redis, prefix);
      redis.disconnect();
      redis = undefined;
    }
  });

  it('keeps every command and its answer in order, on the first connection and after a reconnect', async () => {
    const conn = createRedis(REDIS_URL);
    redis = conn;
    coalesceRedisWrites(conn);
    const key = `${prefix}:counter`;
    const burst = () => Promise.all(Array.from({ length: 200 }, () => conn.incr(key)));

    await conn.ping();
    const first = burst();
    expect(streamOf(conn).writableCorked).toBe(1);
    expect(await first).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));

    const before = streamOf(conn);
    conn.disconnect(true);
    await new Promise<void>((resolve) => conn.once('ready', () => resolve()));
    expect(streamOf(conn)).not.toBe(before);
    const second = burst();
    expect(streamOf(conn).writableCorked).toBe(1);
    expect(await second).toEqual(Array.from({ length: 200 }, (_, i) => i + 201));
  });
});
