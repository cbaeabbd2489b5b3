import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEMO_SHELL_VARIABLES } from '../../src/demo/env.js';
import { bannerLines } from '../../src/process/banner.js';
import { API_ERROR_CODES, ApiError } from '../../src/producers/errors.js';
import { CAMPAIGN_MISSING_MESSAGE } from '../../src/shared/campaign-missing.js';
import { envSchema, loadConfig } from '../../src/shared/config.js';
import { COMPLIANCE_ACTION_KINDS } from '../../src/shared/compliance/state-store.js';
import { registerWebhookHoldReader, registry } from '../../src/shared/metrics.js';
import { DEFERRAL_CAUSES } from '../../src/shared/pacing/deferrals.js';
import { WORKER_FACTORIES } from '../../src/workers/index.js';

/**
 * Facts the README and docs/operations.md state about the code that nothing else would keep true:
 * the operator at 3 a.m. reads the tables, not config.ts or metrics.ts.
 */

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

/** The lines of the section that starts with `heading`, up to the next heading of its level or above. */
function section(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no section ${heading}`);
  const level = /^#+/.exec(heading)![0].length;
  const end = lines.findIndex(
    (line, i) => i > start && /^#+ /.test(line) && /^#+/.exec(line)![0].length <= level,
  );
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** A markdown table's body rows as cells (the header and its separator dropped). */
function tableRows(lines: string[], firstHeader: string): string[][] {
  const header = lines.findIndex((line) => line.startsWith(`| ${firstHeader} `));
  if (header < 0) throw new Error(`no table headed ${firstHeader}`);
  const rows: string[][] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

describe("README's configuration table", () => {
  const rows = tableRows(section(read('README.md'), '## Configuration'), 'Variable');
  const documented = new Map<string, { defaultCell: string; meaning: string }>();
  for (const [names, defaultCell, meaning] of rows) {
    for (const name of codeSpans(names!))
      documented.set(name, { defaultCell: defaultCell!, meaning: meaning! });
  }
  const read_ = Object.keys(envSchema.shape);

  it('names every variable config.ts reads, and only those', () => {
    expect([...documented.keys()].sort()).toEqual([...read_].sort());
  });

  it("gives each variable's true default", () => {
    const parsed = envSchema.safeParse({});
    expect(parsed.success).toBe(true);
    const defaults = parsed.data as Record<string, unknown>;
    for (const name of read_) {
      const value = defaults[name];
      if (value === undefined) continue;
      expect(codeSpans(documented.get(name)!.defaultCell), name).toContain(String(value));
    }
  });

  // HOST's default depends on API_TOKEN (config.ts hostDefault): the schema alone gives it none.
  it("gives HOST's default both with API_TOKEN unset and set", () => {
    const cell = codeSpans(documented.get('HOST')!.defaultCell);
    expect(cell).toContain(loadConfig({}).host);
    expect(cell).toContain(loadConfig({ API_TOKEN: 'an-operator-chosen-token' }).host);
    expect(loadConfig({}).host).not.toBe(loadConfig({ API_TOKEN: 'an-operator-chosen-token' }).host);
  });

  /** Problems config.ts finds with one variable set to `value`, the others unset. */
  const problems = (name: string, value: string) =>
    (envSchema.safeParse({ [name]: value }).error?.issues ?? []).filter((issue) => issue.path[0] === name);
  const numberVariables = read_.filter((name) =>
    problems(name, 'abc').some((issue) => issue.message === 'must be a decimal number'),
  );

  it('finds the number variables (the check below would pass vacuously otherwise)', () => {
    expect(numberVariables).toEqual(
      expect.arrayContaining(['PORT', 'WORKER_CONCURRENCY', 'SANDBOX_TIME_SCALE']),
    );
  });

  // `HOST=` in an env file refused while `API_TOKEN=` is taken as unset: the operator must be told which.
  it('names the variables besides numbers that count as unset when set to nothing', () => {
    const text = section(read('README.md'), '## Configuration').join('\n');
    const sentence = /and so do these set to nothing: ([^.]*)\./.exec(text);
    expect(sentence, 'the sentence listing them').not.toBeNull();
    const emptyIsUnset = read_.filter(
      (name) => !numberVariables.includes(name) && problems(name, '').length === 0,
    );
    expect(codeSpans(sentence![1]!).sort()).toEqual(emptyIsUnset.sort());
  });

  it.each(numberVariables)('states the bounds config.ts enforces on %s', (name) => {
    const { meaning } = documented.get(name)!;
    if (/\bany whole number within ±\(2\^53 − 1\)/.test(meaning)) {
      const max = String(Number.MAX_SAFE_INTEGER);
      for (const ok of ['-1', '0', '2147483648', max, `-${max}`]) {
        expect(problems(name, ok), `${name}=${ok}`).toEqual([]);
      }
      for (const bad of ['1.5', '9007199254740992', '-9007199254740992']) {
        expect(problems(name, bad), `${name}=${bad}`).not.toEqual([]);
      }
      return;
    }
    const range = /(?:^|[\s(;])(-?\d+(?:\.\d+)?)–(\d+(?:\.\d+)?)(?=$|[\s),;])/.exec(meaning);
    expect(
      range,
      `${name}: its meaning gives no range "min–max" or "any whole number within ±(2^53 − 1)"`,
    ).not.toBeNull();
    const [min, max] = [Number(range![1]), Number(range![2])];
    const below = Number.isInteger(min) ? min - 1 : min / 2;
    for (const ok of [min, max]) expect(problems(name, String(ok)), `${name}=${ok}`).toEqual([]);
    for (const bad of [below, max + 1]) expect(problems(name, String(bad)), `${name}=${bad}`).not.toEqual([]);
  });
});

describe('the start-up banner the quickstarts show', () => {
  const expected = bannerLines({
    role: 'all',
    config: loadConfig({}),
    apiPort: 3000,
    sandboxUrl: 'http://127.0.0.1:4010',
    sandboxEmbedded: true,
    workers: WORKER_FACTORIES.map(([name]) => name),
  }).join('\n');

  it.each(['README.md', 'docs/running.md'])('is what npm start prints, in %s', (path) => {
    const text = read(path);
    const intro = text.indexOf('`npm start` prints where everything is:');
    expect(intro).toBeGreaterThan(-1);
    const block = /```\n([\s\S]*?)\n```/.exec(text.slice(intro))![1];
    expect(block).toBe(expected);
  });
});

describe("docs/operations.md's metrics table", () => {
  const rows = tableRows(section(read('docs/operations.md'), '## Metrics'), 'Metric');
  const isDefault = (name: string) => /^cxo_(process|nodejs)_/.test(name);

  it('lists every metric the orchestrator defines, with its type and labels, and no other', async () => {
    // The webhook hold gauge is in the registry only while a webhook worker's reader is (metrics.ts).
    const unregister = registerWebhookHoldReader(async () => 0);
    let actual: { name: string; type: string; labels: string[] }[];
    try {
      actual = (await registry.getMetricsAsJSON())
        .filter((metric) => !isDefault(metric.name))
        .map((metric) => {
          const labelNames = (registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] })
            .labelNames;
          return { name: metric.name, type: String(metric.type), labels: [...(labelNames ?? [])].sort() };
        })
        .sort((a, b) => a.name.localeCompare(b.name));
    } finally {
      unregister();
    }
    const documented = rows
      .filter(([name]) => !codeSpans(name!).some((n) => n.endsWith('_*')))
      .map(([name, type, labels]) => ({
        name: codeSpans(name!)[0]!,
        type: type!,
        labels: codeSpans(labels!).sort(),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(documented).toEqual(actual);
  });

  // A label value seen in Prometheus (period_closed, on the first campaign) must be findable here.
  const meaningOf = (metric: string) => rows.find(([name]) => codeSpans(name!)[0] === metric)![3]!;

  it('names every kind cxo_compliance_actions_total counts', () => {
    // `report` was recorded while reads were audited; nothing records it now (docs/compliance.md).
    const counted = COMPLIANCE_ACTION_KINDS.filter((kind) => kind !== 'report');
    const named = codeSpans(meaningOf('cxo_compliance_actions_total')).filter((span) => span !== 'kind');
    expect(named.sort()).toEqual([...counted].sort());
  });

  it('names every reason cxo_pacing_deferrals_total counts', () => {
    const named = codeSpans(meaningOf('cxo_pacing_deferrals_total')).filter((span) => span !== 'reason');
    expect(named.sort()).toEqual([...DEFERRAL_CAUSES].sort());
  });

  it("names the prefixes of prom-client's default metrics that exist", async () => {
    const names = (await registry.getMetricsAsJSON()).map((metric) => metric.name);
    const prefixes = rows.flatMap(([name]) => codeSpans(name!).filter((n) => n.endsWith('_*')));
    expect(prefixes.sort()).toEqual(['cxo_nodejs_*', 'cxo_process_*']);
    for (const prefix of prefixes) {
      expect(
        names.some((name) => name.startsWith(prefix.slice(0, -1))),
        prefix,
      ).toBe(true);
    }
  });
});

describe("docs/api.md's error table", () => {
  const rows = tableRows(section(read('docs/api.md'), '## Errors'), 'status');
  const documented = rows.flatMap(([status, code]) => codeSpans(code!).map((c) => `${status} ${c}`));

  it('lists every code the API answers with, by its status, and no other', () => {
    const answered = Object.entries(API_ERROR_CODES).map(([code, status]) => `${status} ${code}`);
    expect([...documented].sort()).toEqual(answered.sort());
  });

  it("holds every throw's status to its code's (a mismatch does not compile: `npm run typecheck`)", () => {
    const refused = () =>
      // @ts-expect-error -- 404 is not invalid_json's status; the type of the status comes from the code
      new ApiError(404, 'invalid_json', 'x');
    expect(refused().status).toBe(404);
    expect(new ApiError(API_ERROR_CODES.conflict, 'conflict', 'x').status).toBe(409);
  });

  /** The `.ts` files under a source directory, recursively. */
  const sources = (dir: string): string[] =>
    readdirSync(new URL(dir, root), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? sources(`${dir}/${entry.name}`)
        : entry.name.endsWith('.ts')
          ? [`${dir}/${entry.name}`]
          : [],
    );

  it('has every code the API sources write out in that list (also where no type holds them to it)', () => {
    const written = new Set<string>();
    for (const file of [...sources('src/producers'), ...sources('src/shared/http')]) {
      const text = read(file);
      for (const m of text.matchAll(/\berror: '([a-z_]+)'/g)) written.add(m[1]!);
      for (const m of text.matchAll(/ApiError\(\s*\d{3},\s*'([a-z_]+)'/g)) written.add(m[1]!);
    }
    // The scan finds them: the codes set in app.ts and allowed-methods.ts at least.
    expect([...written]).toEqual(
      expect.arrayContaining(['invalid_url', 'method_not_allowed', 'webhooks_disabled']),
    );
    expect([...written].filter((code) => !(code in API_ERROR_CODES))).toEqual([]);
  });
});

describe("README's split roles", () => {
  it('quote the warning a campaign of an earlier npm start gets from a fresh sandbox, as it is logged', () => {
    const text = section(read('README.md'), '## Running the roles separately').join(' ').replace(/\s+/g, ' ');
    const quoted = /`(CXone no longer knows the campaign \()…\)`/.exec(text);
    expect(quoted, 'the warning quoted').not.toBeNull();
    expect(CAMPAIGN_MISSING_MESSAGE.startsWith(quoted![1]!)).toBe(true);
    // Whoever reads the log line learns the cause the README gives for it.
    expect(CAMPAIGN_MISSING_MESSAGE).toContain('a sandbox restarted');
  });
});

describe("docs/operations.md's demo section", () => {
  it('names exactly the variables the demo takes from the shell', () => {
    const text = section(read('docs/operations.md'), '## Demo').join('\n');
    const sentence = /takes from the shell\s+only ([\s\S]*?)\(`src\/demo\/env\.ts`\)/.exec(text);
    expect(sentence, 'the sentence listing them').not.toBeNull();
    expect(
      codeSpans(sentence![1]!)
        .filter((name) => /^[A-Z_]+$/.test(name))
        .sort(),
    ).toEqual([...DEMO_SHELL_VARIABLES].sort());
  });
});
