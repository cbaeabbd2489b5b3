import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';

const coalescing = new WeakSet<Socket>();

/**
 * Holds a socket's writes until the current turn of the event loop has run its callbacks, then sends
 * them together. ioredis writes every command to the socket as it is issued, one `write` system call
 * each, and on the shared connection a busy process issues commands from many callbacks per turn:
 * each Redis answer, CXone response and API request that arrived together resumes a different launch,
 * and each of those continuations sends a store script, a queue add or an audit append. On loopback
 * each call also runs the receiving side's TCP work, so one write per turn instead of one per callback
 * saves CPU on both sides: on the development machine, 5.1 → 2.4 writes per launch and about 10 %
 * less of the process's main thread per launch (docs/fleet-benchmark.md, _Eighth pass_).
 *
 * The flush is a `setImmediate`: it runs once the I/O callbacks of the turn the first write was made
 * in have run, before the process waits for more I/O or runs the next turn's timers, so a command is
 * never held while the process is idle; at most it waits for the callbacks already being run. Order
 * is unchanged: one socket, one buffer.
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
      // Not `process.nextTick`: that flushes after each callback's promise continuations, which on a
      // busy process is one write per callback (twice as many).
      setImmediate(flush);
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
