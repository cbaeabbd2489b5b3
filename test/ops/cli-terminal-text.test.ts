import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compactValue,
  errorText,
  formatAuditRecord,
  formatCampaign,
  formatIssues,
  formatLaunch,
  printableLine,
  progressLine,
} from '../../src/cli/format.js';
import { commandOutcome } from '../../src/cli/run.js';
import { cliRunner } from './helpers.js';

/**
 * Text in the API's answers that cxo does not choose — CXone's own history (who changed a campaign
 * in its console, and how), its error bodies, what another caller wrote — reaches the operator's
 * terminal through `cxo status|watch|audit`. Escape sequences in it must be shown, never acted on.
 */
const ESC = '\x1b';
const hostile = {
  /** Sets the terminal's title, then erases the line and writes a forged one. */
  actor: `cxone:eve${ESC}]0;pwned\x07\r${ESC}[2Kcxone:alice`,
  colour: `${ESC}[31mred${ESC}[0m`,
  /** C1 CSI (one character), a line break and a right-to-left override. */
  c1: `a\u009b2Jb\ncforged\u202egnp.exe`,
};
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('printableLine (pure)', () => {
  it('writes every control out as \\u escapes and leaves other text as it is', () => {
    expect(printableLine(hostile.colour)).toBe('\\u001b[31mred\\u001b[0m');
    expect(printableLine(hostile.c1)).toBe('a\\u009b2Jb\\u000acforged\\u202egnp.exe');
    expect(printableLine('Spring — “renewal” ✓ ⠋ 日本')).toBe('Spring — “renewal” ✓ ⠋ 日本');
    expect(printableLine(printableLine(hostile.actor))).toBe(printableLine(hostile.actor));
  });

  it('leaves no control in any line cxo formats from an answer', () => {
    const outputs = [
      formatAuditRecord({
        occurredAt: hostile.colour,
        action: hostile.c1 as never,
        actor: hostile.actor,
        details: { who: hostile.actor, n: 1 },
      }),
      formatCampaign({
        campaignId: 'c-1',
        status: 'active',
        config: { name: hostile.colour },
        staleReason: hostile.actor,
        stale: true,
        lastCommand: { actor: hostile.c1 } as never,
      }),
      formatLaunch({ launchId: 'L-1', status: 'running', lastError: hostile.actor }),
      formatLaunch({ launchId: 'L-1', status: 'failed', error: { message: hostile.colour } as never }),
      progressLine({ launchId: 'L-1', status: hostile.colour as never, lastError: hostile.actor }, 1_000, 0),
      formatIssues([{ path: hostile.colour, message: hostile.c1 }]),
      compactValue(hostile.actor, 200),
      errorText({ message: hostile.actor }),
    ];
    for (const text of outputs) {
      // Line breaks cxo puts between its own lines are the only ones left.
      for (const line of text.split('\n')) expect(line, JSON.stringify(text)).not.toMatch(CONTROLS);
    }
    // One audit record is one line, whatever its fields hold.
    expect(outputs[0]!.split('\n')).toHaveLength(1);
  });

  it('says where the campaign stands after a conflict, as a pause whose patch clashed is still paused', () => {
    const outcome = commandOutcome('pause', 'c-1', {
      commandId: 'cmd-1',
      status: 'conflict',
      conflict: {
        reason: 'dialerStrategy.callRate was changed by someone else',
        conflicts: [],
        version: 7,
        status: 'paused',
      },
    });
    expect('failure' in outcome && outcome.failure.json.message).toBe(
      'pause of campaign c-1 stopped on a conflict: dialerStrategy.callRate was changed by someone else; ' +
        'the campaign is paused (version 7)',
    );
  });

  it("shows a command's outcome read from the API printably", () => {
    const outcome = commandOutcome('pause', 'c-1', {
      commandId: `k${ESC}[2J`,
      status: 'succeeded',
      result: { status: hostile.colour },
    } as never);
    expect('line' in outcome && outcome.line).not.toMatch(CONTROLS);
  });
});

describe('cxo against an API whose answers carry escape sequences', () => {
  let api: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    api = Fastify();
    api.get('/v1/campaigns/:id/audit', async () => ({
      records: [
        { auditId: 'a1', action: 'cxone_history', actor: hostile.actor, details: { note: hostile.colour } },
      ],
      nextCursor: null,
    }));
    api.get('/v1/campaigns/:id', async () => ({
      campaignId: 'c-1',
      status: 'active',
      version: 3,
      config: { name: hostile.colour },
      stale: true,
      staleReason: hostile.c1,
    }));
    api.get('/v1/launches/:id', async (_req, reply) =>
      reply.code(404).send({ error: 'not_found', message: 'no launch' }),
    );
    api.post('/v1/campaigns/:id/actions', async (_req, reply) =>
      reply.code(409).send({ error: 'invalid_transition', message: `refused: ${hostile.actor}` }),
    );
    await api.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await api?.close();
  });

  const run = cliRunner({ files: {}, env: () => ({ API_URL: url, API_TOKEN: 'tok-123456' }), pollMs: 10 });

  it.each([[['audit', 'c-1']], [['status', 'c-1']], [['watch', 'c-1', '--once']], [['pause', 'c-1']]])(
    'cxo %j prints no control the API sent',
    async (argv) => {
      const r = await run(...argv);
      expect(`${r.out}\n${r.err}`).toMatch(/\\u001b|\\u009b|\\u000a/);
      for (const line of `${r.out}\n${r.err}`.split('\n')) expect(line).not.toMatch(CONTROLS);
    },
  );

  it('keeps the exact text for scripts: --json prints what the API answered', async () => {
    const r = await run('audit', 'c-1', '--json');
    expect(JSON.parse(r.out)).toMatchObject({ actor: hostile.actor });
  });
});

/**
 * A line break in the API's text is a line cxo never wrote: the operator would read the rest as
 * cxo's own verdict. cxo's stderr keeps each quoted value on its line (its own multi-line reports,
 * a list of issues, stay as they are); --json keeps the text as the API sent it.
 */
describe("cxo's error lines quote the API's line breaks", () => {
  let api: FastifyInstance;
  let url: string;
  const forged = 'campaign c-1 resumed';

  beforeAll(async () => {
    api = Fastify();
    api.post('/v1/campaigns/c-1/actions', async (_req, reply) =>
      reply.code(409).send({ error: 'invalid_transition', message: `refused\n${forged}` }),
    );
    api.post('/v1/campaigns/c-2/actions', async (_req, reply) =>
      reply.code(202).send({ commandId: 'k-2', status: 'queued' }),
    );
    api.get('/v1/commands/k-2', async () => ({
      commandId: 'k-2',
      status: 'conflict',
      conflict: { reason: `changed in CXone\n${forged}` },
    }));
    await api.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await api?.close();
  });

  const run = cliRunner({ files: {}, env: () => ({ API_URL: url, API_TOKEN: 'tok-123456' }), pollMs: 10 });

  it.each([[['resume', 'c-1']], [['resume', 'c-2']]])('cxo %j prints no line the API made', async (argv) => {
    const r = await run(...argv);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(`\\u000a${forged}`);
    expect(r.err.split('\n')).not.toContain(forged);
    const json = await run(...argv, '--json');
    expect(JSON.stringify(JSON.parse(json.out))).toContain(`\\n${forged}`);
  });
});
