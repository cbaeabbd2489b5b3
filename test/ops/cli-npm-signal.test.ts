import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, it } from 'vitest';

/**
 * A supervisor, a CI step's timeout or `kill <pid>` signals `npm run cxo` itself, not its process
 * group. npm passes SIGTERM on to the script's shell only: while the shell ran `tsx src/cli/cxo.ts`
 * as a child the shell died of it, npm exited, and cxo went on, orphaned (`watch` for ever). The
 * script execs tsx (as `npm start` execs node), which relays the signal to cxo.
 */
describe('npm run cxo signalled through npm', () => {
  // An API that takes the request and never answers: cxo waits on it (30 s) unless it is stopped.
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    // Read (and drop) the request, so that the client's end of the connection is seen.
    socket.resume();
    socket.on('close', () => open.delete(socket));
  });
  afterAll(async () => {
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('ends cxo on one SIGTERM to npm: its request to the API is closed', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const npm = spawn('npm', ['run', '--silent', 'cxo', '--', 'status', 'some-campaign'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        API_URL: `http://127.0.0.1:${port}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
    const until = async (done: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(() => open.size > 0, 'cxo asks the API');

    npm.kill('SIGTERM');
    await exited;
    // cxo itself is gone too (long before its 30 s request timeout), not left running without npm.
    await until(() => open.size === 0, 'cxo closes its request');
  }, 60_000);
});
