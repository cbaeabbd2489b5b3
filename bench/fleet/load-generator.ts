/**
 * The upstream system (a CRM) in a process of its own: it POSTs the benchmark's launches to the API
 * and reports when each was sent and which launch id it got. Its HTTP client's CPU (building and
 * writing each request, parsing each answer) belongs to the caller, not to the orchestrator, and in
 * the benchmark's process it was charged to the path under test — as the sandbox's CPU would be, were
 * it not in its own process too. The bare path needs no such process: its submission is a
 * `queue.add`, which is the bare system's own entry point, as the API is ours.
 *
 * Run as a child with an IPC channel (`startLoadGenerator`); `API_URL` and `API_TOKEN` in its env.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchCampaignConfig } from './config.js';
import { createJsonClient } from './http-client.js';
import { submitterOf, type Sent, type Submitter } from './submissions.js';

export interface Launched extends Sent {
  launchId: string;
}

type Work =
  | { kind: 'saturate'; offset: number; count: number; concurrency: number }
  | { kind: 'pace'; offset: number; count: number; rate: number };
type Request = Work & { id: number };
type Reply = { id: number; sent: Launched[] } | { id: number; error: string };

export interface LoadGenerator extends Submitter<Launched> {
  /** The generator's process id, for reading its CPU time. */
  pid: number | undefined;
  close(): Promise<void>;
}

/** Starts the load generator's process against the API at `apiUrl`. */
export async function startLoadGenerator(apiUrl: string, apiToken: string): Promise<LoadGenerator> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { PATH: process.env.PATH, API_URL: apiUrl, API_TOKEN: apiToken },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const waiting = new Map<number, { resolve: (s: Launched[]) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  child.on('message', (reply: Reply) => {
    const waiter = waiting.get(reply.id);
    waiting.delete(reply.id);
    if ('error' in reply) waiter?.reject(new Error(`load generator: ${reply.error}`));
    else waiter?.resolve(reply.sent);
  });
  void exited.then(() => {
    for (const waiter of waiting.values()) waiter.reject(new Error('the load generator process exited'));
    waiting.clear();
  });
  const ask = (work: Work) =>
    new Promise<Launched[]>((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, { resolve, reject });
      child.send({ ...work, id } satisfies Request);
    });
  return {
    pid: child.pid,
    saturate: (offset, count, concurrency) => ask({ kind: 'saturate', offset, count, concurrency }),
    pace: (offset, count, rate) => ask({ kind: 'pace', offset, count, rate }),
    close: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The child's side: one submitter over a keep-alive client, answering each request in turn. */
function serve(apiUrl: string, apiToken: string): void {
  const client = createJsonClient(apiUrl, { authorization: `Bearer ${apiToken}` });
  const submitter = submitterOf(async (index): Promise<Launched> => {
    const sentAt = Date.now();
    const config = benchCampaignConfig(index, sentAt);
    const res = await client.post('/v1/campaigns', config);
    const body = res.body as { launchId?: string } | null;
    if (res.status !== 202 || !body?.launchId) {
      throw new Error(`launch refused: ${res.status} ${JSON.stringify(body)}`);
    }
    return { name: config.name, sentAt, launchId: body.launchId };
  });
  process.on('message', (request: Request) => {
    const work =
      request.kind === 'saturate'
        ? submitter.saturate(request.offset, request.count, request.concurrency)
        : submitter.pace(request.offset, request.count, request.rate);
    work.then(
      (sent) => process.send?.({ id: request.id, sent } satisfies Reply),
      (err: unknown) =>
        process.send?.({
          id: request.id,
          error: err instanceof Error ? err.message : String(err),
        } satisfies Reply),
    );
  });
  process.on('disconnect', () => {
    client.close();
    process.exit(0);
  });
}

// Only as the forked child: importing this module (the benchmark, its tests) must not start serving.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const { API_URL, API_TOKEN } = process.env;
  if (!API_URL || !API_TOKEN) throw new Error('the load generator needs API_URL and API_TOKEN');
  serve(API_URL, API_TOKEN);
}
