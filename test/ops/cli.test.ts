import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeForStatus } from '../../src/cli/api-client.js';
import { DEFAULT_API_URL, EXIT, parseCliArgs } from '../../src/cli/args.js';
import { formatAuditRecord, formatCampaign, progressLine } from '../../src/cli/format.js';
import { runCli, type CliIo } from '../../src/cli/run.js';
import { cliRunner } from './helpers.js';

describe('cxo argument parsing (pure)', () => {
  it('reads API_URL and API_TOKEN, with flags taking precedence', () => {
    const env = { API_URL: 'http://api:3000/', API_TOKEN: 'from-env' };
    const a = parseCliArgs(['status', 'c-1'], env);
    expect(a).toMatchObject({ ok: true, options: { apiUrl: 'http://api:3000', token: 'from-env' } });
    const b = parseCliArgs(['status', 'c-1', '--api-url=http://x:1', '--token', 't2'], env);
    expect(b).toMatchObject({ ok: true, options: { apiUrl: 'http://x:1', token: 't2' } });
    expect(parseCliArgs(['status', 'c-1'])).toMatchObject({
      options: { apiUrl: DEFAULT_API_URL, token: 'dev-token' },
    });
  });

  it('parses each command with its options', () => {
    expect(parseCliArgs(['launch', 'c.json', '--no-wait', '--idempotency-key', 'k1'])).toMatchObject({
      ok: true,
      command: { kind: 'launch', file: 'c.json', wait: false, idempotencyKey: 'k1', timeoutSec: 120 },
    });
    expect(parseCliArgs(['validate', 'c.json', '--offline'])).toMatchObject({
      command: { kind: 'validate', offline: true },
    });
    expect(parseCliArgs(['pause', 'c-1'])).toMatchObject({
      command: { kind: 'action', action: 'pause', id: 'c-1' },
    });
    expect(parseCliArgs(['stop', 'c-1'])).toMatchObject({ command: { kind: 'action', action: 'stop' } });
    expect(parseCliArgs(['audit', 'c-1', '--export', '--limit', '5'])).toMatchObject({
      command: { kind: 'audit', export: true, limit: 5 },
    });
    expect(parseCliArgs(['watch', 'c-1', '--interval', '0.5'])).toMatchObject({
      command: { kind: 'watch', intervalSec: 0.5, once: false },
    });
    expect(parseCliArgs(['--help'])).toMatchObject({ ok: true, command: { kind: 'help' } });
  });

  it('rejects what it does not understand, with a reason', () => {
    const bad = (argv: string[]) => {
      const r = parseCliArgs(argv);
      return r.ok ? 'accepted' : r.error;
    };
    expect(bad([])).toBe('missing command');
    expect(bad(['frobnicate', 'x'])).toMatch(/unknown command/);
    expect(bad(['status'])).toMatch(/exactly one ID/);
    expect(bad(['status', 'a', 'b'])).toMatch(/exactly one ID/);
    expect(bad(['launch'])).toMatch(/exactly one FILE/);
    expect(bad(['status', 'a', '--export'])).toMatch(/does not apply to status/);
    expect(bad(['watch', 'a', '--interval', '-1'])).toMatch(/positive number/);
    expect(bad(['audit', 'a', '--limit', '2.5'])).toMatch(/whole number/);
    expect(bad(['status', 'a', '--bogus'])).toMatch(/unknown option --bogus/);
    expect(bad(['status', 'a', '--token'])).toMatch(/needs a value/);
    expect(bad(['status', 'a', '--api-url', 'ftp://x'])).toMatch(/http/);
  });

  it('maps HTTP statuses to the documented exit codes', () => {
    expect(exitCodeForStatus(202)).toBe(EXIT.ok);
    expect(exitCodeForStatus(400)).toBe(EXIT.validation);
    expect(exitCodeForStatus(404)).toBe(EXIT.notFound);
    expect(exitCodeForStatus(409)).toBe(EXIT.refused);
    expect(exitCodeForStatus(401)).toBe(EXIT.refused);
    expect(exitCodeForStatus(503)).toBe(EXIT.server);
  });
});

