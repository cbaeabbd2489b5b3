import { readFileSync } from 'node:fs';
import { API_BODY_LIMIT_BYTES } from '../../src/shared/http/body-limit.js';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_TIMEOUT_MS, exitCodeForStatus, isResourceNotFound } from '../../src/cli/api-client.js';
import { apiDeadlineMs } from '../../src/producers/request-guard.js';
import { loadConfig } from '../../src/shared/config.js';
import { ApiClient, ApiError, NetworkError } from '../../src/cli/api-client.js';
import { DEFAULT_API_URL, EXIT, USAGE, jsonRequested, parseCliArgs } from '../../src/cli/args.js';
import { formatAuditRecord, formatCampaign, formatLaunch, progressLine } from '../../src/cli/format.js';
import { parseIdempotencyKey } from '../../src/producers/launch-submit.js';
import {
  describeError,
  emptyTrailReport,
  interruptedLaunchMessage,
  interruptedActionMessage,
  launchIdReport,
  resolveFileArg,
  runCli,
  type CliIo,
} from '../../src/cli/run.js';
import { freePort } from '../support/free-port.js';
import { capturingIo, cliRunner } from './helpers.js';

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

  it('takes API_URL and API_TOKEN set to nothing as unset, as the service reads its environment', () => {
    expect(parseCliArgs(['status', 'c-1'], { API_URL: '', API_TOKEN: '' })).toMatchObject({
      ok: true,
      options: { apiUrl: DEFAULT_API_URL, token: 'dev-token' },
    });
  });

  it('refuses a token no HTTP header can carry as a usage error naming where it came from, not the secret', () => {
    const bad = (argv: string[], env: Record<string, string> = {}) => {
      const r = parseCliArgs(argv, env);
      return r.ok ? 'accepted' : r.error;
    };
    // A token pasted with typographic quotes, or with a line break in it.
    expect(bad(['status', 'c-1'], { API_TOKEN: '\u201csecret-token\u201d' })).toBe(
      'the API token from API_TOKEN must be printable ASCII without spaces (it is sent in an HTTP header); character 1 is U+201C',
    );
    expect(bad(['status', 'c-1', '--token', 'secret\ntoken'])).toBe(
      'the API token from --token must be printable ASCII without spaces (it is sent in an HTTP header); character 7 is U+000A',
    );
    expect(bad(['status', 'c-1', '--token', 'secret token'])).not.toContain('secret');
    // Nothing is sent offline: a token it would not use does not stop it.
    expect(bad(['validate', 'c.json', '--offline'], { API_TOKEN: 'bad token' })).toBe('accepted');
  });

  it('refuses an API URL with a user name or password as a usage error, never printing the password', () => {
    const bad = (apiUrl: string) => {
      const r = parseCliArgs(['status', 'c-1'], { API_URL: apiUrl });
      return r.ok ? 'accepted' : r.error;
    };
    // fetch refuses such a URL before sending: this read as "cannot reach the API" with the password.
    expect(bad('https://ops:s3cret@gw.example/orchestrator')).toBe(
      `API URL must not carry a user name or password (got "https://ops:***@gw.example/orchestrator"); cxo sends the API's token from --token or API_TOKEN`,
    );
    expect(bad('http://tok3n@gw.example:3000')).not.toContain('tok3n');
    expect(bad('ftp://ops:s3cret@gw.example')).toBe(
      'API URL must be http(s)://host[:port] (got "ftp://***@gw.example")',
    );
    // An @ in the path or query is no user information.
    expect(bad('http://gw.example/team@ops')).toBe('accepted');
  });

  it('refuses an API URL that does not parse as a usage error, not "cannot reach the API … is it running?"', () => {
    const bad = (apiUrl: string) => {
      const r = parseCliArgs(['status', 'c-1'], { API_URL: apiUrl });
      return r.ok ? 'accepted' : r.error;
    };
    // fetch refuses these before sending anything (ERR_INVALID_URL): that read as an API that is down (5).
    expect(bad('http://127.0.0.1:30000')).toBe('accepted');
    // A scheme is case-insensitive; an API_URL pasted as HTTP://… is the same API.
    expect(bad('HTTP://127.0.0.1:3000')).toBe('accepted');
    expect(bad('Https://gw.example/orchestrator/v1')).toBe('accepted');
    expect(bad('http://127.0.0.1:300000')).toBe(
      'API URL must be http(s)://host[:port] (got "http://127.0.0.1:300000")',
    );
    expect(bad('http://[::1:3000')).toBe('API URL must be http(s)://host[:port] (got "http://[::1:3000")');
    expect(bad('http://gw example:3000')).toBe(
      'API URL must be http(s)://host[:port] (got "http://gw example:3000")',
    );
    expect(bad('http://ops:s3cret@gw.example:300000')).toBe(
      'API URL must be http(s)://host[:port] (got "http://***@gw.example:300000")',
    );
  });

  it('refuses an API URL with a query or fragment as a usage error, not a request to the root', () => {
    const bad = (apiUrl: string) => {
      const r = parseCliArgs(['launch', 'c.json'], { API_URL: apiUrl });
      return r.ok ? 'accepted' : r.error;
    };
    // The paths cxo appends went behind them: `?x=1/v1/campaigns` is a query on `/`, and fetch sends
    // no fragment, so a launch was POSTed to `/` and read as "is API_URL the API's root?" (exit 5).
    expect(bad('http://127.0.0.1:3000?x=1')).toBe(
      `API URL must be the API's root, without a query ('?…') or fragment ('#…') (got "http://127.0.0.1:3000?…")`,
    );
    expect(bad('http://127.0.0.1:3000/#/docs')).toBe(
      `API URL must be the API's root, without a query ('?…') or fragment ('#…') (got "http://127.0.0.1:3000/#…")`,
    );
    // What follows the `?` may be a secret (`?access_token=…`): it is not printed — nor by the checks
    // before this one, which quoted the URL whole when it also failed to parse or carried credentials.
    expect(bad('https://gw.example/orchestrator/v1?access_token=s3cret')).not.toContain('s3cret');
    expect(bad('http://127.0.0.1:300000/?access_token=s3cret')).toBe(
      'API URL must be http(s)://host[:port] (got "http://127.0.0.1:300000/?…")',
    );
    expect(bad('https://ops:pw@gw.example/orchestrator#access_token=s3cret')).toBe(
      `API URL must not carry a user name or password (got "https://ops:***@gw.example/orchestrator#…"); cxo sends the API's token from --token or API_TOKEN`,
    );
    // A path prefix (a gateway's) stays the API's root.
    expect(bad('https://gw.example/orchestrator/v1')).toBe('accepted');
  });

  it('takes the API URL as npm start prints it (with /v1), and trailing slashes', () => {
    const url = (apiUrl: string) => {
      const r = parseCliArgs(['status', 'c-1'], { API_URL: apiUrl });
      return r.ok ? r.options.apiUrl : r.error;
    };
    expect(url('http://127.0.0.1:3000/v1')).toBe('http://127.0.0.1:3000');
    expect(url('http://127.0.0.1:3000/v1/')).toBe('http://127.0.0.1:3000');
    expect(url('http://gw/orchestrator/v1')).toBe('http://gw/orchestrator');
    expect(url('http://v1')).toBe('http://v1');
    expect(url('http://api:3000/v10')).toBe('http://api:3000/v10');
    const flag = parseCliArgs(['status', 'c-1', '--api-url', 'http://x:1/v1//']);
    expect(flag).toMatchObject({ ok: true, options: { apiUrl: 'http://x:1' } });
  });

  it("tells the API's resource not-found from an unknown route or a stranger's 404", () => {
    expect(isResourceNotFound({ error: 'not_found', message: 'campaign c-9 is not known' })).toBe(true);
    expect(isResourceNotFound({ error: 'not_found', message: 'no route GET /v1/v1/launches/x' })).toBe(false);
    expect(isResourceNotFound('<html>404 Not Found</html>')).toBe(false);
    expect(isResourceNotFound({ message: 'Not Found', statusCode: 404 })).toBe(false);
    expect(isResourceNotFound(null)).toBe(false);
  });

  it('resolves FILE against INIT_CWD (where npm was run) under npm run cxo, else the given directory', () => {
    const npmRunCxo = { INIT_CWD: '/p/sub', npm_lifecycle_event: 'cxo' };
    expect(resolveFileArg('../examples/c.json', npmRunCxo, '/p')).toBe('/p/examples/c.json');
    expect(resolveFileArg('c.json', {}, '/p/sub')).toBe('/p/sub/c.json');
    expect(resolveFileArg('/abs/c.json', npmRunCxo, '/p')).toBe('/abs/c.json');
    expect(resolveFileArg('c.json', { INIT_CWD: '', npm_lifecycle_event: 'cxo' }, undefined)).toBe('c.json');
    // Another npm script that runs cxo keeps INIT_CWD in its environment: its paths are its own
    // directory's (`cd campaigns && cxo launch spring.json`, run from the package root).
    const otherScript = { INIT_CWD: '/p', npm_lifecycle_event: 'launch-spring' };
    expect(resolveFileArg('spring.json', otherScript, '/p/campaigns')).toBe('/p/campaigns/spring.json');
    expect(resolveFileArg('spring.json', { INIT_CWD: '/p' }, '/p/campaigns')).toBe(
      '/p/campaigns/spring.json',
    );
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
    expect(parseCliArgs(['stop', 'c-1', '--idempotency-key', 'stop-1'])).toMatchObject({
      command: { kind: 'action', action: 'stop', idempotencyKey: 'stop-1' },
    });
    const bad = parseCliArgs(['resume', 'c-1', '--idempotency-key', 'a b']);
    expect(bad).toMatchObject({
      ok: false,
      error: expect.stringContaining('--idempotency-key "a b" is refused'),
    });
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
    // Beyond a timer's range (it would fire every millisecond), or a refresh that floods the API.
    expect(bad(['watch', 'a', '--interval', '3000000'])).toBe(
      '--interval must be between 0.01 and 3600 seconds (got "3000000")',
    );
    expect(bad(['watch', 'a', '--interval', '0.001'])).toMatch(/between 0.01 and 3600 seconds/);
    expect(bad(['launch', 'c.json', '--timeout', '3000000'])).toMatch(
      /--timeout must be between 0.01 and 86400/,
    );
    expect(bad(['audit', 'a', '--limit', '2.5'])).toMatch(/whole number/);
    expect(bad(['status', 'a', '--bogus'])).toMatch(/unknown option --bogus/);
    expect(bad(['status', 'a', '--token'])).toMatch(/needs a value/);
    expect(bad(['status', 'a', '--api-url', 'ftp://x'])).toMatch(/http/);
  });

  it('names the command a usage error is about, wherever it stands, for its usage', () => {
    expect(parseCliArgs(['audit', 'a', '--limit', '0'])).toMatchObject({ ok: false, command: 'audit' });
    expect(parseCliArgs(['--bogus', 'pause', 'a'])).toMatchObject({ ok: false, command: 'pause' });
    expect(parseCliArgs(['frobnicate', 'x'])).toEqual({ ok: false, error: 'unknown command "frobnicate"' });
  });

  it('maps HTTP statuses to the documented exit codes', () => {
    expect(exitCodeForStatus(202)).toBe(EXIT.ok);
    expect(exitCodeForStatus(400)).toBe(EXIT.validation);
    expect(exitCodeForStatus(404)).toBe(EXIT.notFound);
    expect(exitCodeForStatus(409)).toBe(EXIT.refused);
    // An Idempotency-Key reused for another config: a clash, not an invalid config.
    expect(exitCodeForStatus(422)).toBe(EXIT.refused);
    expect(exitCodeForStatus(415)).toBe(EXIT.validation);
    // A launch file past the API's body limit: the file is at fault, as operations.md's table says.
    expect(exitCodeForStatus(413)).toBe(EXIT.validation);
    expect(exitCodeForStatus(401)).toBe(EXIT.refused);
    expect(exitCodeForStatus(503)).toBe(EXIT.server);
    expect(EXIT.interrupted).toBe(130);
  });

  it('explains an empty audit trail by what the id is', () => {
    expect(emptyTrailReport('c-9', { kind: 'campaign' })).toEqual({
      code: EXIT.ok,
      out: 'no audit records for c-9',
    });
    expect(emptyTrailReport('typo', { kind: 'unknown' })).toEqual({
      code: EXIT.notFound,
      err: 'no campaign with id typo',
    });
    expect(emptyTrailReport('L-9', { kind: 'launch', campaignId: 'c-9' })).toMatchObject({
      code: EXIT.notFound,
      err: expect.stringContaining("L-9 is a launch; its campaign's trail: cxo audit c-9"),
    });
    expect(emptyTrailReport('L-8', { kind: 'launch' }).err).toContain('cxo audit launch:L-8');
  });

  it('tells an interrupted launch how to find out whether it was accepted', () => {
    const keyed = interruptedLaunchMessage({ file: 'c.json', idempotencyKey: 'k-7' }, 'http://api:3000');
    expect(keyed).toContain('may or may not have been accepted');
    expect(keyed).toContain('--idempotency-key k-7');
    expect(keyed).toContain('cxo status');
    const bare = interruptedLaunchMessage({ file: 'c.json' }, 'http://api:3000');
    expect(bare).toContain('may or may not have been accepted');
    expect(bare).toContain('http://api:3000/admin/queues');
    expect(bare).not.toContain('\n');
  });

  it('tells an interrupted pause, resume or stop how to find out whether it was accepted', () => {
    const keyed = interruptedActionMessage({ action: 'stop', idempotencyKey: 'k-8' }, 'c-1');
    expect(keyed).toContain('the stop may or may not have been accepted');
    expect(keyed).toContain('re-run cxo stop c-1 --idempotency-key k-8');
    expect(interruptedActionMessage({ action: 'pause' }, 'c-1')).toBe(
      'interrupted before the API answered: the pause may or may not have been accepted; check with cxo status c-1',
    );
  });

  it("refuses an --idempotency-key the API would refuse, by the API's own rule, as a usage error", () => {
    const key = (k: string) => {
      const r = parseCliArgs(['launch', 'c.json', '--idempotency-key', k]);
      return r.ok ? 'accepted' : r.error;
    };
    expect(key('a b')).toBe(
      '--idempotency-key "a b" is refused: Idempotency-Key must be 1 to 200 printable ASCII characters without spaces',
    );
    const apiAccepts = (k: string) => {
      try {
        parseIdempotencyKey(k);
        return true;
      } catch {
        return false;
      }
    };
    for (const k of [
      'nightly-2026-12-01',
      'a b',
      'tab\there',
      'ü-key',
      'x'.repeat(200),
      'x'.repeat(201),
      '~!{}',
    ]) {
      expect(key(k) === 'accepted', k).toBe(apiAccepts(k));
    }
  });

  it('sees --json in arguments it cannot parse, but not as the value of another option', () => {
    expect(jsonRequested(['status', '--bogus', '--json'])).toBe(true);
    expect(jsonRequested(['status', 'x'])).toBe(false);
    expect(jsonRequested(['status', '--token', '--json'])).toBe(false);
    expect(jsonRequested(['status', '--', '--json'])).toBe(false);
  });

  it('reports the 429 of too many failed authentications as the refused token it is: exit 4, where it came from', () => {
    const throttled = describeError(
      new ApiError(
        429,
        'GET',
        '/v1/launches/L-1',
        { error: 'too_many_failed_auth', message: 'too many failed authentications from this address' },
        '--token',
        '42',
      ),
    );
    expect(throttled.code).toBe(4);
    expect(throttled.lines.join('\n')).toContain('the token refused is the one given with --token');
    // Any other 429 is the server's (exit 5), without a token hint.
    const busy = describeError(
      new ApiError(429, 'GET', '/v1/launches/L-1', { error: 'rate_limited' }, '--token'),
    );
    expect(busy.code).toBe(5);
    expect(busy.lines.join('\n')).not.toContain('token refused');
  });

  it("keeps an error body's own status field, and gives the HTTP status as httpStatus", () => {
    const refused = describeError(
      new ApiError(409, 'POST', '/v1/campaigns/c-1/actions', {
        error: 'invalid_state',
        message: 'campaign is completed',
        status: 'completed',
        version: 9,
      }),
    );
    expect(refused.json).toMatchObject({ error: 'invalid_state', status: 'completed', httpStatus: 409 });
  });

  it('names the launch or command an API error carries, and how to look at it', () => {
    const timeout = describeError(
      new ApiError(503, 'POST', '/v1/campaigns', {
        error: 'request_timeout',
        message: 'no answer within 15 s',
        launchId: 'L-7',
      }),
    );
    expect(timeout.code).toBe(EXIT.server);
    expect(timeout.lines).toEqual([
      'POST /v1/campaigns → 503: no answer within 15 s',
      'launch L-7: see where it stands with cxo status L-7',
    ]);
    expect(timeout.json).toEqual({
      error: 'request_timeout',
      message: 'no answer within 15 s',
      httpStatus: 503,
      launchId: 'L-7',
      hint: 'launch L-7: see where it stands with cxo status L-7',
    });
    const command = describeError(
      new ApiError(503, 'POST', '/v1/campaigns/c-7/actions', {
        error: 'request_timeout',
        commandId: 'cmd-7',
      }),
      { campaignId: 'c-7' },
    );
    expect(command.json.hint).toBe('command cmd-7: whether it ran shows in cxo status c-7 (last cmd)');
    // A wait that fails after the launch was accepted still names it.
    const lost = describeError(new NetworkError('http://api:3000', { cause: new Error('ECONNRESET') }), {
      acceptedLaunchId: 'L-8',
    });
    expect(lost.json).toMatchObject({ error: 'api_unreachable', launchId: 'L-8' });
    expect(lost.lines.at(-1)).toBe('launch L-8 was accepted and goes on; follow it with cxo status L-8');
    expect(
      describeError(new ApiError(404, 'GET', '/v1/campaigns/x', { error: 'not_found' })).lines,
    ).toHaveLength(1);
  });

  it('turns a launch id given for a campaign into its campaign, or says why it has none', () => {
    expect(launchIdReport('L-1', { kind: 'launch', campaignId: 'c-1', status: 'succeeded' })).toEqual({
      campaignId: 'c-1',
      note: 'L-1 is a launch; its campaign is c-1',
    });
    const queued = launchIdReport('L-2', { kind: 'launch', status: 'running' });
    expect(queued).toMatchObject({
      failure: {
        code: EXIT.notFound,
        lines: [
          'L-2 is a launch whose campaign does not exist yet (launch running); follow it with cxo status L-2',
        ],
        json: { error: 'no_campaign', launchId: 'L-2', launchStatus: 'running' },
      },
    });
    expect(
      launchIdReport('L-3', { kind: 'launch', status: 'failed', error: 'CXone said 422' }),
    ).toMatchObject({
      failure: { lines: ['L-3 is a launch that failed before CXone created a campaign: CXone said 422'] },
    });
  });
});

