import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as API_HEADERS from '../../src/producers/headers.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { launchAuditId } from '../../src/shared/launch-store.js';
import { runPollCycle } from '../../src/shared/polling/poll-cycle.js';
import { deadLetter } from '../../src/shared/webhooks/store.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { api, campaignConfig, startStack, waitForLaunch, type ApiReply, type Stack } from '../e2e/stack.js';
import { call } from '../sandbox/helpers.js';

/**
 * The OpenAPI document against the running API: a body the document accepts is one the API does not
 * refuse as invalid, and the reverse; every parameter a route reads is documented.
 */
interface Operation {
  parameters?: Array<{ name: string; in: string; schema?: Record<string, unknown> }>;
  responses: Record<string, unknown>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, unknown>;
    headers?: Record<string, { required?: boolean; schema: Record<string, unknown> }>;
    parameters?: Record<string, { name: string; in: string; schema?: Record<string, unknown> }>;
    responses?: Record<string, unknown>;
  };
}

let stack: Stack;
let doc: Doc;
let conforms: (component: string, body: unknown) => boolean;
/** The fleet claim's message while a test makes this API's fleet contested (503 fleet_contested). */
let contested: string | undefined;

beforeAll(async () => {
  stack = await startStack({ launchWorker: true, apiOptions: { fleetContested: () => contested } });
  doc = (await api(stack, 'GET', '/docs/json')).body as unknown as Doc;
  const ajv = new Ajv2020({ strict: false });
  ajv.addSchema({ $id: 'doc', components: doc.components });
  conforms = (component, body) => {
    const ref = `doc#/components/schemas/${component}`;
    return ajv.validate({ $ref: ref }, body);
  };
});
afterAll(async () => {
  await stack?.close();
});

/** An operation's parameters, those given by reference (`#/components/parameters/…`) resolved. */
function parametersOf(path: string, method: string): NonNullable<Operation['parameters']> {
  return (doc.paths[path]?.[method]?.parameters ?? []).map((p) => {
    const ref = (p as { $ref?: string }).$ref?.replace('#/components/parameters/', '');
    return ref === undefined ? p : doc.components.parameters![ref]!;
  });
}

describe('request bodies', () => {
  it('PATCH and actions: the document refuses exactly the bodies the API refuses as invalid', async () => {
    const patches: unknown[] = [
      {},
      { dialerStrategy: {} },
      { pacing: {} },
      { name: 'renamed' },
      { dialerStrategy: { callRate: 0.5 } },
      { pacing: { strategy: 'off' } },
    ];
    const cases: Array<[component: string, path: string, body: unknown]> = [
      ...patches.map((p): [string, string, unknown] => [
        'CampaignPatch',
        '/v1/campaigns/unknown-campaign',
        p,
      ]),
      ...patches.map((p): [string, string, unknown] => [
        'ActionRequest',
        '/v1/campaigns/unknown-campaign/actions',
        { action: 'pause', patch: p },
      ]),
    ];
    const disagreements: string[] = [];
    for (const [component, path, body] of cases) {
      const method = component === 'CampaignPatch' ? 'PATCH' : 'POST';
      const reply = await api(stack, method, path, { body });
      const apiRefuses = reply.status === 400 && reply.body.error === 'validation_failed';
      const docRefuses = !conforms(component, body);
      if (apiRefuses !== docRefuses) {
        disagreements.push(
          `${component} ${JSON.stringify(body)}: API ${reply.status}, document ${docRefuses ? 'refuses' : 'accepts'}`,
        );
      }
    }
    expect(disagreements).toEqual([]);
  });
});

describe('parameters and answers', () => {
  it('documents the ?limit= the dead-letter list reads, with its bounds', () => {
    const op = doc.paths['/v1/webhooks/dead-letters']?.get;
    const limit = op?.parameters?.find((p) => p.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } });
  });

  it('documents the 400 every campaign route answers for a malformed campaign id', async () => {
    const undocumented: string[] = [];
    // The id a route refuses, its documented parameter refuses too: a client checking ids by the
    // document would otherwise send the 201-character one /audit/verify answers 400.
    const acceptedByDocument: string[] = [];
    const ajv = new Ajv2020({ strict: false });
    const long = 'a'.repeat(201);
    for (const [method, template, path] of [
      ['get', '/v1/campaigns/{campaignId}/commands', '/v1/campaigns/a.b/commands'],
      ['get', '/v1/campaigns/{campaignId}/compliance', '/v1/campaigns/a.b/compliance'],
      ['get', '/v1/campaigns/{campaignId}/audit/verify', `/v1/campaigns/${long}/audit/verify`],
      [
        'post',
        '/v1/campaigns/{campaignId}/audit/import-history',
        `/v1/campaigns/${long}/audit/import-history`,
      ],
      ['get', '/v1/commands/{commandId}', `/v1/commands/${long}`],
    ] as const) {
      const reply = await api(stack, method.toUpperCase(), path);
      expect(reply.status, path).toBe(400);
      if (!('400' in (doc.paths[template]?.[method]?.responses ?? {})))
        undocumented.push(`${method} ${template}`);
      const name = /\{(\w+)\}/.exec(template)?.[1];
      const param = parametersOf(template, method).find((p) => p.in === 'path' && p.name === name);
      const id = decodeURIComponent(path.split('/')[template.split('/').indexOf(`{${name}}`)] ?? '');
      if (ajv.compile(param?.schema ?? {})(id)) acceptedByDocument.push(`${method} ${template}`);
    }
    expect(undocumented).toEqual([]);
    expect(acceptedByDocument).toEqual([]);
  });
});