describe('cxo formatting (pure)', () => {
  it('shows stats, the legal abandonment rate and pacing state', () => {
    const text = formatCampaign({
      campaignId: 'c-1',
      status: 'active',
      version: 4,
      config: {
        name: 'Spring',
        dialerStrategy: { strategy: 'predictive', callRate: 0.6, agentCapacity: 20 },
      },
      lastStats: {
        totalCalls: 200,
        answeredCalls: 100,
        abandonedCalls: 2,
        complianceViolations: 0,
        agentUtilization: 81.4,
      },
      efficiency: { efficiencyScore: 24.7, answerRate: 0.5, abandonmentRate: 0.01 },
      pacing: {
        lastDecision: { direction: 'up', previousCallRate: 0.6, callRate: 0.65 },
        cooldownUntil: null,
      },
      polling: { effectiveIntervalMs: 30_000, desiredIntervalMs: 15_000 },
    });
    expect(text).toContain('status     active   version 4');
    expect(text).toContain('abandonment (of answered) 2.00%');
    expect(text).toContain('agent utilisation 81%');
    expect(text).toContain('pacing     ↑ callRate 0.6 → 0.65');
    expect(text).toContain('stretched to fit the fleet budget');
    expect(formatCampaign({ campaignId: 'c-2', status: 'scheduled' })).toContain('no statistics yet');
  });

  it('formats progress and audit lines', () => {
    expect(progressLine({ launchId: 'L1', status: 'running' }, 1500, 0)).toBe('⠋ launch L1: running (1.5 s)');
    expect(progressLine({ launchId: 'L1', status: 'succeeded' }, 2000, 3)).toMatch(
      /^ {2}launch L1: succeeded/,
    );
    expect(
      formatAuditRecord({
        occurredAt: '2026-11-28T10:00:00.000Z',
        action: 'state_changed',
        actor: 'api:ops',
        cxoneVersion: 3,
        details: { from: 'active', to: 'paused' },
      }),
    ).toMatch(/^2026-11-28T10:00:00.000Z {2}state_changed +api:ops +v3 {2}from=active to=paused$/);
  });
});

/**
 * runCli end to end against a stand-in of the producer API: it answers like the contract says, so
 * this checks the CLI's HTTP use, waiting and exit codes (the real API is exercised in test/e2e).
 */
