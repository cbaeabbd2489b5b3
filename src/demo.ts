/**
 * `npm run demo`: the whole story in one terminal. Starts the fleet in this process (embedded CXone
 * sandbox with fast simulated time, producer API, every worker) and a local webhook receiver that
 * verifies signatures, launches examples/campaign.json through the API, and narrates the campaign's
 * life: launch, statistics polls, pacing decisions, webhook events, audit records, then an operator's
 * pause, resume and stop, until it completes (or Ctrl-C). Everything it started is closed on exit,
 * and its Redis keys (under a private prefix) are deleted.
 *
 * Options: --duration SECONDS or --duration=SECONDS (dialing time before the operator steps in,
 * default 45, at least 5); -h, --help.
 * Env: REDIS_URL (a private redis-server is started when it is unset and nothing answers),
 *      SANDBOX_TIME_SCALE (default 60: one real second is a simulated minute), LOG_LEVEL (default warn);
 *      of the README's other variables only those in DEMO_SHELL_VARIABLES (demo/env.ts).
 */
// First: refuses a Node that cannot load Fastify with one line, before the imports below crash on it.
import './process/node-support-check.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ApiClient, ApiError } from './cli/api-client.js';
import { demoEnv } from './demo/env.js';
import {
  auditViewState,
  decisionKey,
  DEMO_USAGE,
  demoCampaign,
  demoOutcome,
  eventLine,
  newAuditLines,
  pacingLine,
  parseDemoArgs,
  stamp,
  statsLine,
  type ReceivedEvent,
} from './cli/demo-plan.js';
import {
  formatIssues,
  isFinalCampaign,
  type AuditPageView,
  type CampaignViewLoose,
  type LaunchView,
  isFinalLaunch,
} from './cli/format.js';
import { findOnPath, startPrivateRedis, type PrivateRedis } from './process/private-redis.js';
import { buildApiApp } from './producers/app.js';
import { redactUrl } from './shared/redact-url.js';
import { startEmbeddedSandbox } from './sandbox/embedded.js';
import type { RunningSandbox } from './sandbox/types.js';
import type { CampaignConfigInput } from './shared/campaign-config.js';
import { campaignConfigSchema } from './shared/campaign-schema.js';
import { toValidationIssues } from './shared/campaign-config.js';
import { ConfigError, loadConfig } from './shared/config.js';
import { createContext, type ClosableContext } from './shared/context-factory.js';
import { isProxyVariable } from './shared/cxone/http.js';
import { createLogger } from './shared/logger.js';
import { deletePrivatePrefixAt } from './shared/private-prefix.js';
import { checkRedis, redisRefusalLine } from './shared/redis.js';
import { verifyWebhook } from './shared/webhooks/sign.js';
import { startWorkers, WORKER_FACTORIES, type RunningWorkers } from './workers/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
/** Signals this close to the first are copies of it (see onSignal), not a second Ctrl-C. */
const SAME_SIGNAL_MS = 1_000;
const say = (line: string) => process.stdout.write(`${stamp(started, Date.now())}  ${line}\n`);

/**
 * `count` distinct ports free now. All are held open until every one is picked: picked one at a time,
 * the second could be the first again (its socket closed), and the API and the sandbox on one port
 * is a configuration loadConfig refuses.
 */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** A webhook destination that verifies Standard Webhooks signatures, as a customer's endpoint would. */
async function startReceiver(
  secret: string,
  onEvent: (e: ReceivedEvent) => void,
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let parsed: { id?: string; type?: string; campaignId?: string } = {};
      try {
        parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
      } catch {
        // reported below as an unverifiable event
      }
      const base = {
        id: parsed.id ?? String(req.headers['webhook-id'] ?? '?'),
        type: parsed.type ?? '?',
        ...(parsed.campaignId ? { campaignId: parsed.campaignId } : {}),
      };
      try {
        verifyWebhook({ secret, headers: req.headers, body });
        onEvent({ ...base, verified: true });
        res.writeHead(204).end();
      } catch (err) {
        onEvent({ ...base, verified: false, problem: (err as Error).message });
        res.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, server };
}

interface Fleet {
  privateRedis?: PrivateRedis;
  sandbox?: RunningSandbox;
  ctx?: ClosableContext;
  workers?: RunningWorkers;
  api?: FastifyInstance;
  receiver?: Server;
}

