import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../src/cli/args.js';
import { buildApiApp } from '../../src/producers/app.js';
import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { silentLogger } from '../../src/shared/logger.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/index.js';
import { cliRunner, REDIS_URL, deletePrefix } from './helpers.js';
import { testPrefix } from '../support/redis-prefix.js';

const TOKEN = 'cli-e2e-token-1';
const example = JSON.parse(readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8'));

/** `cxo` against the real fleet: API, workers, CXone client and limiter, sandbox over HTTP, Redis. */
describe('cxo against the running fleet (integration)', () => {
  const prefix = testPrefix();
  let sandbox: RunningSandbox;
  let ctx: ClosableContext;
  let workers: RunningWorkers;
  let app: FastifyInstance;
  let apiUrl: string;
  let campaignId = '';
  let launchId = '';

  const files: Record<string, string> = {
    // Starts tomorrow: the launch ends with the campaign scheduled and nothing dials.
    'future.json': JSON.stringify({
      ...example,
      name: `cli e2e ${prefix}`,
      startDateTime: new Date(Date.now() + 24 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    }),
    'invalid.json': JSON.stringify({
      ...example,
      dialerStrategy: { ...example.dialerStrategy, callRate: 7 },
    }),
    // The callRate given twice: JSON.parse would read the last (1), the API refuses the text.
    'twice.json': JSON.stringify({ ...example, name: `cli e2e twice ${prefix}` }).replace(
      '"callRate":0.6',
      '"callRate":0.2,"callRate":1',
    ),
    // Valid, but CXone refuses it: the tenant has no such target list, so the launch ends failed.
    'no-list.json': JSON.stringify({
      ...example,
      name: `cli e2e no list ${prefix}`,
      targetListId: '11111111-1111-4111-8111-111111111111',
    }),
  };

  const cxo = cliRunner({ files, env: () => ({ API_URL: apiUrl, API_TOKEN: TOKEN }), pollMs: 100 });

  beforeAll(async () => {
    sandbox = await startSandbox({ port: 0, logger: silentLogger });
    const config = loadConfig({
      REDIS_URL,
      KEY_PREFIX: prefix,
      API_TOKEN: TOKEN,
      CXONE_BASE_URL: sandbox.url,
      CXONE_CLIENT_ID: 'sandbox-client',
      CXONE_CLIENT_SECRET: 'sandbox-secret',
      LOG_LEVEL: 'silent',
    });
    ctx = await createContext(config, silentLogger);
    workers = await startWorkers(ctx);
    app = await buildApiApp(ctx);
    await app.listen({ port: 0, host: '127.0.0.1' });
    apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await workers?.close(5_000);
    if (ctx) {
      await deletePrefix(ctx.redis, prefix);
      await ctx.close();
    }
    await sandbox?.close();
  });

  it('validate exits 2 naming the field, launch waits for success and prints the campaign', async () => {
    const invalid = await cxo('validate', 'invalid.json');
    expect(invalid.code).toBe(EXIT.validation);
    expect(invalid.out).toContain('dialerStrategy.callRate');

    const launched = await cxo(
      'launch',
      'future.json',
      '--timeout',
      '60',
      '--idempotency-key',
      `${prefix}-k1`,
    );
    expect(launched.code, launched.err).toBe(EXIT.ok);
    expect(launched.out).toMatch(/status +succeeded/);
    campaignId = /campaign (\S+)/.exec(launched.out)?.[1] ?? '';
    launchId = /^launch +(\S+)$/m.exec(launched.out)?.[1] ?? '';
    expect(sandbox.getCampaignState(campaignId)).toMatchObject({ resource: { status: 'scheduled' } });
  });

  it('a config file giving a key twice is refused (exit 2) naming it, as the API refuses it; nothing is launched', async () => {
    expect(files['twice.json']).toContain('"callRate":0.2,"callRate":1');
    const launches = async () =>
      Object.values(await ctx.queues.launch.getJobCounts()).reduce((a, b) => a + b, 0);
    const before = await launches();
    const validated = await cxo('validate', 'twice.json');
    expect(validated.code).toBe(EXIT.validation);
    expect(validated.out).toContain('dialerStrategy.callRate: given more than once');
    const launched = await cxo('launch', 'twice.json', '--timeout', '30');
    expect(launched.code).toBe(EXIT.validation);
    expect(launched.err).toContain('dialerStrategy.callRate: given more than once');
    expect(await launches()).toBe(before);
  });

  it('status finds the launch and its campaign; an unknown id exits 3', async () => {
    const byLaunch = await cxo('status', launchId);
    expect(byLaunch.code).toBe(EXIT.ok);
    expect(byLaunch.out).toContain(`campaign   ${campaignId}`);
    expect(byLaunch.out).toMatch(/status +scheduled/);
    expect((await cxo('status', 'no-such-id')).code).toBe(EXIT.notFound);
  });

  it('a replayed launch with --no-wait names its campaign', async () => {
    const replay = await cxo('launch', 'future.json', '--no-wait', '--idempotency-key', `${prefix}-k1`);
    expect(replay.code, replay.err).toBe(EXIT.ok);
    expect(replay.out).toContain(`launch   ${launchId}`);
    expect(replay.out).toContain(`campaign ${campaignId}`);
  });

  it('a launch that ended failed exits 4, also when --no-wait answers with it (a replayed key)', async () => {
    const key = `${prefix}-failed`;
    const waited = await cxo('launch', 'no-list.json', '--timeout', '60', '--idempotency-key', key);
    expect(waited.code, waited.err).toBe(EXIT.refused);
    expect(waited.out).toMatch(/status +failed/);
    const replayed = await cxo('launch', 'no-list.json', '--no-wait', '--idempotency-key', key);
    expect(replayed.out).toMatch(/status +failed/);
    expect(replayed.code, replayed.out).toBe(EXIT.refused);
    const json = await cxo('launch', 'no-list.json', '--no-wait', '--idempotency-key', key, '--json');
    expect(JSON.parse(json.out)).toMatchObject({ status: 'failed' });
    expect(json.code).toBe(EXIT.refused);
    // Asked after later, the failed launch is still a failure to a script.
    const failedId = (JSON.parse(json.out) as { launchId: string }).launchId;
    const status = await cxo('status', failedId);
    expect(status.out).toMatch(/status +failed/);
    expect(status.code, status.out).toBe(EXIT.refused);
  });

  it('watch piped into a reader that stops reading (`| head`) ends quietly with 0, no stack trace', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/cxo.ts', 'watch', campaignId, '--interval', '1'],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: { PATH: process.env.PATH, API_URL: apiUrl, API_TOKEN: TOKEN },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Like `head -1`: read the first view, then close the pipe while watch goes on writing.
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(stderr).not.toMatch(/EPIPE|Error|at /);
    expect(code).toBe(0);
  }, 20_000);

  it("watch and pause given the launch id act on the launch's campaign", async () => {
    const watched = await cxo('watch', launchId, '--once');
    expect(watched.code, watched.err).toBe(EXIT.ok);
    expect(watched.err).toBe(`${launchId} is a launch; its campaign is ${campaignId}`);
    expect(watched.out).toContain(`campaign   ${campaignId}`);
    // Scheduled, so the API refuses the pause: it was sent for the campaign, not the launch id.
    const pause = await cxo('pause', launchId);
    expect(pause.code).toBe(EXIT.refused);
    expect(pause.err).toContain(`${launchId} is a launch; its campaign is ${campaignId}`);
    expect(pause.err).toContain(`/v1/campaigns/${campaignId}/actions → 409`);
  });

  it('with --json, a failure is one JSON object on stdout', async () => {
    const status = await cxo('status', 'no-such-id', '--json');
    expect(status.code).toBe(EXIT.notFound);
    expect(JSON.parse(status.out)).toMatchObject({ error: 'not_found', httpStatus: 404 });
    const pause = await cxo('pause', 'no-such-id', '--json');
    expect(pause.code).toBe(EXIT.notFound);
    expect(JSON.parse(pause.out)).toEqual({
      error: 'not_found',
      message: 'campaign no-such-id is not known to this orchestrator',
      httpStatus: 404,
    });
    const key = await cxo('launch', 'future.json', '--idempotency-key', 'a b', '--json');
    expect(key.code).toBe(EXIT.usage);
    expect(JSON.parse(key.out)).toMatchObject({
      error: 'usage',
      message: expect.stringContaining('--idempotency-key'),
    });
  });

  it('an id the API refuses as malformed (a pasted space, one too long) is not found (3) for every id command', async () => {
    for (const id of ['c 1', 'x'.repeat(300)]) {
      for (const argv of [
        ['status', id],
        ['watch', id],
        ['watch', id, '--once'],
        ['pause', id],
        ['audit', id],
      ]) {
        const r = await cxo(...argv);
        expect(r.code, `${argv.join(' ').slice(0, 40)}: ${r.err}`).toBe(EXIT.notFound);
      }
      const json = await cxo('watch', id, '--json');
      expect(JSON.parse(json.out)).toMatchObject({ error: 'not_found', httpStatus: 400 });
    }
  });

  it('a token the API refuses (401) exits 4 and says where the token comes from', async () => {
    for (const argv of [
      ['status', launchId],
      ['watch', campaignId],
      ['audit', campaignId],
    ]) {
      const r = await cxo(...argv, '--token', 'not-the-token');
      expect(r.code, r.err).toBe(EXIT.refused);
      expect(r.err).toContain('401');
      expect(r.err).toContain('the one given with --token');
    }
    const json = await cxo('status', launchId, '--token', 'not-the-token', '--json');
    expect(JSON.parse(json.out)).toMatchObject({
      error: 'unauthorized',
      httpStatus: 401,
      hint: expect.stringContaining('API_TOKEN'),
    });
  });

  it('API_URL may end in /v1 as npm start prints it; a path below the root is an API URL problem', async () => {
    expect((await cxo('status', launchId, '--api-url', `${apiUrl}/v1/`)).code).toBe(EXIT.ok);
    const wrong = await cxo('status', launchId, '--api-url', `${apiUrl}/v2`);
    expect(wrong.code).toBe(EXIT.server);
    expect(wrong.err).toContain("is API_URL the API's root");
  });

  it('a forbidden pause exits 4; stop waits until the campaign is stopped, and watch ends when it is final', async () => {
    const pause = await cxo('pause', campaignId);
    expect(pause.code).toBe(EXIT.refused);
    expect(pause.err).toMatch(/409/);
    // Waits for the command: exit 0 says the campaign was stopped, not that a stop was queued.
    const key = `cli-stop-${prefix}`;
    const stop = await cxo('stop', campaignId, '--idempotency-key', key);
    expect(stop.code, stop.err).toBe(EXIT.ok);
    expect(stop.out).toMatch(
      new RegExp(`^stop of campaign ${campaignId} done: it is cancelled \\(version \\d+, command cmd_`),
    );
    const commandId = /command (cmd_[\w-]+)/.exec(stop.out)?.[1];
    expect(commandId).toBeDefined();
    // Re-run with the key (the answer was lost, say): the stop it made, done, not a second stop.
    const again = await cxo('stop', campaignId, '--idempotency-key', key);
    expect(again.code, again.err).toBe(EXIT.ok);
    expect(again.out).toContain(`command ${commandId!}`);
    // Re-run given the launch id, as a first run may have been: the key is checked before the id is
    // looked up, so the 422 naming the launch's campaign leads to that campaign, and the same stop.
    const byLaunch = await cxo('stop', launchId, '--idempotency-key', key);
    expect(byLaunch.code, byLaunch.err).toBe(EXIT.ok);
    expect(byLaunch.out).toContain(`command ${commandId!}`);
    // Another command with the key is still refused for it, given either id.
    const reused = await cxo('pause', launchId, '--idempotency-key', key);
    expect(reused.code).toBe(EXIT.refused);
    expect(reused.err).toContain(`/v1/campaigns/${campaignId}/actions → 422`);
    // Sent to an id that is no launch, the 422 stands, and points at the campaign the key's stop is on.
    const elsewhere = await cxo('stop', 'no-such-campaign', '--idempotency-key', key);
    expect(elsewhere.code).toBe(EXIT.refused);
    expect(elsewhere.err).toContain(
      `command ${commandId!}: whether it ran shows in cxo status ${campaignId}`,
    );
    const accepted = await cxo('stop', campaignId, '--idempotency-key', key, '--no-wait');
    expect(accepted.out).toBe(
      `stop accepted for campaign ${campaignId} (command ${commandId!}, accepted earlier under this --idempotency-key)`,
    );
    // Without it, a second stop: refused, the campaign being stopped already.
    const unkeyed = await cxo('stop', campaignId, '--no-wait');
    expect(unkeyed.code).toBe(EXIT.refused);
    expect(sandbox.getCampaignState(campaignId)).toMatchObject({ resource: { status: 'cancelled' } });
    const watched = await cxo('watch', campaignId, '--interval', '0.2');
    expect(watched.code).toBe(EXIT.ok);
    expect(watched.out).toContain(`campaign ${campaignId} is cancelled`);
    expect(sandbox.getCampaignState(campaignId)).toMatchObject({ resource: { status: 'cancelled' } });
  });

  it('audit --export prints the trail as JSON lines', async () => {
    const audit = await cxo('audit', campaignId, '--export');
    expect(audit.code).toBe(EXIT.ok);
    const actions = audit.out.split('\n').map((line) => (JSON.parse(line) as { action: string }).action);
    expect(actions).toContain('campaign_created');
    expect(actions).toContain('state_changed');
  });

  it('audit of an unknown id exits 3; of a launch id, names its campaign', async () => {
    const unknown = await cxo('audit', 'no-such-id', '--export');
    expect(unknown.code).toBe(EXIT.notFound);
    expect(unknown.err).toBe('no campaign with id no-such-id');
    const byLaunch = await cxo('audit', launchId);
    expect(byLaunch.code).toBe(EXIT.notFound);
    expect(byLaunch.err).toContain(`its campaign's trail: cxo audit ${campaignId}`);
    const launchTrail = await cxo('audit', `launch:${launchId}`, '--export');
    expect(launchTrail.code).toBe(EXIT.ok);
    expect(launchTrail.out).toContain('launch_requested');
  });
});
