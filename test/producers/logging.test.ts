import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApiApp } from '../../src/producers/app.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { REDACT_PATHS } from '../../src/shared/logger.js';
import { API_TOKEN, api, campaignConfig, deletePrefix, testEnv, testPrefix } from '../e2e/stack.js';

/** The API's logs: one line per request, never the bearer token. */
const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  },
});
const logger = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, sink);
const prefix = testPrefix();
let ctx: ClosableContext;
let apiUrl = '';
let close: () => Promise<void>;

beforeAll(async () => {
  ctx = await createContext(loadConfig(testEnv(prefix, 'http://127.0.0.1:9')), logger);
  const app = await buildApiApp(ctx);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  apiUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  close = async () => {
    await app.close();
    await deletePrefix(ctx.redis, prefix);
    await ctx.close();
  };
});
afterAll(async () => close?.());

describe('request logging', () => {
  it('logs each request once with method, path, status and caller, and never the token', async () => {
    await api({ apiUrl }, 'POST', '/v1/campaigns', { body: campaignConfig() });
    await api({ apiUrl }, 'GET', '/v1/launches/not-a-uuid?token=abc');
    await api({ apiUrl }, 'GET', '/v1/campaigns/x', { token: 'wrong-token-1234' });
    const requests = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'request');
    expect(requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/v1/campaigns', 202],
      ['GET', '/v1/launches/not-a-uuid', 400],
      ['GET', '/v1/campaigns/x', 401],
    ]);
    expect(requests[0]?.actor).toMatch(/^api:token-/);
    const all = lines.join('\n');
    expect(all).not.toContain(API_TOKEN);
    expect(all).not.toContain('wrong-token-1234');
  });
});