describe('a cxo usage error', () => {
  /** runCli with no API behind it: a usage error is decided before anything is sent. */
  async function run(...argv: string[]) {
    const { io, out, err } = capturingIo({
      isTty: true,
      readFile: async () => {
        throw new Error('no file read for a usage error');
      },
      fetchImpl: async () => {
        throw new Error('no request for a usage error');
      },
    });
    const code = await runCli(argv, {}, io);
    return { code, out: out.join('\n'), err: err.join('\n').split('\n') };
  }

  // The whole usage (~30 lines) after the error scrolled the line that says what is wrong out of
  // sight on a terminal: the error comes with this command's usage only, or the list of commands.
  it.each([
    [['audit', 'c-1', '--limit', '0'], '--limit must be a positive number (got "0")', 'usage: cxo audit ID'],
    [['status', 'c-1', '--bogus'], 'unknown option --bogus', 'usage: cxo status ID'],
    [['--bogus', 'watch', 'c-1'], 'unknown option --bogus', 'usage: cxo watch ID'],
    [['launch', 'c.json', '--timeout'], '--timeout needs a value', 'usage: cxo launch FILE'],
    [
      ['pause'],
      'pause takes exactly one ID',
      'usage: cxo pause ID [--no-wait] [--idempotency-key KEY] [--timeout SECONDS]',
    ],
    [['status', 'c-1', '--export'], '--export does not apply to status', 'usage: cxo status ID'],
    [['lauch', 'c.json'], 'unknown command "lauch"', 'commands: launch, validate, status, pause'],
    [[], 'missing command', 'commands: launch, validate, status, pause'],
  ])('cxo %j: says what is wrong first, then a few lines, on stderr (exit 1)', async (argv, error, usage) => {
    const r = await run(...argv);
    expect(r.code).toBe(EXIT.usage);
    expect(r.out).toBe('');
    expect(r.err[0]).toBe(`cxo: ${error}`);
    expect(r.err[1]).toContain(usage);
    expect(r.err.length).toBeLessThanOrEqual(6);
    expect(r.err.at(-1)).toMatch(/^run 'cxo --help' for /);
    expect(r.err.join('\n')).not.toContain('exit codes:');
  });

  it("gives the command's options as it takes them", async () => {
    const r = await run('launch');
    expect(r.err[1]).toBe('usage: cxo launch FILE [--no-wait] [--idempotency-key KEY] [--timeout SECONDS]');
    expect((await run('audit', 'c-1', '--limit', 'x')).err[1]).toBe(
      'usage: cxo audit ID [--export] [--limit N]',
    );
    expect((await run('watch')).err[1]).toBe('usage: cxo watch ID [--interval SECONDS] [--once]');
    expect((await run('validate')).err[1]).toBe('usage: cxo validate FILE [--offline]');
  });

  it('with --json: the same lines on stderr, one JSON object on stdout', async () => {
    const r = await run('audit', 'c-1', '--limit', '0', '--json');
    expect(r.code).toBe(EXIT.usage);
    expect(JSON.parse(r.out)).toEqual({
      error: 'usage',
      message: '--limit must be a positive number (got "0")',
    });
    expect(r.err[0]).toBe('cxo: --limit must be a positive number (got "0")');
    expect(r.err.length).toBeLessThanOrEqual(6);
  });

  it.each([[['--help']], [['-h']], [['audit', '--help']], [['help']]])(
    'cxo %j still prints the whole usage on stdout (exit 0)',
    async (argv) => {
      const r = await run(...argv);
      expect(r.code).toBe(EXIT.ok);
      expect(r.out).toBe(USAGE);
      expect(r.err).toEqual(['']);
    },
  );
});

