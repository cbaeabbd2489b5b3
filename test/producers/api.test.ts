import { describe, expect, it } from 'vitest';
import type { EventPublisherStore } from '../../src/shared/events/publisher.js';
import { api, API_TOKEN, campaignConfig } from '../e2e/stack.js';
import { rawExchange } from '../support/raw-http.js';
import { stackForSuite } from '../support/stack-suite.js';

/**
 * The producer API over real HTTP and real Redis, without workers: every launch it accepts stays in
 * the queue, so queue counts show exactly what was (and was not) enqueued.
 */
const suite = stackForSuite();

describe('authentication', () => {
  it('answers 401 JSON without a token, with a wrong token, and with a non-bearer scheme', async () => {
    const attempts: Array<[Record<string, string>, string]> = [
      [{}, 'send Authorization: Bearer <API_TOKEN>'],
      [{ authorization: 'Bearer wrong-token-123' }, 'the bearer token is not valid for this API'],
      [{ authorization: 'Basic abc' }, 'must use the Bearer scheme (got Basic)'],
    ];
    for (const [headers, message] of attempts) {
      const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
        body: campaignConfig(),
        token: null,
        headers,
      });
      expect(reply.status).toBe(401);
      expect(reply.body.error).toBe('unauthorized');
      expect(reply.body.message).toContain(message);
      expect(reply.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect((await api(suite.stack, 'GET', '/admin/queues', { token: null })).status).toBe(401);
    expect(await suite.queued()).toBe(0);
  });

  it('cannot be bypassed by percent-encoding the path the router decodes', async () => {
    for (const path of ['/%761/campaigns', '/v%31/campaigns', '/%76%31/campaigns']) {
      const reply = await api(suite.stack, 'POST', path, { body: campaignConfig(), token: null });
      expect(reply.status, path).toBe(401);
    }
    expect((await api(suite.stack, 'GET', '/%61dmin/webhooks/destination', { token: null })).status).toBe(
      401,
    );
    expect((await api(suite.stack, 'GET', '/%761/launches/some-id', { token: null })).status).toBe(401);
    expect(await suite.queued()).toBe(0);
  });

  it("checks the token before the router's own errors, and answers those in the API's shape", async () => {
    const long = 'a'.repeat(150);
    // Past the router's default parameter limit (100), which used to answer 414 before any hook.
    for (const path of [`/v1/campaigns/${long}`, `/v1/launches/${long}`, `/v1/nothing/${long}`, '/v1/%ZZ']) {
      const reply = await api(suite.stack, 'GET', path, { token: null });
      expect(reply.status, path).toBe(401);
      expect(reply.body.error, path).toBe('unauthorized');
    }
    const campaign = await api(suite.stack, 'GET', `/v1/campaigns/${long}`);
    expect(campaign.status).toBe(400);
    expect(campaign.body).toMatchObject({ error: 'validation_failed', issues: [{ path: 'campaignId' }] });
    const launch = await api(suite.stack, 'GET', `/v1/launches/${long}`);
    expect(launch.status).toBe(400);
    expect(launch.body).toMatchObject({ error: 'validation_failed', issues: [{ path: 'launchId' }] });
    for (const path of ['/v1/%ZZ', '/healthz%E0%A4%A']) {
      const reply = await api(suite.stack, 'GET', path);
      expect(reply.status, path).toBe(400);
      expect(reply.body.error, path).toBe('invalid_url');
    }
  });

  it('checks the token before routing, so unknown /v1 paths do not reveal themselves', async () => {
    expect((await api(suite.stack, 'GET', '/v1/nothing-here', { token: null })).status).toBe(401);
    const authed = await api(suite.stack, 'GET', '/v1/nothing-here');
    expect(authed.status).toBe(404);
    expect(authed.body).toMatchObject({ error: 'not_found' });
  });

  it('answers 405 with Allow for a served path under another method, after the token check', async () => {
    expect((await api(suite.stack, 'DELETE', '/v1/campaigns/abc-1', { token: null })).status).toBe(401);
    const wrong = await api(suite.stack, 'DELETE', '/v1/campaigns/abc-1');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, PATCH');
    expect(wrong.body).toMatchObject({ error: 'method_not_allowed', allowed: ['GET', 'HEAD', 'PATCH'] });
    const put = await api(suite.stack, 'PUT', '/v1/campaigns', { body: campaignConfig() });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
    expect((await api(suite.stack, 'POST', '/healthz')).headers.get('allow')).toBe('GET, HEAD');
    // An encoded slash is part of the id, as the router reads it.
    expect((await api(suite.stack, 'DELETE', '/v1/campaigns/a%2Fb')).status).toBe(405);
    // A path nothing serves stays a 404.
    expect((await api(suite.stack, 'DELETE', '/v1/campaigns/abc-1/nothing')).status).toBe(404);
    expect(await suite.queued()).toBe(0);
  });

  it('answers a method a path does not serve 405, and a path nothing serves 404, whatever the body', async () => {
    // The body of such a request is never read: not JSON, a key twice, gzipped or past the limit, it
    // used to be the 400, 415 or 413 a served route gives, sending the client after its body.
    const bodies = [
      ['a body not JSON', { raw: '{not json' }],
      ['a key given twice', { raw: '{"a": 1, "a": 2}' }],
      ['a gzipped body', { raw: '{}', headers: { 'content-encoding': 'gzip' } }],
      ['a body past the limit', { raw: `{"a": "${'x'.repeat(70 * 1024)}"}` }],
    ] as const;
    for (const [what, opts] of bodies) {
      const wrong = await api(suite.stack, 'DELETE', '/v1/campaigns/abc-1', opts);
      expect({ what, status: wrong.status, allow: wrong.headers.get('allow') }).toEqual({
        what,
        status: 405,
        allow: 'GET, HEAD, PATCH',
      });
      expect(wrong.body, what).toMatchObject({ error: 'method_not_allowed' });
      const put = await api(suite.stack, 'PUT', '/v1/campaigns', opts);
      expect({ what, status: put.status }).toEqual({ what, status: 405 });
      const unknown = await api(suite.stack, 'POST', '/v1/nothing', opts);
      expect({ what, status: unknown.status, error: unknown.body.error }).toEqual({
        what,
        status: 404,
        error: 'not_found',
      });
    }
    // A served route still reads its body.
    expect((await api(suite.stack, 'PATCH', '/v1/campaigns/abc-1', { raw: '{not json' })).body.error).toBe(
      'invalid_json',
    );
    expect(await suite.queued()).toBe(0);
  });

  it('answers a method other than POST on /v1/campaigns/validate 405 with Allow: POST, not as a campaign id', async () => {
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      const reply = await api(suite.stack, method, '/v1/campaigns/validate', body ? { body } : {});
      expect(reply.status, method).toBe(405);
      expect(reply.headers.get('allow'), method).toBe('POST');
      expect(reply.body, method).toMatchObject({ error: 'method_not_allowed', allowed: ['POST'] });
    }
    expect((await api(suite.stack, 'GET', '/v1/campaigns/validate/')).headers.get('allow')).toBe('POST');
    // Read as the router reads it, percent-escapes decoded: the same path, the same Allow.
    for (const method of ['GET', 'DELETE']) {
      const reply = await api(suite.stack, method, '/v1/campaigns/valid%61te');
      expect(reply.headers.get('allow'), method).toBe('POST');
    }
    // A PATCH is the wrong method whatever its body: none, not JSON, or not labelled JSON is no 400
    // asking for the fields to change, nor a 415.
    for (const [what, opts] of [
      ['no body', {}],
      ['a body not JSON', { raw: '{not json' }],
      ['a text/plain body', { raw: 'x', headers: { 'content-type': 'text/plain' } }],
    ] as const) {
      const reply = await api(suite.stack, 'PATCH', '/v1/campaigns/validate', opts);
      expect(reply.status, what).toBe(405);
      expect(reply.headers.get('allow'), what).toBe('POST');
    }
    // Still behind the token: a request without one is the 401 it always was.
    expect((await api(suite.stack, 'PATCH', '/v1/campaigns/validate', { token: null })).status).toBe(401);
    expect(await suite.queued()).toBe(0);
  });
});