describe('the Idempotency-Key header', () => {
  it('is documented with the rule the API applies', async () => {
    const param = parametersOf('/v1/campaigns', 'post').find((p) => p.name === 'Idempotency-Key');
    const ajv = new Ajv2020({ strict: false });
    const documented = ajv.compile(param?.schema ?? {});
    const disagreements: string[] = [];
    for (const key of ['launch-2026-12-01', 'has space', 'ünïcode', 'k'.repeat(200), 'k'.repeat(201), '\t']) {
      // An invalid key is refused before the body is read, so the body's own problems do not matter.
      const reply = await api(stack, 'POST', '/v1/campaigns', {
        body: {},
        headers: { 'idempotency-key': key },
      });
      const apiRefuses = reply.body.error === 'invalid_idempotency_key';
      if (apiRefuses === documented(key)) disagreements.push(`${JSON.stringify(key)}: API ${reply.status}`);
    }
    expect(disagreements).toEqual([]);
  });
});

describe('the audit page parameters', () => {
  it('are documented with the rules the API applies to them', async () => {
    const params = doc.paths['/v1/campaigns/{campaignId}/audit']?.get?.parameters ?? [];
    const ajv = new Ajv2020({ strict: false });
    const disagreements: string[] = [];
    for (const [name, value] of [
      ['cursor', 'zzz'],
      ['cursor', '1700000000000-0'],
      ['cursor', '-1'],
      ['limit', '0x10'],
      ['limit', '10'],
    ] as const) {
      const schema = params.find((p) => p.name === name)?.schema ?? {};
      // Query values are strings on the wire; an integer parameter is its decimal spelling.
      const documented = ajv.compile(schema)(
        schema.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value,
      );
      const reply = await api(stack, 'GET', `/v1/campaigns/some-campaign/audit?${name}=${value}`);
      if ((reply.status !== 400) !== documented) disagreements.push(`${name}=${value}: API ${reply.status}`);
    }
    expect(disagreements).toEqual([]);
  });
});

describe('the campaign id parameter', () => {
  it('is documented with the pattern the API checks, wherever the route checks it', async () => {
    const ajv = new Ajv2020({ strict: false });
    const disagreements: string[] = [];
    for (const [method, template, suffix, body] of [
      ['get', '/v1/campaigns/{campaignId}', '', undefined],
      ['patch', '/v1/campaigns/{campaignId}', '', { name: 'x' }],
      ['post', '/v1/campaigns/{campaignId}/actions', '/actions', { action: 'pause' }],
      ['get', '/v1/campaigns/{campaignId}/commands', '/commands', undefined],
      ['get', '/v1/campaigns/{campaignId}/compliance', '/compliance', undefined],
    ] as const) {
      const param = doc.paths[template]?.[method]?.parameters?.find((p) => p.name === 'campaignId');
      const documented = ajv.compile(param?.schema ?? {});
      for (const id of ['a.b', 'c~1', 'unknown-campaign']) {
        const reply = await api(
          stack,
          method.toUpperCase(),
          `/v1/campaigns/${id}${suffix}`,
          body ? { body } : {},
        );
        if ((reply.status !== 400) !== documented(id))
          disagreements.push(`${method} ${template} ${id}: API ${reply.status}`);
      }
    }
    expect(disagreements).toEqual([]);
  });
});

describe('other checked path parameters', () => {
  it('are documented with the rule the API checks them by', async () => {
    const ajv = new Ajv2020({ strict: false });
    const uuid = '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60';
    const disagreements: string[] = [];
    for (const [method, template, name, build, values] of [
      [
        'get',
        '/v1/launches/{launchId}',
        'launchId',
        (v: string) => `/v1/launches/${v}`,
        ['x', uuid, uuid.toUpperCase()],
      ],
      [
        'get',
        '/v1/webhooks/events/{eventId}',
        'eventId',
        (v: string) => `/v1/webhooks/events/${v}`,
        ['bad', 'evt_abc123'],
      ],
      [
        'post',
        '/v1/webhooks/{eventId}/replay',
        'eventId',
        (v: string) => `/v1/webhooks/${v}/replay`,
        ['bad', 'evt_abc123'],
      ],
      [
        'get',
        '/v1/commands/{commandId}',
        'commandId',
        (v: string) => `/v1/commands/${v}`,
        ['cmd_1', 'c'.repeat(201)],
      ],
    ] as const) {
      const param = doc.paths[template]?.[method]?.parameters?.find((p) => p.name === name);
      const documented = ajv.compile(param?.schema ?? {});
      for (const value of values) {
        const reply = await api(stack, method.toUpperCase(), build(value));
        if ((reply.status !== 400) !== documented(value)) {
          disagreements.push(`${method} ${template} ${value.slice(0, 20)}: API ${reply.status}`);
        }
      }
    }
    expect(disagreements).toEqual([]);
  });
});