describe('cxo against a stand-in API', () => {
  let api: FastifyInstance;
  let url: string;
  let polls = 0;
  const seen: { auth?: string; idem?: string; actions: unknown[] } = { actions: [] };

  beforeAll(async () => {
    api = Fastify();
    api.post('/v1/campaigns/validate', async (req) => {
      const body = req.body as { name?: string };
      return body.name
        ? { valid: true, issues: [] }
        : { valid: false, issues: [{ path: 'name', message: 'required' }] };
    });
    api.post('/v1/campaigns', async (req, reply) => {
      seen.auth = req.headers.authorization;
      seen.idem = req.headers['idempotency-key'] as string | undefined;
      const body = req.body as { name?: string };
      if (!body.name) {
        return reply
          .code(400)
          .send({ error: 'validation_failed', issues: [{ path: 'name', message: 'required' }] });
      }
      return reply.code(202).send({ launchId: body.name === 'doomed' ? 'L-bad' : 'L-1', status: 'queued' });
    });
    api.get('/v1/launches/:id', async (req, reply) => {
      const { id } = req.params as { id: string };
      if (id === 'L-bad')
        return { launchId: id, status: 'failed', error: { message: 'CXone rejected it (422)' } };
      if (id !== 'L-1') return reply.code(404).send({ error: 'not_found', message: 'no such launch' });
      polls++;
      return {
        launchId: id,
        status: polls < 3 ? 'running' : 'succeeded',
        campaignId: polls < 3 ? undefined : 'c-1',
      };
    });
    api.get('/v1/campaigns/:id', async (req, reply) => {
      const { id } = req.params as { id: string };
      if (id !== 'c-1') return reply.code(404).send({ error: 'not_found', message: 'no such campaign' });
      return { campaignId: 'c-1', status: 'completed', version: 7, config: { name: 'Spring' } };
    });
    api.post('/v1/campaigns/:id/actions', async (req, reply) => {
      seen.actions.push(req.body);
      const { action } = req.body as { action: string };
      if (action === 'resume')
        return reply.code(409).send({ error: 'conflict', message: 'outside the calling window' });
      return reply.code(202).send({ commandId: 'cmd-1' });
    });
    api.get('/v1/campaigns/:id/audit', async (req) => {
      const { cursor } = req.query as { cursor?: string };
      return cursor
        ? { records: [{ auditId: 'a2', action: 'state_changed', actor: 'api:x' }], nextCursor: null }
        : {
            records: [{ auditId: 'a1', action: 'campaign_created', actor: 'worker:launch' }],
            nextCursor: 'p2',
          };
    });
    await api.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await api?.close();
  });

  const files: Record<string, string> = {
    'good.json': JSON.stringify({ name: 'Spring' }),
    'nameless.json': JSON.stringify({}),
    'doomed.json': JSON.stringify({ name: 'doomed' }),
    'broken.json': '{ not json',
  };

  const cxo = cliRunner({ files, env: () => ({ API_URL: url, API_TOKEN: 'cli-token-1' }), pollMs: 10 });

  it('launch waits, showing progress, until the launch succeeds (exit 0)', async () => {
    polls = 0;
    const r = await cxo('launch', 'good.json', '--idempotency-key', 'idem-1');
    expect(r.code).toBe(EXIT.ok);
    expect(seen.auth).toBe('Bearer cli-token-1');
    expect(seen.idem).toBe('idem-1');
    expect(r.out).toContain('launch L-1: queued');
    expect(r.out).toContain('launch L-1: running');
    expect(r.out).toMatch(/campaign c-1/);
  });

  it('launch exits 4 when the launch fails, 2 on an invalid config or a file that is not JSON, 1 on a missing file', async () => {
    const failed = await cxo('launch', 'doomed.json');
    expect(failed.code).toBe(EXIT.refused);
    expect(failed.out).toContain('CXone rejected it (422)');
    const invalid = await cxo('launch', 'nameless.json');
    expect(invalid.code).toBe(EXIT.validation);
    expect(invalid.err).toContain('name: required');
    expect((await cxo('launch', 'broken.json')).code).toBe(EXIT.validation);
    expect((await cxo('launch', 'missing.json')).code).toBe(EXIT.usage);
  });

  it('validate exits 0 when valid and 2 when not, online or offline', async () => {
    expect((await cxo('validate', 'good.json')).code).toBe(EXIT.ok);
    const bad = await cxo('validate', 'nameless.json');
    expect(bad.code).toBe(EXIT.validation);
    expect(bad.out).toContain('- name: required');
    const offline = await cxo('validate', 'good.json', '--offline');
    expect(offline.code).toBe(EXIT.validation);
    expect(offline.out).toContain('targetListId');
  });

  it('status finds launches and campaigns, and exits 3 for an unknown id', async () => {
    const byCampaign = await cxo('status', 'c-1');
    expect(byCampaign.code).toBe(EXIT.ok);
    expect(byCampaign.out).toContain('status     completed   version 7');
    const missing = await cxo('status', 'nope');
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.err).toContain('no launch or campaign with id nope');
  });

  it('pause is accepted (0), a refused resume exits 4 with the reason', async () => {
    const ok = await cxo('pause', 'c-1');
    expect(ok.code).toBe(EXIT.ok);
    expect(seen.actions).toContainEqual({ action: 'pause' });
    const refused = await cxo('resume', 'c-1');
    expect(refused.code).toBe(EXIT.refused);
    expect(refused.err).toContain('outside the calling window');
  });

  it('audit follows cursors; --export prints JSON lines', async () => {
    const r = await cxo('audit', 'c-1', '--export');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out.split('\n').map((l) => JSON.parse(l).auditId)).toEqual(['a1', 'a2']);
    const limited = await cxo('audit', 'c-1', '--limit', '1');
    expect(limited.out).toContain('campaign_created');
    expect(limited.out).not.toContain('state_changed');
  });

  it('watch stops by itself once the campaign is final, and exits 3 for an unknown campaign', async () => {
    const r = await cxo('watch', 'c-1', '--interval', '0.01');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('campaign c-1 is completed');
    expect((await cxo('watch', 'nope')).code).toBe(EXIT.notFound);
  });

  it('exits 5 when the API cannot be reached, and 1 on usage errors', async () => {
    const io: CliIo = {
      out: () => undefined,
      err: () => undefined,
      write: () => undefined,
      isTty: false,
      readFile: async () => '',
    };
    expect(await runCli(['status', 'x'], { API_URL: 'http://127.0.0.1:9' }, io)).toBe(EXIT.server);
    expect(await runCli(['bogus'], {}, io)).toBe(EXIT.usage);
  });

  it('points validate at --offline when the API cannot be reached', async () => {
    const errors: string[] = [];
    const io: CliIo = {
      out: () => undefined,
      err: (line) => void errors.push(line),
      write: () => undefined,
      isTty: false,
      readFile: async () => '{"name":"x"}',
    };
    expect(await runCli(['validate', 'c.json'], { API_URL: 'http://127.0.0.1:9' }, io)).toBe(EXIT.server);
    expect(errors.join('\n')).toMatch(/cannot reach the API at http:\/\/127\.0\.0\.1:9/);
    expect(errors.join('\n')).toContain('cxo validate --offline c.json');
  });
});
