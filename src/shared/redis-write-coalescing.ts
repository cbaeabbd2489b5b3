import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';

const coalescing = new WeakSet<Socket>();

/**
 * Holds a socket's writes until the current tick's synchronous code and promise continuations have
 * run, then sends them together. ioredis writes every command to the socket as it is issued, one
 * `write` system call each, and on the shared connection a launch issues its commands in bursts
 * (a store script, a queue add and an audit append from the same continuation; twenty jobs at once).
 * On loopback each call also runs the receiving side's TCP work, so batching them costs nothing in
 * latency (the flush is in the same tick) and saves about 8 % of a launch's CPU on the development
 * machine (docs/operations.md, _Seventh pass_). Order is unchanged: one socket, one buffer.
 */
export function coalesceSocketWrites(socket: Socket): void {
  if (coalescing.has(socket)) return;
  coalescing.add(socket);
  const write = socket.write;
  let corked = false;
  const flush = () => {
    corked = false;
    socket.uncork();
  };
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      socket.cork();
      // nextTick callbacks run once the current microtask queue is empty, so every command issued
      // by the promise continuations of this tick lands in the same flush.
      process.nextTick(flush);
    }
    return write.apply(this, args);
  } as Socket['write'];
}

/** Coalesces the writes of every socket this connection opens, reconnections included. */
export function coalesceRedisWrites(redis: Redis): void {
  const apply = () => {
    const stream = (redis as unknown as { stream?: Socket }).stream;
    if (stream) coalesceSocketWrites(stream);
  };
  apply();
  redis.on('connect', apply);
}