type Request = [
  method: string,
  template: string,
  path: string,
  body?: unknown,
  opts?: { headers?: Record<string, string>; token?: string | null; raw?: string },
];
interface Walk {
  disagreements: string[];
  /** `METHOD template status` of every answer that matched its documented schema. */
  checked: Set<string>;
  /** `METHOD template status header` of every documented header an answer carried as documented. */
  headers: Set<string>;
  replies: ApiReply[];
}

/** The headers the API sends beyond the standard ones (src/producers/headers.ts), by their wire names. */
const RESPONSE_HEADERS = [
  API_HEADERS.LOCATION,
  API_HEADERS.IDEMPOTENT_REPLAYED,
  API_HEADERS.RETRY_AFTER,
  API_HEADERS.WWW_AUTHENTICATE,
  API_HEADERS.ALLOW,
];

type DocumentedResponse = {
  content?: Record<string, { schema: unknown }>;
  headers?: Record<string, { $ref?: string; required?: boolean; schema?: Record<string, unknown> }>;
};

/**
 * What is wrong with an answer's headers by its documented response: a required header missing, a
 * value its schema refuses, or one of the API's own headers sent where the document does not say so.
 * `seen` gets `header` for each documented header the answer carried.
 */
function headerProblems(
  document: Doc,
  documented: DocumentedResponse,
  reply: ApiReply,
  seen: (header: string) => void,
): string[] {
  const ajv = new Ajv2020({ strict: false });
  const problems: string[] = [];
  const named = new Set<string>();
  for (const [name, header] of Object.entries(documented.headers ?? {})) {
    const wire = name.toLowerCase();
    named.add(wire);
    const target = header.$ref?.replace('#/components/headers/', '');
    const described = target === undefined ? header : document.components.headers?.[target];
    const schema = described?.schema ?? {};
    if (!described) {
      problems.push(`header ${name}: ${header.$ref} is not in components.headers`);
      continue;
    }
    const value = reply.headers.get(wire);
    if (value === null) {
      if (described.required) problems.push(`required header ${name} is missing`);
      continue;
    }
    // Header values are text on the wire; an integer header is its decimal spelling.
    const typed = schema.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value;
    if (!ajv.validate(schema, typed))
      problems.push(`header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(ajv.errors)}`);
    else seen(wire);
  }
  for (const wire of RESPONSE_HEADERS) {
    if (reply.headers.has(wire) && !named.has(wire)) problems.push(`sends ${wire}, which is not documented`);
  }
  return problems;
}

/** Sends each request and checks its status, content type and body against what the document declares. */
async function walk(target: Stack, document: Doc, requests: Request[]): Promise<Walk> {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'answers', components: document.components });
  const local = (schema: unknown) =>
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"answers#/components/')) as object;
  const result: Walk = { disagreements: [], checked: new Set(), headers: new Set(), replies: [] };
  for (const [method, template, path, body, opts] of requests) {
    const reply = await api(target, method, path, { ...opts, ...(body === undefined ? {} : { body }) });
    result.replies.push(reply);
    const op = document.paths[template]?.[method.toLowerCase()] as
      { responses: Record<string, DocumentedResponse> } | undefined;
    const documented = op?.responses[String(reply.status)] ?? op?.responses.default;
    if (documented) {
      for (const problem of headerProblems(document, documented, reply, (header) =>
        result.headers.add(`${method} ${template} ${reply.status} ${header}`),
      ))
        result.disagreements.push(`${method} ${path}: ${reply.status} ${problem}`);
    }
    const type = reply.headers.get('content-type')?.split(';')[0] ?? '';
    const schema = documented?.content?.[type]?.schema;
    if (!documented) result.disagreements.push(`${method} ${path}: ${reply.status} is not documented`);
    else if (schema === undefined)
      result.disagreements.push(`${method} ${path}: ${reply.status} ${type} is not documented`);
    // `{}` accepts anything: the answer would be checked against nothing.
    else if (typeof schema === 'object' && schema !== null && Object.keys(schema).length === 0)
      result.disagreements.push(`${method} ${path}: ${reply.status} ${type} has no schema`);
    else if (!ajv.validate(local(schema), reply.body)) {
      result.disagreements.push(
        `${method} ${path}: ${reply.status} ${ajv.errorsText(ajv.errors)}: ${reply.text.slice(0, 200)}`,
      );
    } else result.checked.add(`${method} ${template} ${reply.status}`);
  }
  return result;
}

