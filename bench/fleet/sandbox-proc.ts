import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A sandbox in its own process (the `sandbox` role), so its CPU is not charged to the fleet under test. */
export interface SandboxProcess {
  url: string;
  /** The sandbox process's id, for reading its CPU time. */
  pid: number | undefined;
  /**
   * Name → when the sandbox created the campaign (epoch ms), from its control surface; only campaigns
   * created at or after `since`, so that waiting for one round does not re-read every earlier round.
   */
  arrivals(since?: number): Promise<Map<string, number>>;
  count(): Promise<number>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function waitFor(
  what: string,
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function listCampaigns(url: string, createdSince = 0): Promise<{ name: string; createdAt: string }[]> {
  const res = await fetch(`${url}/__sandbox/campaigns?createdSince=${createdSince}`);
  if (!res.ok) throw new Error(`sandbox control surface answered ${res.status}`);
  return ((await res.json()) as { campaigns: { name: string; createdAt: string }[] }).campaigns;
}

/**
 * Starts `src/main.ts sandbox` with the rate limit out of the way (100 000 requests per second per
 * endpoint) and waits until it answers.
 */
export async function startSandboxProcess(): Promise<SandboxProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src', 'main.ts'), 'sandbox'],
    {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        SANDBOX_PORT: String(port),
        SANDBOX_RATE_LIMIT_PER_MIN: '100000',
        SANDBOX_RATE_LIMIT_WINDOW_MS: '1000',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      'the sandbox process to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`the sandbox process exited with ${child.exitCode}`);
        return fetch(`${url}/__sandbox/config`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    pid: child.pid,
    arrivals: async (since = 0) =>
      new Map((await listCampaigns(url, since)).map((c) => [c.name, Date.parse(c.createdAt)])),
    count: async () => (await listCampaigns(url)).length,
    close: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