async function closeFleet(fleet: Fleet, prefix: string): Promise<void> {
  const step = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      console.error(`shutdown: ${(err as Error).message}`);
    }
  };
  if (fleet.api) await step(() => fleet.api!.close());
  if (fleet.workers) await step(() => fleet.workers!.close(10_000));
  if (fleet.ctx) {
    const { redisUrl } = fleet.ctx.config;
    // Closed first: the fleet limiter's heartbeats would write some of its keys again after a delete.
    await step(() => fleet.ctx!.close());
    // The demo's keys live under its own prefix (the limiter's Bottleneck ones under `b_` + it);
    // leave the Redis as it was found.
    await step(() => deletePrivatePrefixAt(redisUrl, prefix));
  }
  if (fleet.sandbox) await step(() => fleet.sandbox!.close());
  if (fleet.receiver) await step(() => new Promise<void>((r) => fleet.receiver!.close(() => r())));
  if (fleet.privateRedis) await step(() => fleet.privateRedis!.stop());
}

async function main(): Promise<number> {
  const args = parseDemoArgs(process.argv.slice(2));
  if (args.kind === 'help') {
    console.log(DEMO_USAGE);
    return 0;
  }
  if (args.kind === 'error') {
    // A mistyped option is the user's to fix, not a crash: one line and the usage, no stack.
    console.error(`demo: ${args.error}\n${DEMO_USAGE}`);
    return 1;
  }
  const { durationSec } = args;
  const stop = new AbortController();
  const fleet: Fleet = {};
  const prefix = `{cxo-demo-${randomUUID().slice(0, 8)}}`;
  // Ctrl-C, a terminal closing, a process manager's SIGTERM: each stops the demo the same way, with
  // everything closed and the keys deleted. A second signal exits at once and says what is left.
  let stopping = false;
  let stoppingAt = 0;
  let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  // A terminal that closed (SIGHUP) turns every later write to it into an EIO error: output is moot
  // then, and an unhandled one would end the demo before it cleaned up.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  const onSignal = (signal: NodeJS.Signals) => {
    // One Ctrl-C under `npm run demo` may reach the demo twice: the terminal signals the whole
    // process group, tsx (which runs the demo) included, and tsx relays SIGINT to the demo again when
    // the demo's report of it did not reach tsx within 30 ms (the demo handled it first). A repeat
    // that soon is the same keypress: taken for a second one, it left the fleet's keys behind.
    if (stopping && Date.now() - stoppingAt < SAME_SIGNAL_MS) return;
    if (stopping) {
      // The shell's REDIS_URL by name, not by value: it may carry a password, which the terminal (and
      // its scrollback) need not show. The private redis-server's URL has none.
      const url = process.env.REDIS_URL === undefined ? redisUrl : '"$REDIS_URL"';
      console.error(
        `${signal} again: exiting at once; Redis keys under ${prefix} (and b_${prefix}) may be left: ` +
          `redis-cli -u ${url} --scan --pattern '*${prefix.slice(1, -1)}*' | xargs -r redis-cli -u ${url} del`,
      );
      void fleet.privateRedis?.stop();
      process.exit(signal === 'SIGINT' ? 130 : 128 + (signal === 'SIGHUP' ? 1 : 15));
    }
    stopping = true;
    stoppingAt = Date.now();
    say(`${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping the demo (a second one exits at once)`);
    stop.abort();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  // The demo's CXone is its own sandbox on the loopback interface: a proxy named in the shell would
  // carry its calls away to nowhere (the CXone client follows the *_PROXY variables).
  for (const name of Object.keys(process.env)) {
    if (isProxyVariable(name)) delete process.env[name];
  }

  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const events: ReceivedEvent[] = [];
  // A signal while the fleet is starting would otherwise be seen only once the launch was under way:
  // the demo would start everything, launch a campaign and only then stop. Each step looks for it.
  const stopped = () => {
    if (stop.signal.aborted) say('Demo stopped before launching anything');
    return stop.signal.aborted;
  };
  try {
    // ── 1. The fleet ──
    // A REDIS_URL that is no Redis URL is named as npm start names it, not taken for a Redis that
    // does not answer (the rest of the shell's variables are checked once the demo's are set).
    if (process.env.REDIS_URL !== undefined) {
      try {
        loadConfig({ REDIS_URL: process.env.REDIS_URL }, { servesApi: false });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        console.error(err.message);
        return 1;
      }
    }
    const redisCheck = await checkRedis(redisUrl);
    if (!redisCheck.ok && redisCheck.problem === 'refused') {
      // Up, but refusing the password (or database): no private redis-server would be right either.
      console.error(redisRefusalLine(redactUrl(redisUrl), redisCheck.message));
      return 1;
    }
    if (!redisCheck.ok && redisCheck.problem !== 'replica') {
      const binary = process.env.REDIS_URL === undefined ? findOnPath('redis-server') : undefined;
      if (!binary) {
        console.error(`Redis does not answer at ${redactUrl(redisUrl)}; start one or set REDIS_URL.`);
        return 1;
      }
      const [port] = (await freePorts(1)) as [number];
      fleet.privateRedis = await startPrivateRedis(binary, port);
      redisUrl = `redis://127.0.0.1:${port}`;
      say(`started a private redis-server on port ${port} (nothing is persisted)`);
    }
    if (stopped()) return 0;
    const receiver = await startReceiver(secret, (e) => events.push(e));
    fleet.receiver = receiver.server;
    // The demo always runs against its own embedded sandbox, receiver and prefix, whatever the shell
    // says: of the README's variables only those that shape the demo itself are taken (demo/env.ts).
    const [apiPort, sandboxPort] = (await freePorts(2)) as [number, number];
    const env = demoEnv(process.env, {
      redisUrl,
      port: apiPort,
      sandboxPort,
      prefix,
      webhookUrl: receiver.url,
      webhookSecret: secret,
    });
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // A variable the demo does use (LOG_LEVEL, SANDBOX_*, …) is the user's to fix, as npm start says it.
      console.error(err.message);
      return 1;
    }
    const logger = createLogger(config.logLevel, { role: 'demo' });
    fleet.sandbox = await startEmbeddedSandbox(config, logger);
    if (stopped()) return 0;
    fleet.ctx = await createContext(config, logger);
    if (stopped()) return 0;
    fleet.workers = await startWorkers(fleet.ctx);
    if (stopped()) return 0;
    fleet.api = await buildApiApp(fleet.ctx);
    await fleet.api.listen({ port: config.port, host: config.host });
    if (stopped()) return 0;
    const apiUrl = `http://127.0.0.1:${config.port}`;
    say('fleet up:');
    say(`  API          ${apiUrl}/v1   (token: ${config.apiToken})`);
    say(`  Bull Board   ${apiUrl}/admin/queues   (browser: any user, password ${config.apiToken})`);
    say(`  Metrics      ${apiUrl}/metrics    API docs ${apiUrl}/docs`);
    say(`  Sandbox      ${fleet.sandbox.url}   (time runs ${config.sandbox.timeScale}× faster)`);
    say(`  Workers      ${WORKER_FACTORIES.map(([name]) => name).join(', ')}`);
    say(`  Webhooks  →  ${receiver.url} (signatures verified with the demo's whsec_ secret)`);
    say(`  Redis        ${redactUrl(redisUrl)}   (keys under ${prefix}, deleted when the demo ends)`);
    const api = new ApiClient({ apiUrl, token: config.apiToken });

    // ── 2. The launch ──
    const example = JSON.parse(
      await readFile(join(ROOT, 'examples', 'campaign.json'), 'utf8'),
    ) as CampaignConfigInput;
    // The last look before the launch: a signal taken while the fleet came up (or while the example
    // was read) must not launch anything.
    if (stopped()) return 0;
    const { config: campaignConfig, changes } = demoCampaign(example, Date.now());
    say(`launching examples/campaign.json ("${example.name}"); for the demo it ${changes.join('; ')}`);
    const local = campaignConfigSchema.safeParse(campaignConfig);
    if (!local.success) {
      console.error(
        `the demo campaign does not validate:\n${formatIssues(toValidationIssues(local.error, campaignConfig))}`,
      );
      return 1;
    }
    let launch = (
      await api.post<LaunchView>('/v1/campaigns', campaignConfig, { 'idempotency-key': `demo-${prefix}` })
    ).body;
    say(`POST /v1/campaigns → 202 launch ${launch.launchId} (${launch.status})`);
    let lastLaunchStatus = launch.status;
    let lastLaunchError: string | undefined;
    while (!isFinalLaunch(launch.status)) {
      if (stop.signal.aborted) return 0;
      await sleep(250);
      launch = (await api.get<LaunchView>(`/v1/launches/${launch.launchId}`)).body;
      if (launch.status !== lastLaunchStatus) say(`launch ${launch.launchId}: ${launch.status}`);
      // A retrying launch stays "running"; its failed tries are the story meanwhile.
      if (launch.lastError && launch.lastError !== lastLaunchError) {
        say(`launch ${launch.launchId}: last try ${launch.lastError}`);
      }
      lastLaunchStatus = launch.status;
      lastLaunchError = launch.lastError;
    }
    if (launch.status === 'failed' || !launch.campaignId) {
      console.error(`the launch failed: ${JSON.stringify(launch.error ?? launch)}`);
      return 1;
    }
    const campaignId = launch.campaignId;
    say(
      `campaign ${campaignId} created on CXone; watch it with: API_URL=${apiUrl} API_TOKEN=${config.apiToken} npx tsx src/cli/cxo.ts watch ${campaignId}`,
    );

    // ── 3. Its life ──
    let shownEvents = 0;
    const auditView = auditViewState();
    let lastStats = '';
    let lastDecision: string | undefined;
    const narrate = async (): Promise<CampaignViewLoose | undefined> => {
      let view: CampaignViewLoose | undefined;
      try {
        view = (await api.get<CampaignViewLoose>(`/v1/campaigns/${campaignId}`)).body;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
      }
      if (view) {
        const line = statsLine(view);
        if (line !== lastStats) say(`stats   ${line}`);
        lastStats = line;
        const key = decisionKey(view.pacing);
        if (key && key !== lastDecision) say(pacingLine(view.pacing) ?? 'pacing decision');
        lastDecision = key;
      }
      while (shownEvents < events.length) say(eventLine(events[shownEvents++] as ReceivedEvent));
      // Audit records (and gaps: records the API could not return) not shown yet. The trail is short
      // in a demo, so it is read from the start each time; the cursor only pages within one look.
      const lines = await newAuditLines(async (cursor) => {
        const query = new URLSearchParams({ limit: '200', ...(cursor ? { cursor } : {}) });
        return (await api.get<AuditPageView>(`/v1/campaigns/${campaignId}/audit?${query.toString()}`)).body;
      }, auditView);
      for (const line of lines) say(line);
      return view;
    };

    const act = async (action: 'pause' | 'resume' | 'stop') => {
      try {
        const res = await api.post<{ commandId?: string }>(`/v1/campaigns/${campaignId}/actions`, { action });
        say(`operator: ${action} → 202 (command ${res.body.commandId ?? '?'})`);
      } catch (err) {
        say(`operator: ${action} refused: ${(err as Error).message}`);
      }
    };

    // The operator's part: pause (unless compliance already did), resume, then stop for good.
    const script: { atSec: number; action: 'pause' | 'resume' | 'stop'; when?: string }[] = [
      { atSec: durationSec, action: 'pause', when: 'active' },
      { atSec: durationSec + 6, action: 'resume', when: 'paused' },
      { atSec: durationSec + 14, action: 'stop' },
    ];
    const lifeStarted = Date.now();
    let finalView: CampaignViewLoose | undefined;
    while (!stop.signal.aborted) {
      const view = await narrate();
      if (view && isFinalCampaign(view.status)) {
        finalView = view;
        break;
      }
      const elapsed = (Date.now() - lifeStarted) / 1000;
      while (script.length > 0 && elapsed >= (script[0] as { atSec: number }).atSec) {
        const step = script.shift() as (typeof script)[number];
        if (step.when && view?.status !== step.when) {
          say(`operator: skips ${step.action} (the campaign is ${view?.status ?? 'unknown'})`);
          continue;
        }
        await act(step.action);
      }
      if (elapsed > durationSec + 60) {
        say('the campaign did not reach a final state in time; stopping the demo');
        break;
      }
      await sleep(1000, undefined, { signal: stop.signal }).catch(() => undefined);
    }

    // ── 4. The record ──
    await sleep(1500);
    await narrate().catch(() => undefined);
    const verify = await api
      .get<{ ok?: boolean; checked?: number }>(`/v1/campaigns/${campaignId}/audit/verify`)
      .catch(() => undefined);
    const outcome = demoOutcome({
      campaignId,
      finalStatus: finalView?.status,
      verify: verify?.body,
      events,
      interrupted: stop.signal.aborted,
      auditGaps: [...auditView.gaps.values()],
    });
    for (const line of outcome.lines) say(line);
    return outcome.code;
  } finally {
    await closeFleet(fleet, prefix);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