describe('answers', () => {
  it("every answer's status is documented for its route, and its body matches the documented schema", async () => {
    const launched = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig() });
    const launch = await waitForLaunch(stack, String(launched.body.launchId));
    const campaign = String(launch.campaignId);
    // No adjust worker runs here: the pause stays queued, so the campaign's pending list holds it.
    const pause = await api(stack, 'POST', `/v1/campaigns/${campaign}/actions`, {
      body: { action: 'pause' },
    });
    const keyed = campaignConfig();
    const key = { headers: { 'idempotency-key': `conformance-${Date.now()}` } };
    const requests: Request[] = [
      ['GET', '/healthz', '/healthz'],
      ['GET', '/readyz', '/readyz'],
      // A launch, and its replay by the same Idempotency-Key.
      ['POST', '/v1/campaigns', '/v1/campaigns', keyed, key],
      ['POST', '/v1/campaigns', '/v1/campaigns', keyed, key],
      // No body where one is needed.
      ['POST', '/v1/campaigns', '/v1/campaigns'],
      ['POST', '/v1/campaigns/validate', '/v1/campaigns/validate'],
      [
        'POST',
        '/v1/campaigns/{campaignId}/actions',
        `/v1/campaigns/${campaign}/actions`,
        { action: 'pause' },
      ],
      // No token, a wrong one, and Bull Board's own challenge.
      ['GET', '/v1/campaigns/{campaignId}', `/v1/campaigns/${campaign}`, undefined, { token: null }],
      ['POST', '/v1/campaigns', '/v1/campaigns', keyed, { token: 'wrong-token' }],
      ['GET', '/admin/queues', '/admin/queues', undefined, { token: null }],
      ['POST', '/v1/campaigns/validate', '/v1/campaigns/validate', campaignConfig()],
      ['POST', '/v1/campaigns/validate', '/v1/campaigns/validate', { name: 1 }],
      ['POST', '/v1/campaigns', '/v1/campaigns', { name: 1 }],
      ['GET', '/v1/launches/{launchId}', `/v1/launches/${String(launched.body.launchId)}`],
      ['GET', '/v1/launches/{launchId}', '/v1/launches/6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60'],
      ['GET', '/v1/launches/{launchId}', '/v1/launches/x'],
      ['GET', '/v1/commands/{commandId}', `/v1/commands/${String(pause.body.commandId)}`],
      ['GET', '/v1/commands/{commandId}', '/v1/commands/cmd_unknown'],
      ['GET', '/v1/webhooks/dead-letters', '/v1/webhooks/dead-letters'],
      ['GET', '/admin/webhooks/destination', '/admin/webhooks/destination'],
      ['POST', '/admin/webhooks/destination/enable', '/admin/webhooks/destination/enable'],
      ['POST', '/v1/webhooks/dead-letters/replay', '/v1/webhooks/dead-letters/replay'],
      ...[campaign, 'unknown-campaign', 'a.b'].flatMap((id): Request[] => [
        ['GET', '/v1/campaigns/{campaignId}', `/v1/campaigns/${id}`],
        ['PATCH', '/v1/campaigns/{campaignId}', `/v1/campaigns/${id}`, { name: 'renamed' }],
        ['PATCH', '/v1/campaigns/{campaignId}', `/v1/campaigns/${id}`, {}],
        ['POST', '/v1/campaigns/{campaignId}/actions', `/v1/campaigns/${id}/actions`, { action: 'resume' }],
        ['GET', '/v1/campaigns/{campaignId}/audit', `/v1/campaigns/${id}/audit?limit=2`],
        ['GET', '/v1/campaigns/{campaignId}/audit', `/v1/campaigns/${id}/audit?limit=0`],
        ['GET', '/v1/campaigns/{campaignId}/audit/verify', `/v1/campaigns/${id}/audit/verify`],
        ['GET', '/v1/campaigns/{campaignId}/commands', `/v1/campaigns/${id}/commands`],
        ['GET', '/v1/campaigns/{campaignId}/compliance', `/v1/campaigns/${id}/compliance`],
        [
          'POST',
          '/v1/campaigns/{campaignId}/audit/import-history',
          `/v1/campaigns/${id}/audit/import-history`,
        ],
      ]),
    ];
    const { disagreements, checked, headers, replies } = await walk(stack, doc, requests);
    expect(disagreements).toEqual([]);
    // The walk covered the success answers, not only errors.
    expect(pause.status).toBe(202);
    expect(launch.status).toBe('succeeded');
    for (const answer of [
      'GET /v1/commands/{commandId} 200',
      'GET /v1/campaigns/{campaignId}/commands 200',
      'GET /v1/campaigns/{campaignId}/compliance 200',
      'GET /v1/campaigns/{campaignId}/audit/verify 200',
      'POST /v1/campaigns/{campaignId}/audit/import-history 200',
      'GET /admin/webhooks/destination 200',
      'GET /v1/webhooks/dead-letters 200',
    ]) {
      expect(checked, answer).toContain(answer);
    }
    // The documented headers were there on the answers that send them, not only left unrefuted.
    for (const header of [
      'POST /v1/campaigns 202 location',
      'POST /v1/campaigns 202 idempotent-replayed',
      'PATCH /v1/campaigns/{campaignId} 202 location',
      'POST /v1/campaigns/{campaignId}/actions 202 location',
      'GET /v1/campaigns/{campaignId} 401 www-authenticate',
      'POST /v1/campaigns 401 www-authenticate',
      'GET /admin/queues 401 www-authenticate',
    ]) {
      expect(headers, header).toContain(header);
    }
    // Audit records are an open object: a field the document does not name would pass the walk.
    const trail = await api(stack, 'GET', `/v1/campaigns/${campaign}/audit?limit=100`);
    const records = trail.body.records as Record<string, unknown>[];
    const documented = Object.keys(
      (doc.components.schemas.AuditRecord as { properties: Record<string, unknown> }).properties,
    );
    expect(records.some((r) => r.action === 'cxone_history')).toBe(true);
    expect(
      [...new Set(records.flatMap((r) => Object.keys(r)))].filter((k) => !documented.includes(k)),
    ).toEqual([]);
    // The command record answers what it stores: `after` (the commands ahead when it was accepted)
    // rides only on the job, and a documented field no answer ever holds misleads a client's code.
    expect(
      Object.keys((doc.components.schemas.Command as { properties: Record<string, unknown> }).properties),
    ).not.toContain('after');
    const pending = replies.find((r) => Array.isArray(r.body.pending))?.body.pending;
    expect(pending).toContainEqual(
      expect.objectContaining({ commandId: pause.body.commandId, status: 'queued' }),
    );
  });

  it('every POST and PATCH lists the 400, 413 and 415 a body it cannot take gets, not only `default`', async () => {
    // The POSTs that read no body refuse one as the others refuse a bad one (src/producers/no-body.ts);
    // an answer only `default` covers tells a client generated from the document nothing of why.
    const concrete = (template: string) =>
      template.replace('{campaignId}', 'unknown-campaign').replace('{eventId}', 'evt_unknown');
    const bodies: Array<[expected: number, opts: NonNullable<Request[4]>]> = [
      [415, { raw: 'plain text', headers: { 'content-type': 'text/plain' } }],
      [400, { raw: '{"a":' }],
      [413, { raw: JSON.stringify({ filler: 'x'.repeat(70_000) }) }],
    ];
    const requests: Request[] = [];
    const expected: number[] = [];
    for (const [template, item] of Object.entries(doc.paths)) {
      for (const method of ['POST', 'PATCH']) {
        if (!item[method.toLowerCase()]) continue;
        for (const [status, opts] of bodies) {
          requests.push([method, template, concrete(template), undefined, opts]);
          expected.push(status);
        }
      }
    }
    const { disagreements, replies } = await walk(stack, doc, requests);
    expect(disagreements).toEqual([]);
    expect(replies.map((r) => r.status)).toEqual(expected);
    const onlyDefault = requests.flatMap(([method, template], i) => {
      const status = String(replies[i]?.status);
      return status in (doc.paths[template]?.[method.toLowerCase()]?.responses ?? {})
        ? []
        : [`${method} ${template} ${status}`];
    });
    expect(onlyDefault).toEqual([]);
  });

  it('every 400 validation_failed is documented with the ValidationError schema, so `issues` is typed', async () => {
    // An answer that only matches `Error` (open to any field) validates, yet a client generated from
    // the document would not know the `issues` that name each field.
    const duplicated = JSON.stringify(campaignConfig()).replace('"name":', '"name":"twice","name":');
    const requests: Array<[method: string, template: string, path: string, raw?: string]> = [
      ['PATCH', '/v1/campaigns/{campaignId}', '/v1/campaigns/some-campaign', '{"name":"a","name":"b"}'],
      ['POST', '/v1/campaigns', '/v1/campaigns', duplicated],
      ['GET', '/v1/campaigns/{campaignId}/audit', '/v1/campaigns/some-campaign/audit?limit=0'],
      ['GET', '/v1/campaigns/{campaignId}/audit', '/v1/campaigns/some-campaign/audit?limt=5'],
      ['GET', '/v1/campaigns/{campaignId}/audit', `/v1/campaigns/${'a'.repeat(201)}/audit`],
      ['GET', '/v1/webhooks/dead-letters', '/v1/webhooks/dead-letters?limit=0'],
      ['GET', '/v1/launches/{launchId}', '/v1/launches/x'],
      ['POST', '/v1/webhooks/dead-letters/replay', '/v1/webhooks/dead-letters/replay', '{"eventIds":[]}'],
    ];
    const untyped: string[] = [];
    for (const [method, template, path, raw] of requests) {
      const reply = await api(stack, method, path, raw === undefined ? {} : { raw });
      expect([path, reply.status, reply.body.error]).toEqual([path, 400, 'validation_failed']);
      const documented = doc.paths[template]?.[method.toLowerCase()]?.responses['400'];
      if (!JSON.stringify(documented).includes('"#/components/schemas/ValidationError"'))
        untyped.push(`${method} ${template}`);
    }
    expect([...new Set(untyped)]).toEqual([]);
  });

  it('the campaign view of a polled, paced campaign that ran a command answers as documented', async () => {
    const launched = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig() });
    const launch = await waitForLaunch(stack, String(launched.body.launchId));
    const campaign = String(launch.campaignId);
    // Calls placed in simulated time, then one poll: statistics, efficiency and a pacing decision.
    expect(
      (await call(stack.sandbox, 'POST', '/__sandbox/time/skip', { body: { ms: 10 * 60_000 } })).status,
    ).toBe(200);
    await runPollCycle(stack.ctx, campaign);
    const patched = await api(stack, 'PATCH', `/v1/campaigns/${campaign}`, { body: { name: 'renamed' } });
    expect(patched.status).toBe(202);
    const commandId = String(patched.body.commandId);
    // The adjust worker runs only here (the walk above needs its pause left queued); it is done with
    // once the campaign record names the PATCH as its last command.
    const worker = createAdjustWorker(stack.ctx);
    const store = createCampaignStore(stack.ctx);
    try {
      await expect
        .poll(async () => (await store.get(campaign))?.lastCommand, { timeout: 15_000, interval: 50 })
        .toMatchObject({ commandId, status: 'succeeded' });
    } finally {
      await worker.close();
    }
    const { disagreements, checked, replies } = await walk(stack, doc, [
      ['GET', '/v1/campaigns/{campaignId}', `/v1/campaigns/${campaign}`],
    ]);
    expect(disagreements).toEqual([]);
    expect(checked).toContain('GET /v1/campaigns/{campaignId} 200');
    // The answer carried every part the schema now describes, not only the ones it always had.
    const view = replies[0]!.body;
    expect(view).toMatchObject({
      lastStats: { totalCalls: expect.any(Number) as number },
      efficiency: { efficiencyScore: expect.any(Number) as number },
      pacing: { strategy: 'abandonment-target', lastDecision: { direction: expect.any(String) as string } },
      lastCommand: { commandId, status: 'succeeded', actor: expect.any(String) as string },
    });
  });

  it('the webhook routes answer as documented when a destination is configured', async () => {
    const hooked = await startStack({
      env: {
        WEBHOOK_URL: 'https://receiver.example.test/in',
        WEBHOOK_SECRET: `whsec_${Buffer.from('conformance-secret-0123456789').toString('base64')}`,
      },
    });
    try {
      const hookedDoc = (await api(hooked, 'GET', '/docs/json')).body as unknown as Doc;
      // No webhook worker runs: the events stay queued, but for one dead-lettered as a delivery that
      // gave up leaves it (its job done with, the event in the dead letters).
      const [first, second] = await Promise.all([
        hooked.ctx.events.publish('campaign.state.changed', 'campaign-1', { from: 'active', to: 'paused' }),
        hooked.ctx.events.publish('campaign.state.changed', 'campaign-1', { from: 'paused', to: 'active' }),
      ]);
      await (await hooked.ctx.queues.webhook.getJob(first.id))?.remove();
      await deadLetter(hooked.ctx, {
        eventId: first.id,
        reason: 'rejected',
        status: 400,
        bodyExcerpt: 'no',
        attempts: 1,
        at: new Date().toISOString(),
      });
      const { disagreements, checked } = await walk(hooked, hookedDoc, [
        ['GET', '/admin/webhooks/destination', '/admin/webhooks/destination'],
        ['GET', '/v1/webhooks/dead-letters', '/v1/webhooks/dead-letters'],
        ['GET', '/v1/webhooks/dead-letters', '/v1/webhooks/dead-letters?limit=0'],
        ['GET', '/v1/webhooks/events/{eventId}', `/v1/webhooks/events/${first.id}`],
        ['GET', '/v1/webhooks/events/{eventId}', `/v1/webhooks/events/${second.id}`],
        ['GET', '/v1/webhooks/events/{eventId}', '/v1/webhooks/events/evt_unknown'],
        ['POST', '/v1/webhooks/{eventId}/replay', `/v1/webhooks/${first.id}/replay`],
        ['POST', '/v1/webhooks/{eventId}/replay', `/v1/webhooks/${second.id}/replay`],
        ['POST', '/v1/webhooks/{eventId}/replay', '/v1/webhooks/evt_unknown/replay'],
        ['POST', '/v1/webhooks/dead-letters/replay', '/v1/webhooks/dead-letters/replay'],
        ['POST', '/admin/webhooks/destination/enable', '/admin/webhooks/destination/enable'],
      ]);
      expect(disagreements).toEqual([]);
      for (const answer of [
        'GET /admin/webhooks/destination 200',
        'GET /v1/webhooks/dead-letters 200',
        'GET /v1/webhooks/events/{eventId} 200',
        'POST /v1/webhooks/{eventId}/replay 202',
        'POST /v1/webhooks/{eventId}/replay 409',
        'POST /v1/webhooks/dead-letters/replay 202',
        'POST /admin/webhooks/destination/enable 200',
      ]) {
        expect(checked, answer).toContain(answer);
      }
    } finally {
      await hooked.close();
    }
  });
});