describe('malformed launch requests', () => {
  const cases: Array<{
    label: string;
    body?: unknown;
    raw?: string;
    status: number;
    error: string;
    path?: string;
    /** The message the issue at `path` must carry, where it matters. */
    message?: string;
  }> = [
    { label: 'not JSON', raw: '{"name": ', status: 400, error: 'invalid_json' },
    { label: 'JSON null', raw: 'null', status: 400, error: 'validation_failed', path: '(body)' },
    {
      label: 'a prototype-poisoning body',
      raw: '{"__proto__": {"admin": true}}',
      status: 400,
      error: 'invalid_json',
    },
    { label: 'an array', body: [1, 2], status: 400, error: 'validation_failed', path: '(body)' },
    {
      label: 'wrong types',
      body: campaignConfig({
        dialerStrategy: {
          strategy: 'predictive',
          agentCapacity: '10' as never,
          callRate: 0.5,
          answerRate: 0.3,
        },
      }),
      status: 400,
      error: 'validation_failed',
      path: 'dialerStrategy.agentCapacity',
    },
    {
      label: 'a missing field',
      body: (() => {
        const c = campaignConfig() as Record<string, unknown>;
        delete c.targetListId;
        return c;
      })(),
      status: 400,
      error: 'validation_failed',
      path: 'targetListId',
      message: 'required',
    },
    {
      label: 'callRate 2',
      body: campaignConfig({
        dialerStrategy: { strategy: 'predictive', agentCapacity: 10, callRate: 2, answerRate: 0.3 },
      }),
      status: 400,
      error: 'validation_failed',
      path: 'dialerStrategy.callRate',
    },
    {
      label: 'zone Mars/Olympus',
      body: campaignConfig({ complianceTimeZone: 'Mars/Olympus' }),
      status: 400,
      error: 'validation_failed',
      path: 'complianceTimeZone',
    },
    {
      label: 'a non-uuid id',
      body: campaignConfig({ skillGroupId: 'skill-42' }),
      status: 400,
      error: 'validation_failed',
      path: 'skillGroupId',
    },
    {
      label: 'a 20,000-character name',
      body: campaignConfig({ name: 'x'.repeat(20_000) }),
      status: 400,
      error: 'validation_failed',
      path: 'name',
    },
    {
      label: 'a start without offset',
      body: campaignConfig({ startDateTime: '2026-12-01T09:00:00' }),
      status: 400,
      error: 'validation_failed',
      path: 'startDateTime',
    },
    {
      label: 'a calling window past 21:00',
      body: campaignConfig({ allowedCallTimes: [{ days: ['mon'], start: '09:00', end: '22:00' }] }),
      status: 400,
      error: 'validation_failed',
      path: 'allowedCallTimes.0.end',
    },
    {
      label: 'a calling window naming a day twice',
      body: campaignConfig({
        allowedCallTimes: [
          { days: ['sat'], start: '10:00', end: '14:00' },
          { days: ['mon', 'mon'], start: '09:00', end: '17:00' },
        ],
      }),
      status: 400,
      error: 'validation_failed',
      path: 'allowedCallTimes.1.days.1',
      message: 'mon is listed twice',
    },
    {
      label: 'a calling window day in upper case',
      body: campaignConfig({ allowedCallTimes: [{ days: ['Mon' as never], start: '09:00', end: '17:00' }] }),
      status: 400,
      error: 'validation_failed',
      path: 'allowedCallTimes.0.days.0',
      message: '"Mon" must be written "mon": days are mon, tue, wed, thu, fri, sat or sun, in lower case',
    },
    {
      label: 'an empty calling window',
      body: campaignConfig({ allowedCallTimes: [{ days: ['mon'], start: '12:00', end: '12:00' }] }),
      status: 400,
      error: 'validation_failed',
      path: 'allowedCallTimes.0.end',
      message: 'must be after start (12:00): a window from 12:00 to 12:00 is empty',
    },
    {
      label: 'a key given twice (JSON.parse would keep the last silently)',
      raw: JSON.stringify(campaignConfig()).replace('"callRate":', '"callRate":0.1,"callRate":'),
      status: 400,
      error: 'validation_failed',
      path: 'dialerStrategy.callRate',
      message: 'given more than once in the same object; send each field once',
    },
    {
      label: 'an oversized body',
      raw: JSON.stringify({ name: 'y'.repeat(70_000) }),
      status: 413,
      error: 'payload_too_large',
    },
  ];

  for (const c of cases) {
    it(`answers ${c.status} for ${c.label}, naming the field, and enqueues nothing`, async () => {
      const reply = await api(suite.stack, 'POST', '/v1/campaigns', { body: c.body, raw: c.raw });
      expect(reply.status).toBe(c.status);
      expect(reply.headers.get('content-type')).toMatch(/application\/json/);
      expect(reply.body.error).toBe(c.error);
      expect(typeof reply.body.message).toBe('string');
      expect(reply.text).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack trace
      if (c.path) {
        const issues = reply.body.issues as Array<{ path: string; message: string }>;
        expect(issues.map((i) => i.path)).toContain(c.path);
        if (c.message) expect(issues.find((i) => i.path === c.path)?.message).toBe(c.message);
      }
      expect(await suite.queued()).toBe(0);
    });
  }

  it('answers 400 invalid_json for a body that is not UTF-8, rather than launching a mangled name', async () => {
    const before = await suite.queued();
    const latin1 = Buffer.from(JSON.stringify(campaignConfig({ name: 'Café outreach' })), 'latin1');
    const res = await fetch(`${suite.stack.apiUrl}/v1/campaigns`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${API_TOKEN}`,
        'content-type': 'application/json; charset=iso-8859-1',
      },
      body: latin1,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'invalid_json',
      message: expect.stringMatching(/UTF-8/),
    });
    expect(await suite.queued()).toBe(before);
    // The same name in UTF-8 is a name like any other.
    const utf8 = await api(suite.stack, 'POST', '/v1/campaigns/validate', {
      body: campaignConfig({ name: 'Café outreach' }),
    });
    expect(utf8.body).toEqual({ valid: true, issues: [] });
  });

  it('says what is wrong with a body that is not JSON, and where, or which key it refuses', async () => {
    const before = await suite.queued();
    const config = JSON.stringify(campaignConfig(), null, 2);
    // A trailing comma deep in a config: the client is told the position, not "not valid JSON, or …".
    const trailing = config.replace(/"answerRate": ([\d.]+)/, '"answerRate": $1,');
    const at = trailing.indexOf('}', trailing.indexOf('"answerRate"'));
    const notJson = 'the request body is not valid JSON: ';
    const refused = (key: string) =>
      `the request body has a ${key} key, which is refused (prototype poisoning)`;
    // JSON.parse's own words (V8's; a later Node adds the line and column after the position).
    for (const [what, raw, message] of [
      [
        'a trailing comma',
        trailing,
        `${notJson}Expected double-quoted property name in JSON at position ${at}`,
      ],
      ['a body cut short', '{"name": ', `${notJson}Unexpected end of JSON input`],
      ['a "__proto__" key', '{"a": [{"__proto__": {"admin": true}}]}', refused('"__proto__"')],
      [
        'a "constructor" key',
        '{"constructor": {"prototype": {}}}',
        refused('"constructor" holding "prototype"'),
      ],
    ] as const) {
      for (const path of ['/v1/campaigns', '/v1/campaigns/validate']) {
        const reply = await api(suite.stack, 'POST', path, { raw });
        expect({ what, path, status: reply.status, error: reply.body.error }).toEqual({
          what,
          path,
          status: 400,
          error: 'invalid_json',
        });
        expect(String(reply.body.message).startsWith(message), `${what} ${path}: ${reply.body.message}`).toBe(
          true,
        );
      }
    }
    expect(await suite.queued()).toBe(before);
  });

  it('answers 415 JSON for a body that is not application/json', async () => {
    const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
      raw: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(reply.status).toBe(415);
    expect(reply.body.error).toBe('unsupported_media_type');
  });

  it('keeps serving after all of that', async () => {
    const reply = await api(suite.stack, 'POST', '/v1/campaigns/validate', { body: campaignConfig() });
    expect(reply.status).toBe(200);
  });
});

describe('POST /v1/campaigns/validate', () => {
  it('reports every issue with its path and enqueues nothing', async () => {
    const reply = await api(suite.stack, 'POST', '/v1/campaigns/validate', {
      body: campaignConfig({ complianceTimeZone: 'Mars/Olympus', targetListId: 'nope' }),
    });
    expect(reply.status).toBe(200);
    expect(reply.body.valid).toBe(false);
    const paths = (reply.body.issues as Array<{ path: string }>).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['complianceTimeZone', 'targetListId']));
    const ok = await api(suite.stack, 'POST', '/v1/campaigns/validate', { body: campaignConfig() });
    expect(ok.body).toEqual({ valid: true, issues: [] });
    expect(await suite.queued()).toBe(0);
  });

  it('names a day listed twice in a calling window, as the launch does', async () => {
    const body = campaignConfig({
      allowedCallTimes: [{ days: ['mon', 'tue', 'mon'], start: '09:00', end: '17:00' }],
    });
    const reply = await api(suite.stack, 'POST', '/v1/campaigns/validate', { body });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      valid: false,
      issues: [{ path: 'allowedCallTimes.0.days.2', message: 'mon is listed twice' }],
    });
    expect(await suite.queued()).toBe(0);
  });

  it("answers a key given twice in its 200, beside the config's other issues, as the launch lists them", async () => {
    // Before, a repeated key was refused by the body parser alone: 400 with that one issue, hiding
    // every other problem, where /validate answers 200 {valid, issues}.
    const raw = JSON.stringify(campaignConfig({ targetListId: 'nope' }))
      .replace('"callRate":', '"callRate":0.1,"callRate":')
      .replace('"name":', '"name":"first","name":');
    const checked = await api(suite.stack, 'POST', '/v1/campaigns/validate', { raw });
    expect(checked.status).toBe(200);
    const repeated = 'given more than once in the same object; send each field once';
    expect(checked.body).toEqual({
      valid: false,
      issues: [
        { path: 'name', message: repeated },
        { path: 'dialerStrategy.callRate', message: repeated },
        { path: 'targetListId', message: 'must be a UUID' },
      ],
    });
    const launched = await api(suite.stack, 'POST', '/v1/campaigns', { raw });
    expect(launched.status).toBe(400);
    expect(launched.body).toMatchObject({ error: 'validation_failed', issues: checked.body.issues });
    // A config that is valid but for its repeated key is still refused, and launches nothing.
    const onlyRepeated = JSON.stringify(campaignConfig()).replace(
      '"callRate":',
      '"callRate":0.1,"callRate":',
    );
    expect((await api(suite.stack, 'POST', '/v1/campaigns/validate', { raw: onlyRepeated })).body).toEqual({
      valid: false,
      issues: [{ path: 'dialerStrategy.callRate', message: repeated }],
    });
    const refused = await api(suite.stack, 'POST', '/v1/campaigns', { raw: onlyRepeated });
    expect(refused.status).toBe(400);
    // Another route reading a body refuses it before its handler, with the repeated key alone.
    const action = await api(suite.stack, 'POST', '/v1/campaigns/c-unknown/actions', {
      raw: '{"action":"pause","action":"stop"}',
    });
    expect(action.status).toBe(400);
    expect(action.body).toMatchObject({
      error: 'validation_failed',
      issues: [{ path: 'action', message: repeated }],
    });
    expect(await suite.queued()).toBe(0);
  });

  it("names this deployment's do-not-call refusal beside the schema's issues, not after they are fixed", async () => {
    const body = campaignConfig({
      dialerStrategy: { strategy: 'predictive', agentCapacity: 20, callRate: 5, answerRate: 0.3 },
      compliance: { doNotCallCheck: false },
    });
    const checked = await api(suite.stack, 'POST', '/v1/campaigns/validate', { body });
    const paths = (checked.body.issues as Array<{ path: string }>).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['dialerStrategy.callRate', 'compliance.doNotCallCheck']));
    const launched = await api(suite.stack, 'POST', '/v1/campaigns', { body });
    expect(launched.status).toBe(400);
    expect((launched.body.issues as Array<{ path: string }>).map((i) => i.path)).toEqual(
      expect.arrayContaining(['dialerStrategy.callRate', 'compliance.doNotCallCheck']),
    );
    // Even when the compliance group itself is invalid.
    const unknownField = await api(suite.stack, 'POST', '/v1/campaigns/validate', {
      body: campaignConfig({
        compliance: { doNotCallCheck: false, extra: 1 } as { doNotCallCheck: boolean },
      }),
    });
    expect((unknownField.body.issues as Array<{ path: string }>).map((i) => i.path)).toEqual(
      expect.arrayContaining(['compliance.doNotCallCheck']),
    );
    expect(await suite.queued()).toBe(0);
  });
});

describe('a config with shape errors and compliance problems', () => {
  it('answers 400 naming every problem at once, enqueues nothing, and /validate names the same', async () => {
    const body = {
      ...campaignConfig(),
      allowedCallTimes: [
        { days: ['Mon', 'tue'], start: '09:00', end: '17:00' },
        { days: ['wed', 'wed'], start: '09:00', end: '17:00' },
        { days: ['fri'], start: '07:00', end: '22:00' },
      ],
      dialerStrategy: { strategy: 'predictive', agentCapacity: 10, callRate: '0.5', answerRate: 0.3 },
    };
    const federal = '(calling hours, TCPA 47 CFR 64.1200(c)(1); FTC TSR 16 CFR 310.4(c))';
    const expected = [
      {
        path: 'allowedCallTimes.0.days.0',
        message: '"Mon" must be written "mon": days are mon, tue, wed, thu, fri, sat or sun, in lower case',
      },
      { path: 'dialerStrategy.callRate', message: 'Invalid input: expected number, received string' },
      { path: 'allowedCallTimes.1.days.1', message: 'wed is listed twice' },
      { path: 'allowedCallTimes.2.start', message: `07:00 is before 08:00 local time ${federal}` },
      { path: 'allowedCallTimes.2.end', message: `22:00 is after 21:00 local time ${federal}` },
    ];
    const before = await suite.queued();
    const launched = await api(suite.stack, 'POST', '/v1/campaigns', { body });
    expect(launched.status).toBe(400);
    expect(launched.body.error).toBe('validation_failed');
    expect(launched.body.issues).toEqual(expected);
    expect(await suite.queued()).toBe(before);
    const checked = await api(suite.stack, 'POST', '/v1/campaigns/validate', { body });
    expect(checked.status).toBe(200);
    expect(checked.body).toEqual({ valid: false, issues: expected });
    expect(await suite.queued()).toBe(before);
  });
});

describe('POST /v1/campaigns', () => {
  it('answers 202 with a launch id, enqueues one job under that id, and records the launch', async () => {
    const before = await suite.queued();
    const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Plain launch' }),
    });
    expect(reply.status).toBe(202);
    expect(reply.body.status).toBe('queued');
    const launchId = String(reply.body.launchId);
    expect(reply.headers.get('location')).toBe(`/v1/launches/${launchId}`);
    expect(await suite.queued()).toBe(before + 1);
    const job = await suite.stack.ctx.queues.launch.getJob(launchId);
    expect(job?.data).toMatchObject({ launchId, config: { name: 'Plain launch' } });
    expect(String(job?.data.actor)).toMatch(/^api:token-[0-9a-f]{10}$/);

    const launch = await api(suite.stack, 'GET', `/v1/launches/${launchId}`);
    expect(launch.status).toBe(200);
    expect(launch.body).toMatchObject({ launchId, status: 'queued', name: 'Plain launch' });

    const events = await (suite.stack.ctx.events as EventPublisherStore).recent(50);
    expect(events.find((e) => e.data.launchId === launchId)?.type).toBe('campaign.launch.requested');
  });

  it('records the X-Actor header as the caller identity', async () => {
    const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Actor launch' }),
      headers: { 'x-actor': 'alice@example.com' },
    });
    const job = await suite.stack.ctx.queues.launch.getJob(String(reply.body.launchId));
    expect(job?.data.actor).toBe('api:alice@example.com');
  });

  // `X-Actor: token-<10 hex>` was recorded exactly as a caller known only by the token, and
  // `X-Actor: anonymous` as the caller without one: the trail could not tell them apart.
  it('refuses an X-Actor claiming a reserved actor with 400 invalid_actor, enqueuing nothing', async () => {
    const plain = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Fingerprinted launch' }),
    });
    const fingerprint = String(
      (await suite.stack.ctx.queues.launch.getJob(String(plain.body.launchId)))?.data.actor,
    );
    expect(fingerprint).toMatch(/^api:token-[0-9a-f]{10}$/);
    const before = await suite.queued();
    for (const label of [fingerprint.slice('api:'.length), 'token-0123456789', 'Anonymous', 'anonymous']) {
      const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
        body: campaignConfig({ name: 'Impersonated launch' }),
        headers: { 'x-actor': label, 'idempotency-key': `impersonation-${label}` },
      });
      expect(reply.status, label).toBe(400);
      expect(reply.headers.get('content-type'), label).toMatch(/^application\/json/);
      expect(reply.body, label).toEqual({
        error: 'invalid_actor',
        message: expect.stringMatching(
          new RegExp(`^X-Actor "${label}" is reserved: .*choose another label$`),
        ) as unknown,
      });
    }
    expect(await suite.queued()).toBe(before);
    // Every route behind the token, reads too; and the token is checked first.
    for (const [method, path] of [
      ['GET', `/v1/launches/${String(plain.body.launchId)}`],
      ['GET', '/v1/nothing-here'],
      ['GET', '/admin/webhooks/destination'],
      ['PATCH', '/v1/campaigns/some-campaign'],
    ] as const) {
      const refused = await api(suite.stack, method, path, {
        headers: { 'x-actor': 'token-0123456789' },
        ...(method === 'PATCH' ? { body: { name: 'x' } } : {}),
      });
      expect([refused.status, refused.body.error], path).toEqual([400, 'invalid_actor']);
      const unauthenticated = await api(suite.stack, method, path, {
        token: null,
        headers: { 'x-actor': 'token-0123456789' },
      });
      expect(unauthenticated.status, path).toBe(401);
    }
    // Open paths take no actor, so they read no X-Actor either.
    expect((await api(suite.stack, 'GET', '/healthz', { headers: { 'x-actor': 'anonymous' } })).status).toBe(
      200,
    );
  });

  it('refuses an X-Actor it cannot record instead of recording the token fingerprint', async () => {
    const before = await suite.queued();
    for (const label of ['has space', 'a'.repeat(65), 'alice, bob']) {
      const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
        body: campaignConfig({ name: 'Unrecordable actor' }),
        headers: { 'x-actor': label },
      });
      expect(reply.status, label).toBe(400);
      expect(reply.body.error, label).toBe('invalid_actor');
      expect(String(reply.body.message), label).toMatch(/^X-Actor must be/);
    }
    // Sent twice on the wire, as two header lines: named as given twice.
    const { hostname, port } = new URL(suite.stack.apiUrl);
    const answer = await rawExchange(
      Number(port),
      `GET /v1/nothing-here HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_TOKEN}\r\n` +
        'X-Actor: alice\r\nX-Actor: bob\r\nConnection: close\r\n\r\n',
      hostname,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.split('\r\n\r\n')[1] ?? '')).toEqual({
      error: 'invalid_actor',
      message: 'X-Actor must be given once; this request gives 2 labels',
    });
    expect(await suite.queued()).toBe(before);
  });

  it('returns the same launch id for a repeated Idempotency-Key and enqueues nothing new', async () => {
    const body = campaignConfig({ name: 'Idempotent launch' });
    const headers = { 'idempotency-key': `seq-${Date.now()}` };
    const first = await api(suite.stack, 'POST', '/v1/campaigns', { body, headers });
    const after = await suite.queued();
    // Same config with keys in another order: still the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const second = await api(suite.stack, 'POST', '/v1/campaigns', { body: reordered, headers });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.launchId).toBe(first.body.launchId);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await suite.queued()).toBe(after);
  });

  it('lets only one of many concurrent requests with one key enqueue', async () => {
    const body = campaignConfig({ name: 'Concurrent launch' });
    const headers = { 'idempotency-key': `conc-${Date.now()}` };
    const before = await suite.queued();
    const replies = await Promise.all(
      Array.from({ length: 12 }, () => api(suite.stack, 'POST', '/v1/campaigns', { body, headers })),
    );
    expect(replies.every((r) => r.status === 202)).toBe(true);
    expect(new Set(replies.map((r) => r.body.launchId)).size).toBe(1);
    expect(replies.filter((r) => r.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
    expect(await suite.queued()).toBe(before + 1);
  });

  it('refuses a reused key with a different config (422) and enqueues nothing', async () => {
    const headers = { 'idempotency-key': `reuse-${Date.now()}` };
    const first = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'First' }),
      headers,
    });
    const before = await suite.queued();
    const second = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig({ name: 'Second' }),
      headers,
    });
    expect(second.status).toBe(422);
    expect(second.body).toMatchObject({ error: 'idempotency_key_reused', launchId: first.body.launchId });
    expect(await suite.queued()).toBe(before);
  });

  it('refuses an unusable Idempotency-Key', async () => {
    const reply = await api(suite.stack, 'POST', '/v1/campaigns', {
      body: campaignConfig(),
      headers: { 'idempotency-key': 'x'.repeat(300) },
    });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_idempotency_key');
  });

  it('says an Idempotency-Key sent twice is sent twice, and enqueues nothing', async () => {
    const before = await suite.queued();
    const res = await fetch(`${suite.stack.apiUrl}/v1/campaigns`, {
      method: 'POST',
      headers: [
        ['authorization', `Bearer ${API_TOKEN}`],
        ['content-type', 'application/json'],
        ['idempotency-key', 'renewal-batch-1'],
        ['idempotency-key', 'renewal-batch-2'],
      ],
      body: JSON.stringify(campaignConfig()),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: 'invalid_idempotency_key',
      message: 'Idempotency-Key must be given once; this request gives 2 keys',
    });
    expect(await suite.queued()).toBe(before);
  });
});

describe('GET routes', () => {
  it('answers 404 JSON for unknown launches and campaigns, 400 for malformed ids', async () => {
    const launch = await api(suite.stack, 'GET', '/v1/launches/6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60');
    expect(launch.status).toBe(404);
    expect(launch.body.error).toBe('not_found');
    const accepted = await api(suite.stack, 'POST', '/v1/campaigns', { body: campaignConfig() });
    const launchId = String(accepted.body.launchId);
    const upper = await api(suite.stack, 'GET', `/v1/launches/${launchId.toUpperCase()}`);
    expect(upper.status).toBe(200);
    expect(upper.body.launchId).toBe(launchId);
    const bad = await api(suite.stack, 'GET', '/v1/launches/not-a-uuid');
    expect(bad.status).toBe(400);
    expect((bad.body.issues as Array<{ path: string }>)[0]?.path).toBe('launchId');
    const campaign = await api(suite.stack, 'GET', '/v1/campaigns/unknown-campaign');
    expect(campaign.status).toBe(404);
    expect(campaign.body.error).toBe('not_found');
  });
});

describe('the OpenAPI document', () => {
  it('lists the status codes the routes actually answer', async () => {
    const doc = (await api(suite.stack, 'GET', '/docs/json')).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const id = '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60';
    const calls: Array<[method: string, path: string, template: string, opts?: Parameters<typeof api>[3]]> = [
      [
        'POST',
        '/v1/campaigns',
        '/v1/campaigns',
        { raw: 'name=x', headers: { 'content-type': 'text/plain' } },
      ],
      ['POST', '/v1/campaigns', '/v1/campaigns', { body: { name: '' } }],
      ['POST', '/v1/campaigns/validate', '/v1/campaigns/validate', { raw: '{', headers: {} }],
      ['GET', '/v1/launches/not-a-uuid', '/v1/launches/{launchId}'],
      ['GET', `/v1/launches/${id}`, '/v1/launches/{launchId}'],
      ['GET', '/v1/campaigns/unknown-campaign', '/v1/campaigns/{campaignId}'],
      ['PATCH', '/v1/campaigns/unknown-campaign', '/v1/campaigns/{campaignId}', { body: { name: 'x' } }],
      [
        'POST',
        '/v1/campaigns/unknown-campaign/actions',
        '/v1/campaigns/{campaignId}/actions',
        { body: { action: 'pause' } },
      ],
      ['GET', '/v1/campaigns/unknown-campaign/commands', '/v1/campaigns/{campaignId}/commands'],
      ['GET', '/v1/commands/cmd_missing', '/v1/commands/{commandId}'],
      ['GET', '/v1/campaigns/unknown-campaign/compliance', '/v1/campaigns/{campaignId}/compliance'],
      ['GET', '/v1/campaigns/unknown-campaign/audit/verify', '/v1/campaigns/{campaignId}/audit/verify'],
      // This stack has no WEBHOOK_URL: replays are refused with 409.
      ['POST', `/v1/webhooks/${id}/replay`, '/v1/webhooks/{eventId}/replay'],
      ['POST', '/v1/webhooks/dead-letters/replay', '/v1/webhooks/dead-letters/replay'],
      ['GET', `/v1/webhooks/events/${id}`, '/v1/webhooks/events/{eventId}'],
      ['GET', '/v1/webhooks/dead-letters?limit=0', '/v1/webhooks/dead-letters'],
    ];
    const before = await suite.queued();
    const undocumented: string[] = [];
    for (const [method, path, template, opts] of calls) {
      const reply = await api(suite.stack, method, path, opts);
      const documented = doc.paths[template]?.[method.toLowerCase()]?.responses ?? {};
      if (!(String(reply.status) in documented)) undocumented.push(`${method} ${path} → ${reply.status}`);
    }
    expect(undocumented).toEqual([]);
    expect(await suite.queued()).toBe(before);
  });

  it("documents the router's invalid_url answer wherever a path parameter can carry a bad escape", async () => {
    const doc = (await api(suite.stack, 'GET', '/docs/json')).body as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
    };
    const reply = await api(suite.stack, 'GET', '/v1/launches/%zz');
    expect([reply.status, reply.body.error]).toEqual([400, 'invalid_url']);
    // Every documented 400 of a route with a path parameter admits the shape of that answer.
    const refusing: string[] = [];
    for (const [template, methods] of Object.entries(doc.paths)) {
      if (!template.includes('{')) continue;
      for (const [method, op] of Object.entries(methods)) {
        const bad = op.responses['400'];
        if (bad && !JSON.stringify(bad.content).includes('#/components/schemas/Error"')) {
          refusing.push(`${method.toUpperCase()} ${template}`);
        }
      }
    }
    expect(refusing).toEqual([]);
  });
});
