import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
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

  it('sends the writes of one tick together, in order, once the tick is over', async () => {
    const { port, chunks } = await chunkServer();
    const socket = await connect(port);
    coalesceSocketWrites(socket);
    coalesceSocketWrites(socket); // applying twice changes nothing

    socket.write('a');
    await Promise.resolve(); // a promise continuation of the same tick
    socket.write('b');
    socket.write('c');
    expect(socket.writableCorked).toBe(1);
    // Flushed in the same turn of the event loop, not a later one: no added latency.
    await new Promise((resolve) => process.nextTick(resolve));
    expect(socket.writableCorked).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(chunks).toEqual(['abc']);

    socket.write('d');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(chunks).toEqual(['abc', 'd']);
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