describe('headers', () => {
  it('every 503 a write answers while the fleet is contested carries the documented Retry-After', async () => {
    contested = 'KEY_PREFIX is claimed by another fleet (conformance test).';
    const requests: Request[] = [
      ['POST', '/v1/campaigns', '/v1/campaigns', campaignConfig()],
      ['PATCH', '/v1/campaigns/{campaignId}', '/v1/campaigns/unknown-campaign', { name: 'x' }],
      [
        'POST',
        '/v1/campaigns/{campaignId}/actions',
        '/v1/campaigns/unknown-campaign/actions',
        { action: 'stop' },
      ],
      [
        'POST',
        '/v1/campaigns/{campaignId}/audit/import-history',
        '/v1/campaigns/unknown-campaign/audit/import-history',
      ],
      ['POST', '/v1/webhooks/dead-letters/replay', '/v1/webhooks/dead-letters/replay'],
    ];
    try {
      const { disagreements, headers, replies } = await walk(stack, doc, requests);
      expect(disagreements).toEqual([]);
      expect(replies.map((r) => [r.status, r.body.error])).toEqual(
        requests.map(() => [503, 'fleet_contested']),
      );
      for (const [method, template] of requests)
        expect(headers).toContain(`${method} ${template} 503 ${API_HEADERS.RETRY_AFTER}`);
    } finally {
      contested = undefined;
    }
  });

  it("a command's Idempotency-Key answers as documented: the replay, a key reused, a key still at work", async () => {
    const launched = await api(stack, 'POST', '/v1/campaigns', { body: campaignConfig() });
    const campaign = String((await waitForLaunch(stack, String(launched.body.launchId))).campaignId);
    const template = '/v1/campaigns/{campaignId}';
    const path = `/v1/campaigns/${campaign}`;
    const keyed = (key: string) => ({ headers: { [API_HEADERS.IDEMPOTENCY_KEY]: key } });
    const stamp = Date.now();
    const [done, busy] = [`conformance-cmd-${stamp}`, `conformance-busy-${stamp}`];
    // A claim whose command is not written yet: what a retry racing the first request finds.
    const first = await api(stack, 'PATCH', path, { body: { name: 'busy' }, ...keyed(busy) });
    expect(first.status).toBe(202);
    const claimKey = stack.ctx.keys.custom('command-idem', busy);
    const claim = JSON.parse((await stack.redis.get(claimKey))!) as Record<string, unknown>;
    await stack.redis.set(
      claimKey,
      JSON.stringify({ ...claim, commandId: 'cmd_not_written_yet', claimedAtMs: Date.now() }),
      'EX',
      600,
    );
    const requests: Request[] = [
      ['PATCH', template, path, { name: 'renamed' }, keyed(done)],
      ['PATCH', template, path, { name: 'renamed' }, keyed(done)],
      ['PATCH', template, path, { name: 'other' }, keyed(done)],
      ['POST', `${template}/actions`, `${path}/actions`, { action: 'pause' }, keyed(done)],
      ['PATCH', template, path, { name: 'busy' }, keyed(busy)],
    ];
    const { disagreements, headers, replies } = await walk(stack, doc, requests);
    expect(disagreements).toEqual([]);
    expect(
      replies.map((r) => `${r.status} ${String(r.body.error ?? r.headers.get('idempotent-replayed'))}`),
    ).toEqual([
      '202 null',
      '202 true',
      '422 idempotency_key_reused',
      '422 idempotency_key_reused',
      '409 idempotency_key_in_use',
    ]);
    expect(headers).toContain(`PATCH ${template} 202 ${API_HEADERS.IDEMPOTENT_REPLAYED}`);
    expect(headers).toContain(`PATCH ${template} 409 ${API_HEADERS.RETRY_AFTER}`);
  });

  it('a method a documented path does not serve answers 405 as documented, Allow naming the documented methods', async () => {
    const methodNotAllowed = doc.components.responses?.MethodNotAllowed as DocumentedResponse | undefined;
    expect(methodNotAllowed?.headers).toHaveProperty('Allow');
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ $id: 'allowed', components: doc.components });
    const schema = JSON.parse(
      JSON.stringify(methodNotAllowed?.content?.['application/json']?.schema).replaceAll(
        '"#/components/',
        '"allowed#/components/',
      ),
    ) as object;
    const samples: Record<string, string> = {
      campaignId: 'unknown-campaign',
      launchId: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60',
      commandId: 'cmd_1',
      eventId: 'evt_abc123',
    };
    const disagreements: string[] = [];
    let answered = 0;
    for (const [template, item] of Object.entries(doc.paths)) {
      // Bull Board serves its own routes under this one documented page.
      if (template.startsWith('/admin/queues')) continue;
      const method = ['DELETE', 'PUT', 'PATCH', 'POST', 'GET'].find((m) => !(m.toLowerCase() in item))!;
      const path = template.replace(/\{([^}]+)\}/g, (_m, name: string) => samples[name] ?? 'x');
      // Every documented path the concrete one is; a path documented as it stands is that one alone
      // (`/v1/campaigns/validate` is no `{campaignId}`: GET and PATCH answer it 405 too).
      const documented = [
        ...new Set(
          Object.entries(doc.paths)
            .filter(([other]) =>
              path in doc.paths
                ? other === path
                : new RegExp(`^${other.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
            )
            .flatMap(([, methods]) => Object.keys(methods).map((m) => m.toUpperCase())),
        ),
      ];
      const reply = await api(stack, method, path);
      if (reply.status !== 405) {
        disagreements.push(`${method} ${path}: ${reply.status}`);
        continue;
      }
      answered++;
      for (const problem of headerProblems(doc, methodNotAllowed ?? {}, reply, () => undefined))
        disagreements.push(`${method} ${path}: ${problem}`);
      if (!ajv.validate(schema, reply.body))
        disagreements.push(`${method} ${path}: ${ajv.errorsText(ajv.errors)}`);
      // HEAD comes with every GET; the rest is what the document lists for the path.
      const served = (reply.headers.get(API_HEADERS.ALLOW) ?? '').split(', ').filter((m) => m !== 'HEAD');
      if (served.sort().join() !== [...documented].sort().join())
        disagreements.push(`${path}: Allow ${served.join(', ')}, documented ${documented.join(', ')}`);
    }
    expect(disagreements).toEqual([]);
    expect(answered).toBeGreaterThan(10);
  });

  it('every route behind the token documents X-Actor, with the rule the API records it by', async () => {
    const xActor = doc.components.parameters?.XActor;
    expect(xActor).toMatchObject({ name: 'X-Actor', in: 'header' });
    const missing = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(
          ([, op]) =>
            !path.startsWith('/admin/queues') && ((op as { security?: unknown[] }).security ?? []).length > 0,
        )
        .filter(
          ([, op]) =>
            !op.parameters?.some((p) => (p as { $ref?: string }).$ref === '#/components/parameters/XActor'),
        )
        .map(([method]) => `${method} ${path}`),
    );
    expect(missing).toEqual([]);
    const documented = new Ajv2020({ strict: false }).compile(xActor?.schema ?? {});
    const disagreements: string[] = [];
    for (const label of [
      'alice@example.com',
      'ops-bot:7',
      'anonymous-coward',
      'tokens',
      'has space',
      'a'.repeat(65),
      'é',
      'anonymous',
      'Token-0123456789',
      'token-0123456789',
    ]) {
      const launched = await api(stack, 'POST', '/v1/campaigns', {
        body: campaignConfig(),
        headers: { [API_HEADERS.X_ACTOR]: label },
      });
      if (!documented(label)) {
        // Refused as the document says, not recorded as another actor.
        if (launched.status !== 400 || launched.body.error !== 'invalid_actor')
          disagreements.push(`${label}: API ${launched.status} ${String(launched.body.error)}`);
        continue;
      }
      const trail = await api(
        stack,
        'GET',
        `/v1/campaigns/${launchAuditId(String(launched.body.launchId))}/audit`,
      );
      const actor = (trail.body.records as Array<{ actor: string }>)[0]?.actor;
      if (actor !== `api:${label}`) disagreements.push(`${label}: recorded ${actor}`);
    }
    expect(disagreements).toEqual([]);
  });

  it('every route behind the token documents the 400 an unusable X-Actor gets, and answers it so', async () => {
    const samples: Record<string, string> = {
      campaignId: 'unknown-campaign',
      launchId: '6f1c2a7e-3b4d-4e8f-9a10-1b2c3d4e5f60',
      commandId: 'cmd_1',
      eventId: 'evt_abc123',
    };
    const requests: Request[] = Object.entries(doc.paths)
      .filter(([template]) => !template.startsWith('/admin/queues'))
      .flatMap(([template, item]) =>
        Object.entries(item)
          .filter(([, op]) => ((op as { security?: unknown[] }).security ?? []).length > 0)
          .map(([method]): Request => [
            method.toUpperCase(),
            template,
            template.replace(/\{([^}]+)\}/g, (_m, name: string) => samples[name] ?? 'x'),
            undefined,
            { headers: { [API_HEADERS.X_ACTOR]: 'anonymous' } },
          ]),
      );
    expect(requests.length).toBeGreaterThan(10);
    const { disagreements, checked, replies } = await walk(stack, doc, requests);
    expect(disagreements).toEqual([]);
    expect(replies.map((r) => `${r.status} ${String(r.body.error)}`)).toEqual(
      requests.map(() => '400 invalid_actor'),
    );
    for (const [method, template] of requests) expect(checked).toContain(`${method} ${template} 400`);
  });
});

describe('the document', () => {
  it('passes the OpenAPI validator as served', async () => {
    const result = await new Validator().validate(doc as unknown as Record<string, unknown>);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  type Response = { content?: Record<string, { schema?: Record<string, unknown> }> };
  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(
        ([method, op]) => [`${method} ${path}`, op.responses as Record<string, Response>] as const,
      ),
    );

  it('declares a schema for every JSON answer of every route', () => {
    const empty = operations().flatMap(([name, responses]) =>
      Object.entries(responses)
        .filter(([, r]) => {
          const schema = r.content?.['application/json']?.schema;
          return schema !== undefined && Object.keys(schema).length === 0;
        })
        .map(([status]) => `${name} ${status}`),
    );
    expect(empty).toEqual([]);
  });

  it('documents no field of an answer as anything, but the values of config fields a command names', () => {
    // A conflict or a change names a config field (`field`) and its values, which are any JSON there.
    const configValue = /\.(changes|conflicts|restored)\[items\]\.(from|to|base|ours|theirs)$/;
    const anything: string[] = [];
    const visit = (schema: unknown, at: string): void => {
      if (typeof schema !== 'object' || schema === null) return;
      const s = schema as Record<string, unknown>;
      for (const [key, sub] of Object.entries((s.properties ?? {}) as Record<string, object>)) {
        const path = `${at}.${key}`;
        if (Object.keys(sub).every((k) => k === 'description') && !configValue.test(path))
          anything.push(path);
        visit(sub, path);
      }
      if (s.items) visit(s.items, `${at}[items]`);
      for (const k of ['anyOf', 'oneOf', 'allOf'])
        ((s[k] ?? []) as unknown[]).forEach((sub, i) => visit(sub, `${at}|${i}`));
    };
    for (const [name, schema] of Object.entries(doc.components.schemas)) visit(schema, name);
    expect(anything).toEqual([]);
  });

  it("references the error body schema for every route's error statuses", () => {
    const errorBodies = new Set(['#/components/schemas/Error', '#/components/schemas/ValidationError']);
    const refs = (schema: Record<string, unknown> | undefined): unknown[] =>
      schema?.$ref !== undefined
        ? [schema.$ref]
        : ((schema?.anyOf as Record<string, unknown>[] | undefined) ?? [undefined]).flatMap((s) => refs(s));
    const other = operations().flatMap(([name, responses]) =>
      Object.entries(responses)
        // /readyz answers 503 with its checks: the readiness body, on purpose.
        .filter(([status]) => (status === 'default' || Number(status) >= 400) && name !== 'get /readyz')
        .filter(
          ([, r]) =>
            !refs(r.content?.['application/json']?.schema).every((ref) => errorBodies.has(String(ref))),
        )
        .map(([status]) => `${name} ${status}`),
    );
    expect(other).toEqual([]);
  });
});