describe('cxo waiting for the API', () => {
  it("outwaits the API's own deadline, so a stall reaches the operator as the API's 503", () => {
    const defaults = loadConfig({ API_TOKEN: 'token-of-the-test' });
    expect(CLIENT_TIMEOUT_MS).toBeGreaterThan(apiDeadlineMs(defaults.cxone.timeoutMs) + 5_000);
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

  it('says plainly when the view is cached, since when and why, without guessing a cause the API did not give', () => {
    const view = {
      campaignId: 'c-1',
      status: 'active',
      version: 3,
      syncedAt: '2026-11-28T09:00:00.000Z',
    } as const;
    expect(
      formatCampaign({
        ...view,
        stale: true,
        staleReason: "CXone refused the orchestrator's credentials",
      }).split('\n')[2],
    ).toBe(
      "cached     could not refresh from CXone just now: CXone refused the orchestrator's credentials: this is the orchestrator's cached view, last synced with CXone at 2026-11-28T09:00:00.000Z",
    );
    // An API that sends `stale` alone: CXone may have refused the credentials or answered 503 as well
    // as been unreachable, so the line names no cause.
    const cached = formatCampaign({ ...view, stale: true }).split('\n')[2];
    expect(cached).toBe(
      "cached     CXone did not answer with the campaign just now (the API does not say why): this is the orchestrator's cached view, last synced with CXone at 2026-11-28T09:00:00.000Z",
    );
    expect(cached).not.toContain('could not be reached');
    expect(formatCampaign({ campaignId: 'c-1', stale: true })).toContain(
      'not known when last synced with CXone',
    );
    expect(formatCampaign(view)).not.toContain('cached');
  });

  it('says a campaign CXone no longer knows is missing, and since when, instead of merely cached', () => {
    const text = formatCampaign({
      campaignId: 'c-1',
      status: 'active',
      stale: true,
      missingOnCxone: { since: '2026-11-29T07:00:00.000Z' },
    });
    expect(text.split('\n')[2]).toBe(
      'missing    CXone no longer knows this campaign (404 since 2026-11-29T07:00:00.000Z; deleted outside the orchestrator?): the rest is as last known',
    );
    expect(text).not.toContain('could not be reached');
  });

  it('says when a scheduled campaign activates, when the view says', () => {
    const at = '2026-12-01T13:00:00.000Z';
    expect(formatCampaign({ campaignId: 'c-1', status: 'scheduled', activateAt: at })).toContain(
      `dialing    not yet: scheduled, activates at ${at}`,
    );
    expect(formatCampaign({ campaignId: 'c-1', status: 'scheduled' })).not.toContain('activates at');
    // Once active, a start time left in the view is history, not a plan.
    expect(formatCampaign({ campaignId: 'c-1', status: 'active', activateAt: at })).not.toContain(
      'activates at',
    );
  });

  it('says a scheduled campaign whose activation gave up will not dial', () => {
    const text = formatCampaign({
      campaignId: 'c-1',
      status: 'scheduled',
      activationFailed: { reason: 'CXone answered 503 on its last attempt', at: '2026-12-01T13:00:02.000Z' },
    });
    expect(text).toContain(
      'dialing    never: its activation gave up at 2026-12-01T13:00:02.000Z (CXone answered 503 on its last attempt)',
    );
    expect(text).not.toContain('activates at');
  });

  it('shows the last failed try of a launch that is still retrying, and not once it is final', () => {
    const retrying = {
      launchId: 'L1',
      status: 'running',
      lastError: 'attempt 4: CXone answered 503',
    } as const;
    expect(formatLaunch(retrying)).toContain('last try attempt 4: CXone answered 503');
    expect(progressLine(retrying, 1500, 0)).toBe(
      '⠋ launch L1: running (1.5 s); last try attempt 4: CXone answered 503',
    );
    const done = { ...retrying, status: 'succeeded' } as const;
    expect(formatLaunch(done)).not.toContain('last try');
    // Succeeded is not the same as dialing: a scheduled campaign says when it starts.
    expect(
      formatLaunch({ ...done, campaignStatus: 'scheduled', activateAt: '2026-11-29T13:00:00.000Z' }),
    ).toContain('dialing  not yet: scheduled, activates at 2026-11-29T13:00:00.000Z');
    expect(formatLaunch({ ...done, campaignStatus: 'active' })).toContain('dialing  yes (active)');
    // Once its delayed activation ran, or gave up.
    expect(
      formatLaunch({
        ...done,
        campaignStatus: 'active',
        activateAt: '2026-11-29T13:00:00.000Z',
        activatedAt: '2026-11-29T13:00:01.000Z',
      }),
    ).toContain('dialing  yes (active since 2026-11-29T13:00:01.000Z)');
    expect(
      formatLaunch({ ...done, campaignStatus: 'scheduled', activateAt: 'x', activationError: 'still draft' }),
    ).toContain('dialing  no: the activation gave up (still draft)');
    expect(progressLine(done, 1500, 0)).not.toContain('last try');
    expect(progressLine({ ...retrying, lastError: 'x'.repeat(300) }, 0, 0).length).toBeLessThan(140);
  });

  it('formats progress and audit lines', () => {
    expect(progressLine({ launchId: 'L1', status: 'running' }, 1500, 0)).toBe('⠋ launch L1: running (1.5 s)');
    // Without a frame (a log, not a terminal): no spinner column at all.
    expect(progressLine({ launchId: 'L1', status: 'running' }, 1500)).toBe('launch L1: running (1.5 s)');
    expect(progressLine({ launchId: 'L1', status: 'succeeded' }, 2000)).toBe('launch L1: succeeded (2.0 s)');
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
  let retryPolls = 0;
  let staleReads = 0;
  /** Reads of the campaigns whose answers change from read to read (c-flaky, c-blip, c-then-hang). */
  const reads: Record<string, number> = {};
  /** When each poll of a blipping launch or campaign came (ms), to see the pauses between them. */
  const pollTimes: Record<string, number[]> = {};
  /** Reads of each command's outcome: the first answers `queued`. */
  const commandReads: Record<string, number> = {};
  let keyInUseAnswers = 0;
  const seen: { auth?: string; idem?: string; launchPosts: number; actions: unknown[]; actionIds: string[] } =
    {
      launchPosts: 0,
      actions: [],
      actionIds: [],
    };
  // Requests that never get an answer, like a hung API; released before the stand-in closes.
  const hung: (() => void)[] = [];
  const hang = () => new Promise<void>((resolve) => hung.push(resolve));
  const redisDown =
    'Redis is not connected (reconnecting); nothing was recorded or enqueued. Retry in a few seconds';
  const retryError = (n: number) => `attempt ${n}: CXone answered 503 to POST /api/v2/campaigns`;

  beforeAll(async () => {
    api = Fastify();
    // As the real API answers an unknown route (src/producers/app.ts), and as a proxy might.
    api.setNotFoundHandler(async (req, reply) =>
      reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url}` }),
    );
    // Any token is refused for c-auth, as the API refuses one it does not know.
    api.addHook('onRequest', async (req, reply) => {
      if (req.url.includes('c-auth'))
        return reply
          .code(401)
          .send({ error: 'unauthorized', message: 'the bearer token is not valid for this API' });
    });
    api.all('/html/*', async (_req, reply) =>
      reply.code(404).type('text/html').send('<html><body>404 Not Found</body></html>'),
    );
    // An SSO proxy in front of the API: every request goes to its login page, which answers 200.
    api.all('/sso/*', async (_req, reply) => reply.redirect('/login?state=s3cr3t-state', 302));
    api.get('/login', async (_req, reply) =>
      reply.type('text/html').send('<html><body>Sign in</body></html>'),
    );
    // A web app that answers 200 with JSON that is not an object to any path.
    api.all('/spa/*', async (_req, reply) => reply.send('"ok"'));
    api.post('/v1/campaigns/validate', async (req, reply) => {
      const body = req.body as { name?: string };
      if (body.name === 'redis-down') {
        // As the API's request guard answers while Redis is down (src/producers/request-guard.ts).
        return reply.code(503).send({ error: 'redis_unavailable', message: redisDown });
      }
      return body.name
        ? { valid: true, issues: [] }
        : { valid: false, issues: [{ path: 'name', message: 'required' }] };
    });
    api.post('/v1/campaigns', async (req, reply) => {
      seen.launchPosts++;
      seen.auth = req.headers.authorization;
      seen.idem = req.headers['idempotency-key'] as string | undefined;
      const body = req.body as { name?: string };
      if (!body.name) {
        // As the real API answers: its message repeats every issue on one line.
        return reply.code(400).send({
          error: 'validation_failed',
          message: 'the request is invalid: name: required; targetListId: required',
          issues: [
            { path: 'name', message: 'required' },
            { path: 'targetListId', message: 'required' },
          ],
        });
      }
      if (body.name === 'hang') await hang();
      if (body.name === 'deadline') {
        // As the API's request guard answers at its deadline, naming the launch it was making.
        return reply.code(503).send({
          error: 'request_timeout',
          message: 'no answer from Redis or CXone within 15 s; … the id below, when there is one, tells',
          launchId: 'L-deadline',
        });
      }
      if (body.name === 'replayed') {
        // An Idempotency-Key seen before: the earlier launch, whose answer names no campaign.
        return reply
          .code(202)
          .header('idempotent-replayed', 'true')
          .send({ launchId: 'L-done', status: 'succeeded' });
      }
      const ids: Record<string, string> = {
        doomed: 'L-bad',
        retry: 'L-retry',
        stuck: 'L-stuck',
        'hang-wait': 'L-hang',
        lost: 'L-lost',
        gone: 'L-gone',
        blip: 'L-blip',
      };
      return reply.code(202).send({ launchId: ids[body.name] ?? 'L-1', status: 'queued' });
    });
    api.get('/v1/launches/:id', async (req, reply) => {
      const { id } = req.params as { id: string };
      if (id === 'L-bad')
        return { launchId: id, status: 'failed', error: { message: 'CXone rejected it (422)' } };
      if (id === 'L-hang') {
        reads[id] = (reads[id] ?? 0) + 1;
        await hang();
      }
      if (id === 'L-done') return { launchId: id, status: 'succeeded', campaignId: 'c-1' };
      if (id === 'L-queued') return { launchId: id, status: 'queued' };
      if (id === 'L-lost') return reply.code(500).send({ error: 'internal_error', message: 'a bug' });
      if (id === 'L-gone') return reply.code(404).send({ error: 'not_found', message: 'no such launch' });
      if (id === 'L-blip') {
        // The API's Redis reconnecting, a reset connection, a gateway's rate limit, then the answer.
        const n = (reads[id] = (reads[id] ?? 0) + 1);
        pollTimes[id] = [...(pollTimes[id] ?? []), Date.now()];
        if (n === 1) return reply.code(503).send({ error: 'redis_unavailable', message: redisDown });
        if (n === 2) {
          reply.hijack();
          return void req.raw.socket.destroy();
        }
        if (n === 3) return reply.code(429).header('retry-after', '1').send({ message: 'Too Many Requests' });
        return { launchId: id, status: 'succeeded', campaignId: 'c-1' };
      }
      if (id === 'L-stuck') return { launchId: id, status: 'running', lastError: retryError(4) };
      if (id === 'L-retry') {
        // Two polls see the first failed try, one the second, then it succeeds.
        retryPolls++;
        return retryPolls < 4
          ? { launchId: id, status: 'running', lastError: retryError(retryPolls < 3 ? 1 : 2) }
          : { launchId: id, status: 'succeeded', campaignId: 'c-1' };
      }
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
      if (id === 'c-hang') await hang();
      if (id === 'c-flaky' || id === 'c-blip' || id === 'c-then-hang') {
        // One good read; then c-flaky answers 503 for good, c-blip once, c-then-hang never again.
        const n = (reads[id] = (reads[id] ?? 0) + 1);
        if (n > 1 && id === 'c-then-hang') await hang();
        if (n > 1 && (id === 'c-flaky' || n === 2)) {
          return reply.code(503).send({ error: 'redis_unavailable', message: redisDown });
        }
        return { campaignId: id, status: 'active', version: 1 };
      }
      if (id === 'c-throttled') {
        // A gateway in front of the API that rate-limits the second read.
        const n = (reads[id] = (reads[id] ?? 0) + 1);
        pollTimes[id] = [...(pollTimes[id] ?? []), Date.now()];
        if (n === 2) {
          return reply
            .code(429)
            .header('retry-after', '1')
            .send({ message: 'Too Many Requests', statusCode: 429 });
        }
        return { campaignId: id, status: 'active', version: 1 };
      }
      if (id === 'c-quiet') return { campaignId: id, status: 'scheduled', version: 1 };
      if (id === 'c-later') {
        return { campaignId: id, status: 'scheduled', version: 2, activateAt: '2026-12-01T13:00:00.000Z' };
      }
      if (id === 'c-gone') {
        return {
          campaignId: id,
          status: 'active',
          version: 3,
          stale: true,
          missingOnCxone: { since: '2026-11-29T07:00:00.000Z' },
        };
      }
      if (id === 'c-stale') {
        // CXone unreachable for the first read, back for the second, by which time the campaign ended.
        staleReads++;
        return staleReads === 1
          ? {
              campaignId: id,
              status: 'active',
              version: 3,
              syncedAt: '2026-11-28T09:00:00.000Z',
              stale: true,
            }
          : { campaignId: id, status: 'completed', version: 4, syncedAt: '2026-11-28T09:05:00.000Z' };
      }
      if (id !== 'c-1') return reply.code(404).send({ error: 'not_found', message: 'no such campaign' });
      return { campaignId: 'c-1', status: 'completed', version: 7, config: { name: 'Spring' } };
    });
    api.post('/v1/campaigns/:id/actions', async (req, reply) => {
      const { id } = req.params as { id: string };
      seen.actions.push(req.body);
      seen.actionIds.push(id);
      if (id === 'c-hang') await hang();
      // Like the API: commands only for campaigns it launched, and a launch id is not one.
      if (id.startsWith('L-')) {
        return reply
          .code(404)
          .send({ error: 'not_found', message: `campaign ${id} is not known to this orchestrator` });
      }
      if (id === 'c-deadline') {
        return reply
          .code(503)
          .send({ error: 'request_timeout', message: 'no answer within 15 s', commandId: 'cmd-deadline' });
      }
      // Accepted, then the worker fails it, stops on a conflict, or never gets to it.
      const later: Record<string, string> = {
        'c-cmd-fail': 'cmd-fail',
        'c-cmd-clash': 'cmd-clash',
        'c-cmd-blip': 'cmd-blip',
        'c-cmd-down': 'cmd-down',
        'c-cmd-denied': 'cmd-denied',
      };
      // A key still held by its first request: 409 with Retry-After, then the first request's command.
      if (req.headers['idempotency-key'] === 'k-in-use') {
        keyInUseAnswers += 1;
        if (keyInUseAnswers === 1) {
          return reply.code(409).header('retry-after', '1').send({
            error: 'idempotency_key_in_use',
            message: 'still being carried out',
            commandId: 'cmd-1',
          });
        }
        return reply
          .code(202)
          .header('idempotent-replayed', 'true')
          .send({ commandId: 'cmd-1', campaignId: id, status: 'queued' });
      }
      // A retry whose key names a command that has already failed: the API answers with that command.
      if (req.headers['idempotency-key'] === 'k-failed-before') {
        return reply
          .code(202)
          .header('idempotent-replayed', 'true')
          .send({ commandId: later[id] ?? 'cmd-1', campaignId: id, status: 'failed' });
      }
      const { action } = req.body as { action: string };
      if (action === 'resume')
        return reply.code(409).send({ error: 'conflict', message: 'outside the calling window' });
      if (id === 'c-cmd-stuck') return reply.code(202).send({ commandId: 'cmd-stuck', status: 'queued' });
      return reply.code(202).send({ commandId: later[id] ?? 'cmd-1', status: 'queued' });
    });
    api.get('/v1/commands/:id', async (req, reply) => {
      const { id } = req.params as { id: string };
      const n = (commandReads[id] = (commandReads[id] ?? 0) + 1);
      const base = { commandId: id, action: 'pause', requestedAt: '2026-11-30T03:00:00.000Z' };
      if (id === 'cmd-stuck' || n === 1) return { ...base, status: 'queued' };
      // Redis blips twice (a 503, then a gateway's 408), then the command is applied.
      if (id === 'cmd-blip' && n === 2)
        return reply.code(503).send({ error: 'redis_unavailable', message: redisDown });
      if (id === 'cmd-blip' && n === 3) return reply.code(408).send({ message: 'Request Timeout' });
      if (id === 'cmd-down') return reply.code(503).send({ error: 'redis_unavailable', message: redisDown });
      if (id === 'cmd-denied') return reply.code(403).send({ error: 'forbidden', message: 'not yours' });
      if (id === 'cmd-blip')
        return {
          ...base,
          campaignId: 'c-cmd-blip',
          status: 'succeeded',
          result: { status: 'paused', version: 9 },
        };
      if (id === 'cmd-fail') {
        return {
          ...base,
          campaignId: 'c-cmd-fail',
          status: 'failed',
          error: { message: 'CXone answered 403' },
        };
      }
      if (id === 'cmd-clash') {
        return {
          ...base,
          campaignId: 'c-cmd-clash',
          status: 'conflict',
          conflict: { reason: 'status was changed to completed by someone else', conflicts: [] },
        };
      }
      if (id !== 'cmd-1') return reply.code(404).send({ error: 'not_found', message: 'no such command' });
      return { ...base, campaignId: 'c-1', status: 'succeeded', result: { status: 'paused', version: 8 } };
    });
    api.get('/v1/campaigns/:id/audit', async (req) => {
      const { cursor } = req.query as { cursor?: string };
      if ((req.params as { id: string }).id === 'c-gap') {
        // A trail with a record the API could not return on its first page.
        return cursor
          ? { records: [{ auditId: 'g3', action: 'state_changed', actor: 'api:x' }], nextCursor: null }
          : {
              records: [{ auditId: 'g1', action: 'campaign_created', actor: 'worker:launch' }],
              nextCursor: 'p2',
              gaps: [{ streamId: '5-0', reason: 'missing', auditId: 'g2' }],
            };
      }
      // Like the API: an empty page for any id without records, known or not.
      if ((req.params as { id: string }).id !== 'c-1') return { records: [], nextCursor: null };
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
    for (const release of hung) release();
    await api?.close();
  });

  const files: Record<string, string> = {
    'good.json': JSON.stringify({ name: 'Spring' }),
    'hang.json': JSON.stringify({ name: 'hang' }),
    'hang-wait.json': JSON.stringify({ name: 'hang-wait' }),
    'retry.json': JSON.stringify({ name: 'retry' }),
    'stuck.json': JSON.stringify({ name: 'stuck' }),
    'nameless.json': JSON.stringify({}),
    'doomed.json': JSON.stringify({ name: 'doomed' }),
    'deadline.json': JSON.stringify({ name: 'deadline' }),
    'replayed.json': JSON.stringify({ name: 'replayed' }),
    'lost.json': JSON.stringify({ name: 'lost' }),
    'gone.json': JSON.stringify({ name: 'gone' }),
    'blip.json': JSON.stringify({ name: 'blip' }),
    'redis-down.json': JSON.stringify({ name: 'redis-down' }),
    'broken.json': '{ not json',
    // A trailing comma: the error is at the closing brace, line 3 column 1.
    'comma.json': '{\n  "name": "Spring",\n}\n',
    // JSON.parse keeps the last callRate; the API refuses the text instead of guessing.
    'twice.json':
      '{"name": "Spring", "dialerStrategy": {"callRate": 0.2, "strategy": "predictive", "callRate": 1}}',
    // Valid JSON nested deeper than JSON.stringify can recurse.
    'deep.json': `{"name": "Spring", "x": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
    'example.json': readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8'),
    'dnc-off.json': JSON.stringify({
      ...(JSON.parse(
        readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8'),
      ) as object),
      compliance: { doNotCallCheck: false },
    }),
    'dnc-off-bad.json': JSON.stringify({
      ...(JSON.parse(
        readFileSync(new URL('../../examples/campaign.json', import.meta.url), 'utf8'),
      ) as object),
      name: '',
      compliance: { doNotCallCheck: false },
    }),
  };

  const cxo = cliRunner({ files, env: () => ({ API_URL: url, API_TOKEN: 'cli-token-1' }), pollMs: 10 });

  it('a config file larger than the API accepts is refused before sending (exit 2), not a random EPIPE (exit 5)', async () => {
    // The API answers such a body with its 413 before reading it and closes the connection: a file of
    // megabytes often met only the closed connection, "cannot reach the API … (EPIPE); is it running?".
    files['huge.json'] = JSON.stringify({ name: 'huge', description: 'x'.repeat(API_BODY_LIMIT_BYTES) });
    const posts = seen.launchPosts;
    for (const argv of [
      ['launch', 'huge.json'],
      ['validate', 'huge.json'],
      ['validate', 'huge.json', '--offline'],
    ]) {
      const r = await cxo(...argv, '--json');
      expect(r.code).toBe(EXIT.validation);
      expect(JSON.parse(r.out)).toMatchObject({ error: 'payload_too_large', limitBytes: 65536 });
      expect(r.err).toBe(
        `huge.json is ${API_BODY_LIMIT_BYTES + 32} bytes, larger than the 64 KiB (65536 bytes) the API accepts; a campaign config is a few KiB`,
      );
    }
    expect(seen.launchPosts).toBe(posts);
    // At the limit it is sent, as the API takes it.
    files['at-limit.json'] = `{"name":"Spring"}${' '.repeat(API_BODY_LIMIT_BYTES - 17)}`;
    expect((await cxo('launch', 'at-limit.json', '--no-wait')).code).toBe(EXIT.ok);
    expect(seen.launchPosts).toBe(posts + 1);
  });

  it('a token fetch cannot send is a usage error (exit 1) sending nothing, not "cannot reach the API" (exit 5)', async () => {
    const before = seen.auth;
    const r = await cxo('status', 'c-1', '--token', '\u201ccli-token-1\u201d', '--json');
    expect(r.code).toBe(EXIT.usage);
    expect(JSON.parse(r.out)).toMatchObject({ error: 'usage', message: expect.stringContaining('--token') });
    expect(r.err).not.toContain('cannot reach the API');
    expect(seen.auth).toBe(before);
  });

  it('launch waits, showing progress, until the launch succeeds (exit 0)', async () => {
    polls = 0;
    const r = await cxo('launch', 'good.json', '--idempotency-key', 'idem-1');
    expect(r.code).toBe(EXIT.ok);
    expect(seen.auth).toBe('Bearer cli-token-1');
    expect(seen.idem).toBe('idem-1');
    expect(r.out).toContain('launch L-1: queued');
    expect(r.out).toContain('launch L-1: running');
    expect(r.out).toMatch(/campaign c-1/);
    // Not a terminal: plain lines, no spinner frames.
    const progress = r.out.split('\n').filter((l) => l.includes('launch L-1: '));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const line of progress) expect(line).toMatch(/^launch L-1: (queued|running|succeeded) \(/);
  });

  it('launch on a terminal redraws its progress line in place, with a spinner', async () => {
    polls = 0;
    const written: string[] = [];
    const io: CliIo = {
      out: (t) => void written.push(t),
      err: () => undefined,
      write: (t) => void written.push(t),
      isTty: true,
      pollMs: 10,
      readFile: async () => files['good.json']!,
    };
    expect(await runCli(['launch', 'good.json'], { API_URL: url }, io)).toBe(EXIT.ok);
    expect(written[0]!.startsWith('\r\x1b[2K⠋ launch L-1: queued (')).toBe(true);
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

  it('a refused token (401) is reported with where cxo took it from, never the token itself', async () => {
    const fromEnv = await cxo('status', 'c-auth');
    expect(fromEnv.code).toBe(EXIT.refused);
    expect(fromEnv.err).toContain('the token refused is API_TOKEN from the environment');
    expect(fromEnv.err).not.toContain('cli-token-1');
    const fromFlag = await cxo('status', 'c-auth', '--token', 'stale-secret', '--json');
    expect(JSON.parse(fromFlag.out)).toMatchObject({
      error: 'unauthorized',
      hint: expect.stringContaining('the one given with --token'),
    });
    expect(fromFlag.err + fromFlag.out).not.toContain('stale-secret');
    const err: string[] = [];
    const io: CliIo = {
      out: () => undefined,
      err: (t) => void err.push(t),
      write: () => undefined,
      isTty: false,
      readFile: async () => '',
    };
    expect(await runCli(['status', 'c-auth'], { API_URL: url, API_TOKEN: '' }, io)).toBe(EXIT.refused);
    expect(err.join('\n')).toContain(
      'neither --token nor API_TOKEN is set, so cxo sent the default dev-token',
    );
  });

  it('a file that is not JSON is named with the line and column of the error, not only its offset', async () => {
    for (const command of ['launch', 'validate']) {
      const r = await cxo(command, 'comma.json');
      expect(r.code, command).toBe(EXIT.validation);
      expect(r.err, command).toMatch(/^comma\.json is not valid JSON: .*position 22.*line 3 column 1\)$/);
    }
  });

  it("launch of a config the API refuses names the file and lists each problem once, not the API's one-line repeat", async () => {
    const invalid = await cxo('launch', 'nameless.json');
    expect(invalid.code).toBe(EXIT.validation);
    expect(invalid.err.split('\n')).toEqual([
      'nameless.json is not a valid campaign config (2 problems); nothing was launched',
      '  - name: required',
      '  - targetListId: required',
    ]);
    // Scripts keep the API's body as sent.
    const json = await cxo('launch', 'nameless.json', '--json');
    expect(JSON.parse(json.out)).toEqual({
      error: 'validation_failed',
      message: 'the request is invalid: name: required; targetListId: required',
      issues: [
        { path: 'name', message: 'required' },
        { path: 'targetListId', message: 'required' },
      ],
      httpStatus: 400,
    });
  });

  it('a file that gives a key twice is refused (exit 2) naming the key, sending nothing, as the API refuses it', async () => {
    const posts = seen.launchPosts;
    const launched = await cxo('launch', 'twice.json', '--json');
    expect(launched.code).toBe(EXIT.validation);
    expect(launched.err).toContain('dialerStrategy.callRate: given more than once in the same object');
    expect(JSON.parse(launched.out)).toMatchObject({
      error: 'validation_failed',
      issues: [{ path: 'dialerStrategy.callRate' }],
    });
    expect(seen.launchPosts).toBe(posts);
    for (const offline of [[], ['--offline']]) {
      const checked = await cxo('validate', 'twice.json', ...offline);
      expect(checked.code, offline.join()).toBe(EXIT.validation);
      expect(checked.out).toContain('- dialerStrategy.callRate: given more than once in the same object');
    }
  });

  it('sends a config file as it is written: one JSON.stringify cannot re-encode is not "cannot reach the API"', async () => {
    const checked = await cxo('validate', 'deep.json');
    expect(checked.err).not.toContain('cannot reach the API');
    expect(checked.code).toBe(EXIT.ok);
  });

  it('validate exits 0 when valid and 2 when not, online or offline', async () => {
    expect((await cxo('validate', 'good.json')).code).toBe(EXIT.ok);
    const bad = await cxo('validate', 'nameless.json');
    expect(bad.code).toBe(EXIT.validation);
    expect(bad.out).toContain('- name: required');
    const offline = await cxo('validate', 'good.json', '--offline');
    expect(offline.code).toBe(EXIT.validation);
    expect(offline.out).toContain('targetListId');
    expect((await cxo('validate', 'example.json', '--offline')).code).toBe(EXIT.ok);
    // Offline, the default deployment's policy applies: the API of a fleet without
    // ALLOW_DNC_DISABLED would refuse this at launch.
    const dncOff = await cxo('validate', 'dnc-off.json', '--offline');
    expect(dncOff.code).toBe(EXIT.validation);
    expect(dncOff.out).toContain('compliance.doNotCallCheck');
    expect(dncOff.out).toContain('ALLOW_DNC_DISABLED');
    // With other issues too, all in one answer.
    const both = await cxo('validate', 'dnc-off-bad.json', '--offline');
    expect(both.code).toBe(EXIT.validation);
    expect(both.out).toContain('- name:');
    expect(both.out).toContain('compliance.doNotCallCheck');
  });

  it('status finds launches and campaigns, and exits 3 for an unknown id', async () => {
    const byCampaign = await cxo('status', 'c-1');
    expect(byCampaign.code).toBe(EXIT.ok);
    expect(byCampaign.out).toContain('status     completed   version 7');
    const missing = await cxo('status', 'nope');
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.err).toContain('no launch or campaign with id nope');
  });

  it('status of a launch that ended failed exits 4 (as launch does), still showing it; --json too', async () => {
    const failed = await cxo('status', 'L-bad');
    expect(failed.code).toBe(EXIT.refused);
    expect(failed.out).toMatch(/status +failed/);
    expect(failed.out).toContain('CXone rejected it (422)');
    const json = await cxo('status', 'L-bad', '--json');
    expect(json.code).toBe(EXIT.refused);
    expect(JSON.parse(json.out)).toMatchObject({
      launch: { launchId: 'L-bad', status: 'failed' },
      campaign: null,
    });
    // A launch that succeeded, and one still queued, are no failure.
    expect((await cxo('status', 'L-done')).code).toBe(EXIT.ok);
    expect((await cxo('status', 'L-queued')).code).toBe(EXIT.ok);
  });

  it('pause waits until the command is applied (0); a refused resume exits 4 with the reason', async () => {
    const ok = await cxo('pause', 'c-1');
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.out).toBe('pause of campaign c-1 done: it is paused (version 8, command cmd-1)');
    expect(seen.actions).toContainEqual({ action: 'pause' });
    const refused = await cxo('resume', 'c-1');
    expect(refused.code).toBe(EXIT.refused);
    expect(refused.err).toContain('outside the calling window');
  });

  it('an action the worker then fails or stops on a conflict exits 4 saying why, not 0 for "accepted"', async () => {
    const failed = await cxo('stop', 'c-cmd-fail');
    expect(failed.code).toBe(EXIT.refused);
    expect(failed.err).toContain('stop of campaign c-cmd-fail failed: CXone answered 403');
    const clash = await cxo('pause', 'c-cmd-clash', '--json');
    expect(clash.code).toBe(EXIT.refused);
    expect(clash.err).toContain('status was changed to completed by someone else');
    expect(JSON.parse(clash.out)).toMatchObject({
      error: 'command_conflict',
      commandId: 'cmd-clash',
      command: { status: 'conflict' },
    });
  });

  it('an action whose command is not applied in --timeout exits 5 naming it; --no-wait returns once accepted', async () => {
    const stuck = await cxo('pause', 'c-cmd-stuck', '--timeout', '0.05');
    expect(stuck.code).toBe(EXIT.server);
    expect(stuck.err).toContain('command cmd-stuck still queued after 0.05 s');
    expect(stuck.err).toContain('cxo status c-cmd-stuck');
    const quick = await cxo('stop', 'c-cmd-fail', '--no-wait');
    expect(quick.code).toBe(EXIT.ok);
    expect(quick.out).toBe('stop accepted for campaign c-cmd-fail (command cmd-fail)');
    // A re-run whose key answers with a command that has already failed reports that failure (4), as
    // a replayed launch that failed does, not "accepted" with 0.
    const failedBefore = await cxo('stop', 'c-cmd-fail', '--no-wait', '--idempotency-key', 'k-failed-before');
    expect(failedBefore.code).toBe(EXIT.refused);
    expect(failedBefore.err).toContain('stop of campaign c-cmd-fail failed: CXone answered 403');
    expect(failedBefore.err).toContain('command cmd-fail, accepted earlier under this --idempotency-key');
    // A key still held by its first request (a run started a moment before): asked again after the
    // API's Retry-After, and answered with that request's command.
    const held = await cxo('stop', 'c-held', '--no-wait', '--idempotency-key', 'k-in-use');
    expect(held.code, held.err).toBe(EXIT.ok);
    expect(held.err).toContain(
      'the --idempotency-key is still held by its first request; asking again in 1 s',
    );
    expect(held.out).toBe(
      'stop accepted for campaign c-held (command cmd-1, accepted earlier under this --idempotency-key)',
    );
    expect(keyInUseAnswers).toBe(2);
  });

  it('audit follows cursors; --export prints JSON lines', async () => {
    const r = await cxo('audit', 'c-1', '--export');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out.split('\n').map((l) => JSON.parse(l).auditId)).toEqual(['a1', 'a2']);
    const limited = await cxo('audit', 'c-1', '--limit', '1');
    expect(limited.out).toContain('campaign_created');
    expect(limited.out).not.toContain('state_changed');
  });

  it('audit of a trail with gaps prints what it could and exits 5 naming the first gap', async () => {
    const r = await cxo('audit', 'c-gap', '--export');
    expect(r.code).toBe(EXIT.server);
    expect(r.out.split('\n').map((l) => JSON.parse(l).auditId)).toEqual(['g1', 'g3']);
    expect(r.err).toContain(
      'audit trail of c-gap incomplete: 1 record(s) could not be read (first: g2 (stream id 5-0) is missing from the trail); 2 record(s) printed',
    );
    const json = await cxo('--json', 'audit', 'c-gap');
    expect(json.code).toBe(EXIT.server);
    expect(JSON.parse(json.out.split('\n').at(-1)!)).toMatchObject({
      error: 'audit_gaps',
      gaps: [{ streamId: '5-0', reason: 'missing', auditId: 'g2' }],
    });
    const readable = await cxo('audit', 'c-gap');
    expect(readable.code).toBe(EXIT.server);
  });

  it('watch stops by itself once the campaign is final, and exits 3 for an unknown campaign', async () => {
    const r = await cxo('watch', 'c-1', '--interval', '0.01');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('campaign c-1 is completed');
    expect(r.out).toMatch(/^cxo watch c-1 {2}\S+Z {2}\(every 0\.01 s, Ctrl-C to stop\)$/m);
    expect((await cxo('watch', 'nope')).code).toBe(EXIT.notFound);
  });

  it('watch --once prints one view without promising a refresh', async () => {
    const r = await cxo('watch', 'c-1', '--once');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toMatch(/^cxo watch c-1 {2}\S+Z$/m);
    expect(r.out).not.toContain('Ctrl-C');
  });

  /**
   * Runs `cxo` and presses Ctrl-C after `afterMs`, as cxo.ts does on SIGINT. The result is "still
   * running" when the CLI has not finished 3 s later: the signal did not reach the request (whose
   * own timeout is 15 s).
   */
  /**
   * Runs cxo and presses Ctrl-C after `afterMs`, or once `when` holds of what it printed so far (a
   * loaded machine may take longer than any fixed delay to get there).
   */
  async function interrupted(afterMs: number | ((printed: string) => boolean), ...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const controller = new AbortController();
    const io: CliIo = {
      out: (t) => void out.push(t),
      err: (t) => void err.push(t),
      write: (t) => void out.push(t),
      isTty: false,
      pollMs: 10,
      signal: controller.signal,
      readFile: async (p) => files[p] ?? Promise.reject(new Error(`ENOENT: ${p}`)),
    };
    const when = afterMs;
    const timer =
      typeof when === 'number'
        ? setTimeout(() => controller.abort(), when)
        : setInterval(() => {
            if (when([...out, ...err].join('\n'))) controller.abort();
          }, 5);
    let guard: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      runCli(argv, { API_URL: url }, io),
      new Promise<'still running'>((resolve) => (guard = setTimeout(() => resolve('still running'), 3_000))),
    ]);
    clearTimeout(timer);
    clearInterval(timer);
    clearTimeout(guard);
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('Ctrl-C during a one-shot request exits 130 at once with one line', async () => {
    const status = await interrupted(100, 'status', 'c-hang');
    expect(status.code).toBe(EXIT.interrupted);
    expect(status.err).toMatch(/^interrupted .*GET \/v1\/campaigns\/c-hang$/);
    const pause = await interrupted(100, 'pause', 'c-hang');
    expect(pause.code).toBe(EXIT.interrupted);
    expect(pause.err).toContain('the pause may or may not have been accepted; check with cxo status c-hang');
  });

  it('Ctrl-C during the launch request exits 130 saying the launch may have been accepted', async () => {
    const r = await interrupted(100, 'launch', 'hang.json', '--idempotency-key', 'k-hang');
    expect(r.code).toBe(EXIT.interrupted);
    expect(r.err).toContain('the launch may or may not have been accepted');
    expect(r.err).toContain('--idempotency-key k-hang');
    expect(r.err.split('\n')).toHaveLength(1);
  });

  it('Ctrl-C during a poll ends a launch wait and a watch cleanly (exit 0)', async () => {
    reads['L-hang'] = 0;
    const wait = await interrupted(() => (reads['L-hang'] ?? 0) > 0, 'launch', 'hang-wait.json');
    expect(wait.code).toBe(EXIT.ok);
    expect(wait.err).toBe('stopped waiting; the launch continues: cxo status L-hang');
    // cmd-stuck stays queued: Ctrl-C ends the wait for it, and the command goes on.
    commandReads['cmd-stuck'] = 0;
    const pause = await interrupted(() => (commandReads['cmd-stuck'] ?? 0) > 0, 'pause', 'c-cmd-stuck');
    expect(pause.code).toBe(EXIT.ok);
    expect(pause.err.split('\n').at(-1)).toBe(
      'stopped waiting; the pause goes on (command cmd-stuck): cxo status c-cmd-stuck (last cmd)',
    );
    reads['c-then-hang'] = 0;
    const watch = await interrupted(100, 'watch', 'c-then-hang', '--interval', '0.01');
    expect(watch.code).toBe(EXIT.ok);
    expect(watch.err).toBe('');
    expect(reads['c-then-hang']).toBe(2);
  });

  it('Ctrl-C ending a launch or command wait under --json still prints the launch or command on stdout', async () => {
    // Exit 0 says it was accepted: a script that asked for JSON must not be left with an empty stdout.
    reads['L-hang'] = 0;
    const wait = await interrupted(() => (reads['L-hang'] ?? 0) > 0, 'launch', 'hang-wait.json', '--json');
    expect(wait.code).toBe(EXIT.ok);
    expect(wait.err).toBe('stopped waiting; the launch continues: cxo status L-hang');
    expect(JSON.parse(wait.out)).toMatchObject({ launchId: 'L-hang' });
    // Once the command was accepted and its first read answered: before, Ctrl-C is a one-shot's 130.
    commandReads['cmd-stuck'] = 0;
    const pause = await interrupted(
      () => (commandReads['cmd-stuck'] ?? 0) > 0,
      'pause',
      'c-cmd-stuck',
      '--json',
    );
    expect(pause.code).toBe(EXIT.ok);
    expect(JSON.parse(pause.out)).toMatchObject({ commandId: 'cmd-stuck' });
  });

  it('Ctrl-C before the API first answered a watch exits 130, as for a one-shot request', async () => {
    const watch = await interrupted(100, 'watch', 'c-hang');
    expect(watch.code).toBe(EXIT.interrupted);
    expect(watch.err).toMatch(/^interrupted .*GET \/v1\/campaigns\/c-hang$/);
  });

  it('watch exits 5 at once, as status does, when its first request cannot reach the API', async () => {
    const status = await cxo('status', 'c-1', '--api-url', 'http://127.0.0.1:9');
    for (const json of [false, true]) {
      const argv = ['watch', 'c-1', '--interval', '0.01', '--api-url', 'http://127.0.0.1:9'];
      // Ctrl-C 2 s later: a watch still retrying by then would end with 0.
      const r = await interrupted(2_000, ...argv, ...(json ? ['--json'] : []));
      expect(r.code, r.err).toBe(EXIT.server);
      expect(r.err).toBe(status.err);
      expect(r.err).toMatch(/^cannot reach the API at http:\/\/127\.0\.0\.1:9 /);
      if (json) expect(JSON.parse(r.out)).toMatchObject({ error: 'api_unreachable' });
      else expect(r.out).toBe('');
    }
  });

  it('watch retries once the API has answered; under --json each failed poll is said on stderr', async () => {
    reads['c-blip'] = 0;
    const r = await interrupted(500, 'watch', 'c-blip', '--interval', '0.01', '--json');
    // The latest poll showed the campaign again: Ctrl-C ends the watch cleanly.
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(r.err).toMatch(
      /^\S+Z {2}API error, retrying in \d+ ms: GET \/v1\/campaigns\/c-blip → 503: Redis is not connected/,
    );
    expect(r.err.split('\n')).toHaveLength(1);
    const views = r.out.split('\n').map((l) => JSON.parse(l) as { campaignId: string });
    expect(views.length).toBeGreaterThanOrEqual(2);
    expect(views.every((v) => v.campaignId === 'c-blip')).toBe(true);
  });

  it("watch rides out a gateway's 429 as it does a 5xx, no sooner than its Retry-After", async () => {
    reads['c-throttled'] = 0;
    pollTimes['c-throttled'] = [];
    // Ctrl-C once the poll after the 429 has been shown (a second view).
    const r = await interrupted(
      (printed) => (printed.match(/"campaignId":"c-throttled"/g) ?? []).length >= 2,
      ...['watch', 'c-throttled', '--interval', '0.01', '--json'],
    );
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(r.err).toMatch(
      /^\S+Z {2}API error, retrying in 1 s: GET \/v1\/campaigns\/c-throttled → 429: Too Many Requests$/,
    );
    expect(r.out.split('\n').length).toBeGreaterThanOrEqual(2);
    // The gateway said "Retry-After: 1": the next poll waited that long, not the 10 ms interval.
    const [, throttled, next] = pollTimes['c-throttled'];
    expect(next! - throttled!).toBeGreaterThanOrEqual(950);
    // A one-shot request still reports it: nobody is there to retry it.
    reads['c-throttled'] = 1;
    const once = await cxo('watch', 'c-throttled', '--once');
    expect(once.code).toBe(EXIT.server);
  });

  it('Ctrl-C while every poll since some time failed exits 5, saying since when', async () => {
    const failedOnce = (printed: string) => printed.includes('API error, retrying');
    reads['c-flaky'] = 0;
    const r = await interrupted(failedOnce, 'watch', 'c-flaky', '--interval', '0.01');
    expect(r.code, r.err).toBe(EXIT.server);
    expect(r.out).toMatch(/API error, retrying in \d+ ms: GET \/v1\/campaigns\/c-flaky → 503/);
    expect(r.err).toMatch(
      /^stopped watching; every poll since \S+Z failed: GET \/v1\/campaigns\/c-flaky → 503: Redis is not connected/,
    );
    reads['c-flaky'] = 0;
    const json = await interrupted(failedOnce, 'watch', 'c-flaky', '--interval', '0.01', '--json');
    expect(json.code).toBe(EXIT.server);
    const lines = json.out.split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ campaignId: 'c-flaky' });
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({
      error: 'redis_unavailable',
      httpStatus: 503,
      failingSince: expect.stringMatching(/Z$/),
    });
    expect(json.err).toMatch(/API error, retrying in \d+ ms: GET \/v1\/campaigns\/c-flaky → 503/);
  });

  it('a watch whose polls keep failing backs off from its interval instead of polling at it', async () => {
    reads['c-flaky'] = 0;
    const r = await interrupted(600, 'watch', 'c-flaky', '--interval', '0.01', '--json');
    expect(r.code, r.err).toBe(EXIT.server);
    // 10, 20, 40, 80, 160, 320 ms between tries: a handful of polls, not one every 10 ms (~50).
    expect(reads['c-flaky']).toBeLessThanOrEqual(12);
    const notes = r.err.split('\n').filter((l) => l.includes('retrying in'));
    expect(notes[1]).toContain('retrying in 20 ms');
    expect(notes[2]).toContain('retrying in 40 ms');
  });

  it('accepts an API_URL ending in /v1; a URL that is not the API exits 5 with a hint, never 3', async () => {
    const withV1 = await cxo('status', 'c-1', '--api-url', `${url}/v1`);
    expect(withV1.code, withV1.err).toBe(EXIT.ok);
    const hint = "is API_URL the API's root, e.g. http://host:3000?";
    for (const base of [`${url}/api`, `${url}/html`]) {
      for (const argv of [
        ['status', 'c-1'],
        ['pause', 'c-1'],
        ['audit', 'c-1'],
        ['watch', 'c-1'],
        ['validate', 'good.json'],
      ]) {
        const r = await cxo(...argv, '--api-url', base);
        expect(r.code, `${argv.join(' ')} at ${base}: ${r.err}`).toBe(EXIT.server);
        expect(r.err).toContain(hint);
      }
    }
    const routeless = await cxo('status', 'c-1', '--api-url', `${url}/api`);
    expect(routeless.err).toContain(`no route GET /api/v1/launches/c-1`);
  });

  it('a request the API takes but never answers says so, not "cannot reach the API … is it running?"', async () => {
    const client = new ApiClient({ apiUrl: url, token: 'cli-token-1', timeoutMs: 100 });
    const err = await client.get('/v1/campaigns/c-hang').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toBe(
      `no answer from the API at ${url} within 0.1 s; is it stalled or overloaded? (its /readyz and logs say; set API_URL or --api-url if this is not the API)`,
    );
    const closed = `http://127.0.0.1:${await freePort()}`;
    const refused = await new ApiClient({ apiUrl: closed, token: 't', timeoutMs: 100 })
      .get('/v1/campaigns/c-1')
      .catch((e: unknown) => e);
    expect((refused as Error).message).toBe(
      `cannot reach the API at ${closed} (ECONNREFUSED); is it running? (set API_URL or --api-url)`,
    );
    // A port fetch refuses to send to: its reason, not "fetch failed".
    const blocked = await new ApiClient({ apiUrl: 'http://127.0.0.1:9', token: 't' })
      .get('/v1/campaigns/c-1')
      .catch((e: unknown) => e);
    expect((blocked as Error).message).toContain('(bad port)');
  });

  it("a 2xx that is not the API's JSON (a login page redirected to) is a wrong API_URL (5), never accepted (0)", async () => {
    for (const base of [`${url}/sso`, `${url}/spa`]) {
      for (const argv of [
        ['status', 'c-1'],
        ['pause', 'c-1'],
        ['pause', 'c-1', '--no-wait'],
        ['launch', 'good.json', '--no-wait'],
        ['launch', 'good.json'],
        ['validate', 'good.json'],
        ['audit', 'c-1'],
        ['watch', 'c-1'],
        ['watch', 'c-1', '--once'],
      ]) {
        const r = await cxo(...argv, '--api-url', base);
        expect(r.code, `${argv.join(' ')} at ${base}: ${r.err}`).toBe(EXIT.server);
        expect(r.err).toContain("(the answer is not the orchestrator API's");
        expect(r.err).toContain("is API_URL the API's root");
        expect(r.out).not.toContain('accepted');
      }
    }
    const sso = await cxo('pause', 'c-1', '--no-wait', '--api-url', `${url}/sso`, '--json');
    // Where the proxy sent it, without the login's query.
    expect(sso.err).toContain(`→ 200 (the answer is not the orchestrator API's: redirected to ${url}/login)`);
    expect(sso.err).not.toContain('s3cr3t');
    expect(JSON.parse(sso.out)).toMatchObject({ error: 'wrong_api_url', httpStatus: 200 });
  });

  it('shows each failed try of a retrying launch, and the last one when the wait times out', async () => {
    retryPolls = 0;
    const r = await cxo('launch', 'retry.json');
    expect(r.code).toBe(EXIT.ok);
    const tries = r.out.split('\n').filter((l) => l.includes('last try'));
    expect(tries).toHaveLength(2);
    expect(tries[0]).toMatch(/launch L-retry: running .*; last try attempt 1: CXone answered 503/);
    expect(tries[1]).toContain('last try attempt 2');
    const stuck = await cxo('launch', 'stuck.json', '--timeout', '0.05');
    expect(stuck.code).toBe(EXIT.server);
    expect(stuck.err).toContain(
      'still running after 0.05 s (last try: attempt 4: CXone answered 503 to POST /api/v2/campaigns)',
    );
    const status = await cxo('status', 'L-stuck');
    expect(status.out).toContain('last try attempt 4: CXone answered 503');
  });

  it('audit of an id without records: exit 3 unless it is a known campaign', async () => {
    const unknown = await cxo('audit', 'nope');
    expect(unknown.code).toBe(EXIT.notFound);
    expect(unknown.err).toBe('no campaign with id nope');
    const exported = await cxo('audit', 'nope', '--export');
    expect(exported.code).toBe(EXIT.notFound);
    expect(exported.out).toBe('');
    const launch = await cxo('audit', 'L-done');
    expect(launch.code).toBe(EXIT.notFound);
    expect(launch.err).toContain("L-done is a launch; its campaign's trail: cxo audit c-1");
    const quiet = await cxo('audit', 'c-quiet');
    expect(quiet.code).toBe(EXIT.ok);
    expect(quiet.out).toBe('no audit records for c-quiet');
  });

  it('refuses a config file that is not UTF-8 (exit 2, nothing sent), as the API refuses its bytes', async () => {
    // Latin-1 "Café": read leniently it became "Caf\uFFFD" in valid UTF-8, launched and audited as such.
    const latin1 = Buffer.from('{"name": "Spring",\n "description": "Caf\u00e9"}', 'latin1');
    const utf8 = Buffer.from('{"name": "Caf\u00e9"}', 'utf8');
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      out: (line) => void out.push(line),
      err: (line) => void err.push(line),
      write: () => undefined,
      isTty: false,
      cwd: '/srv',
      readFile: async (p) => (p === '/srv/latin1.json' ? latin1 : utf8),
    };
    const env = { API_URL: url, API_TOKEN: 'cli-token-1' };
    const posts = seen.launchPosts;
    for (const argv of [
      ['launch', 'latin1.json', '--no-wait'],
      ['validate', 'latin1.json', '--offline'],
    ]) {
      err.length = 0;
      expect(await runCli(argv, env, io)).toBe(EXIT.validation);
      expect(err).toEqual([
        'latin1.json is not valid JSON: it is not UTF-8 text (line 2); JSON files are UTF-8 (RFC 8259 §8.1): save it as UTF-8',
      ]);
    }
    expect(seen.launchPosts).toBe(posts);
    // UTF-8 bytes are the text they spell.
    expect(await runCli(['launch', 'utf8.json', '--no-wait'], env, io)).toBe(EXIT.ok);
    expect(seen.launchPosts).toBe(posts + 1);
  });

  it('reads FILE relative to INIT_CWD, and names the absolute path it could not read', async () => {
    const tried: string[] = [];
    const errors: string[] = [];
    const io: CliIo = {
      out: () => undefined,
      err: (line) => void errors.push(line),
      write: () => undefined,
      isTty: false,
      cwd: '/srv/pkg',
      readFile: async (p) => {
        tried.push(p);
        if (p === '/srv/pkg/examples/c.json') return JSON.stringify({ name: 'x' });
        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
      },
    };
    const env = { INIT_CWD: '/srv/pkg/sub', npm_lifecycle_event: 'cxo' };
    expect(await runCli(['validate', '--offline', '../examples/c.json'], env, io)).toBe(EXIT.validation);
    expect(tried).toEqual(['/srv/pkg/examples/c.json']);
    expect(await runCli(['validate', '--offline', 'missing.json'], env, io)).toBe(EXIT.usage);
    expect(errors.join('\n')).toContain('cannot read /srv/pkg/sub/missing.json: no such file');
    expect(await runCli(['validate', '--offline', 'c.json'], {}, io)).toBe(EXIT.usage);
    expect(tried.at(-1)).toBe('/srv/pkg/c.json');
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

  it('points validate at --offline when the API answers 503 (its Redis is down)', async () => {
    const r = await cxo('validate', 'redis-down.json');
    expect(r.code).toBe(EXIT.server);
    expect(r.err).toContain('POST /v1/campaigns/validate → 503: Redis is not connected');
    expect(r.err).toContain('to check the file without the API: cxo validate --offline redis-down.json');
    const json = await cxo('validate', 'redis-down.json', '--json');
    expect(JSON.parse(json.out)).toMatchObject({
      error: 'redis_unavailable',
      httpStatus: 503,
      hint: 'to check the file without the API: cxo validate --offline redis-down.json',
    });
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

  it('status and each watch redraw say when the view is the cached one, and since when', async () => {
    staleReads = 0;
    const watched = await cxo('watch', 'c-stale', '--interval', '0.01');
    expect(watched.code).toBe(EXIT.ok);
    const frames = watched.out.split('cxo watch c-stale').slice(1);
    expect(frames).toHaveLength(2);
    expect(frames[0]).toContain(
      "cached     CXone did not answer with the campaign just now (the API does not say why): this is the orchestrator's cached view, last synced with CXone at 2026-11-28T09:00:00.000Z",
    );
    expect(frames[1]).not.toContain('cached');
    staleReads = 0;
    const status = await cxo('status', 'c-stale');
    expect(status.out).toContain('last synced with CXone at 2026-11-28T09:00:00.000Z');
  });

  it('watch ends, saying so, once CXone no longer knows the campaign', async () => {
    const watched = await cxo('watch', 'c-gone', '--interval', '0.01');
    expect(watched.code).toBe(EXIT.ok);
    expect(watched.out.split('cxo watch c-gone')).toHaveLength(2);
    expect(watched.out).toContain('CXone no longer knows this campaign (404 since 2026-11-29T07:00:00.000Z');
    expect(watched.out).toContain('campaign c-gone no longer exists on CXone');
  });

  it('status says when a scheduled campaign activates', async () => {
    const r = await cxo('status', 'c-later');
    expect(r.out).toContain('scheduled, activates at 2026-12-01T13:00:00.000Z');
  });

  it("names the launch a 503 at the API's deadline was making, and the command", async () => {
    const launch = await cxo('launch', 'deadline.json');
    expect(launch.code).toBe(EXIT.server);
    expect(launch.err).toContain('launch L-deadline: see where it stands with cxo status L-deadline');
    const json = await cxo('launch', 'deadline.json', '--json');
    expect(JSON.parse(json.out)).toMatchObject({
      error: 'request_timeout',
      httpStatus: 503,
      launchId: 'L-deadline',
    });
    const pause = await cxo('pause', 'c-deadline');
    expect(pause.code).toBe(EXIT.server);
    expect(pause.err).toContain('command cmd-deadline: whether it ran shows in cxo status c-deadline');
  });

  it('names the accepted launch when waiting for it fails', async () => {
    // A 4xx other than 408/429 will not come right by waiting: the wait ends on it at once.
    const r = await cxo('launch', 'gone.json');
    expect(r.code).toBe(EXIT.notFound);
    expect(r.err).toContain('launch L-gone was accepted and goes on; follow it with cxo status L-gone');
  });

  it('a launch wait rides out a 503, a reset connection and a 429 (after its Retry-After), then shows the outcome', async () => {
    reads['L-blip'] = 0;
    pollTimes['L-blip'] = [];
    const r = await cxo('launch', 'blip.json');
    expect(r.code, r.err).toBe(EXIT.ok);
    const notes = r.out.split('\n').filter((l) => l.includes('retrying'));
    expect(notes).toHaveLength(3);
    expect(notes[0]).toMatch(
      /^launch L-blip: API error, retrying in \d+ ms: GET \/v1\/launches\/L-blip → 503: Redis is not connected/,
    );
    expect(notes[1]).toMatch(/^launch L-blip: API unreachable, retrying in \d+ ms: cannot reach the API/);
    expect(notes[2]).toBe(
      'launch L-blip: API error, retrying in 1 s: GET /v1/launches/L-blip → 429: Too Many Requests',
    );
    expect(r.out).toMatch(/status\s+succeeded/);
    const [, , throttled, answered] = pollTimes['L-blip'];
    expect(answered! - throttled!).toBeGreaterThanOrEqual(950);
    // Under --json, stdout keeps the one result object; the notes go to stderr.
    reads['L-blip'] = 0;
    const json = await cxo('launch', 'blip.json', '--json');
    expect(json.code, json.err).toBe(EXIT.ok);
    expect(JSON.parse(json.out)).toMatchObject({ launchId: 'L-blip', status: 'succeeded' });
    expect(json.err.split('\n')).toHaveLength(3);
    expect(json.err).toMatch(/^\S+Z {2}launch L-blip: API error, retrying in/);
  });

  it('a launch wait whose polls keep failing ends at its --timeout (exit 5), naming the launch and the failure', async () => {
    const r = await cxo('launch', 'lost.json', '--timeout', '0.3', '--json');
    expect(r.code).toBe(EXIT.server);
    expect(r.err).toMatch(
      /^launch L-lost still queued after 0\.3 s; every poll since \S+Z failed \(latest: GET \/v1\/launches\/L-lost → 500: a bug\); follow it with: cxo status L-lost$/m,
    );
    expect(JSON.parse(r.out)).toMatchObject({
      error: 'launch_timeout',
      launch: { launchId: 'L-lost' },
      failingSince: expect.stringMatching(/Z$/),
      pollError: { error: 'internal_error', httpStatus: 500 },
    });
  });

  it('a launch wait on an API that never answers a poll ends at its --timeout, not 30 s later', async () => {
    const started = Date.now();
    const r = await cxo('launch', 'hang-wait.json', '--timeout', '1');
    expect(r.code).toBe(EXIT.server);
    expect(r.err).toContain('launch L-hang still queued after 1 s; every poll since');
    expect(r.err).toContain('no answer from the API at');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('pause rides out a 503 and a 408 while waiting; one failing until --timeout exits 5; a 403 ends it at once', async () => {
    const r = await cxo('pause', 'c-cmd-blip');
    expect(r.code, r.err).toBe(EXIT.ok);
    expect(r.out).toBe('pause of campaign c-cmd-blip done: it is paused (version 9, command cmd-blip)');
    const notes = r.err.split('\n').slice(1);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toMatch(
      /^command cmd-blip: API error, retrying in \d+ ms: GET \/v1\/commands\/cmd-blip → 503: Redis is not connected/,
    );
    expect(notes[1]).toMatch(/^command cmd-blip: API error, retrying in \d+ ms: .* → 408: Request Timeout$/);
    const down = await cxo('pause', 'c-cmd-down', '--timeout', '0.3', '--json');
    expect(down.code).toBe(EXIT.server);
    expect(JSON.parse(down.out)).toMatchObject({
      error: 'command_timeout',
      commandId: 'cmd-down',
      pollError: { error: 'redis_unavailable', httpStatus: 503 },
    });
    expect(down.err.split('\n').at(-1)).toMatch(
      /^command cmd-down still queued after 0\.3 s; every poll since \S+Z failed \(latest: .* → 503: Redis is not connected/,
    );
    const denied = await cxo('pause', 'c-cmd-denied', '--timeout', '30');
    expect(denied.code).toBe(EXIT.refused);
    expect(denied.err).toContain('command cmd-denied was accepted: cxo status c-cmd-denied (last cmd)');
    expect(denied.err).not.toContain('retrying');
  });

  it("watch and pause given a launch id act on the launch's campaign, or say why there is none", async () => {
    const watched = await cxo('watch', 'L-done', '--interval', '0.01');
    expect(watched.code, watched.err).toBe(EXIT.ok);
    expect(watched.err).toBe('L-done is a launch; its campaign is c-1');
    expect(watched.out).toContain('campaign c-1 is completed');
    seen.actionIds.length = 0;
    const paused = await cxo('pause', 'L-done');
    expect(paused.code, paused.err).toBe(EXIT.ok);
    expect(paused.err.split('\n')).toEqual([
      'L-done is a launch; its campaign is c-1',
      'pause accepted for campaign c-1 (command cmd-1); waiting for it',
    ]);
    expect(paused.out).toBe('pause of campaign c-1 done: it is paused (version 8, command cmd-1)');
    expect(seen.actionIds).toEqual(['L-done', 'c-1']);
    seen.actionIds.length = 0;
    const early = await cxo('stop', 'L-queued');
    expect(early.code).toBe(EXIT.notFound);
    expect(early.err).toBe(
      'L-queued is a launch whose campaign does not exist yet (launch queued); follow it with cxo status L-queued',
    );
    expect(seen.actionIds).toEqual(['L-queued']);
    const failed = await cxo('watch', 'L-bad');
    expect(failed.code).toBe(EXIT.notFound);
    expect(failed.err).toBe(
      'L-bad is a launch that failed before CXone created a campaign: CXone rejected it (422)',
    );
    // Neither a campaign nor a launch: the API's own 404, as before.
    const unknown = await cxo('pause', 'L-nope');
    expect(unknown.code).toBe(EXIT.notFound);
    expect(unknown.err).toContain('campaign L-nope is not known to this orchestrator');
  });

  it('refuses an invalid --idempotency-key before sending anything (exit 1, naming the option)', async () => {
    const before = seen.launchPosts;
    const r = await cxo('launch', 'good.json', '--idempotency-key', 'a b');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain('--idempotency-key "a b" is refused');
    expect(seen.launchPosts).toBe(before);
  });

  it('a replayed launch names its campaign, from the launch record when the answer does not', async () => {
    const r = await cxo('launch', 'replayed.json', '--idempotency-key', 'k-replayed', '--no-wait');
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toBe('launch   L-done\nstatus   succeeded\ncampaign c-1');
    const json = await cxo(
      'launch',
      'replayed.json',
      '--idempotency-key',
      'k-replayed',
      '--no-wait',
      '--json',
    );
    expect(JSON.parse(json.out)).toMatchObject({ launchId: 'L-done', campaignId: 'c-1' });
  });

  it('with --json, a failure is one JSON object on stdout, with the same exit code', async () => {
    const cases: [string[], number, Record<string, unknown>][] = [
      [['status', 'nope'], EXIT.notFound, { error: 'not_found', httpStatus: 404 }],
      [
        ['watch', 'nope'],
        EXIT.notFound,
        { error: 'not_found', httpStatus: 404, message: 'no such campaign' },
      ],
      [['pause', 'L-queued'], EXIT.notFound, { error: 'no_campaign', launchId: 'L-queued' }],
      [['audit', 'nope'], EXIT.notFound, { error: 'not_found' }],
      [
        ['audit', 'L-done'],
        EXIT.notFound,
        { error: 'not_a_campaign', launchId: 'L-done', campaignId: 'c-1' },
      ],
      [['resume', 'c-1'], EXIT.refused, { error: 'conflict', httpStatus: 409 }],
      [
        ['launch', 'nameless.json'],
        EXIT.validation,
        {
          error: 'validation_failed',
          httpStatus: 400,
          issues: [
            { path: 'name', message: 'required' },
            { path: 'targetListId', message: 'required' },
          ],
        },
      ],
      [['launch', 'broken.json'], EXIT.validation, { error: 'invalid_json', file: 'broken.json' }],
      [['validate', 'missing.json'], EXIT.usage, { error: 'file_unreadable' }],
      [['launch', 'stuck.json', '--timeout', '0.05'], EXIT.server, { error: 'launch_timeout' }],
      [
        ['status', 'c-1', '--api-url', `${url}/api`],
        EXIT.server,
        { error: 'wrong_api_url', httpStatus: 404 },
      ],
      [['status', 'c-1', '--api-url', 'http://127.0.0.1:9'], EXIT.server, { error: 'api_unreachable' }],
      [['launch', 'good.json', '--idempotency-key', 'a b'], EXIT.usage, { error: 'usage' }],
      [['status', 'c-1', '--bogus'], EXIT.usage, { error: 'usage', message: 'unknown option --bogus' }],
    ];
    for (const [argv, code, expected] of cases) {
      const r = await cxo(...argv, '--json');
      expect(r.code, argv.join(' ')).toBe(code);
      expect(r.out.split('\n'), argv.join(' ')).toHaveLength(1);
      expect(JSON.parse(r.out), argv.join(' ')).toMatchObject({ message: expect.any(String), ...expected });
      // People still read the reason on stderr.
      expect(r.err, argv.join(' ')).not.toBe('');
    }
  });
});
