import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CxoneCreateOutcomeUnknownError } from '../../src/shared/cxone/client.js';
import { CxoneRateLimitError, CxoneUnavailableError } from '../../src/shared/errors.js';
import { classifyError } from '../../src/shared/retry/classify.js';
import { deletePrefixAt, testPrefix } from '../support/redis-prefix.js';
import { campaignBody, scriptedClient } from './harness.js';

type Answer = 'reset' | 504 | 429;

/**
 * CXone behind a gateway, over real HTTP: every create is carried out (counted), and its answer is
 * then lost as `answer` says — the connection reset, a 504 from the gateway — or, for 429, the
 * create is refused before anything is done.
 */
describe('a create without an Idempotency-Key', () => {
  let server: Server | undefined;
  let prefix = '';
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
    server = undefined;
    await deletePrefixAt(prefix);
  });

  async function create(answer: Answer, idempotencyKey?: string) {
    prefix = testPrefix('nokey');
    let created = 0;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/oauth2/token') {
          res.end(JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 3600 }));
          return;
        }
        if (answer === 429) {
          res.statusCode = 429;
          res.setHeader('retry-after', '1');
          res.end('{}');
          return;
        }
        created++;
        if (answer === 'reset') {
          req.socket.destroy();
          return;
        }
        res.statusCode = answer;
        res.end('{"error":"upstream timed out"}');
      });
    });
    const { client, close } = await scriptedClient(server, prefix);
    try {
      const err = await client
        .createCampaign(campaignBody(), { attempt: 2, ...(idempotencyKey ? { idempotencyKey } : {}) })
        .catch((e: unknown) => e);
      return { err, created };
    } finally {
      await close();
    }
  }

  it.each(['reset', 504] as const)(
    'whose answer was lost (%s) is never retried: a retry could create a second campaign',
    async (answer) => {
      const { err, created } = await create(answer);
      expect(created).toBe(1);
      expect(err).toBeInstanceOf(CxoneCreateOutcomeUnknownError);
      expect((err as CxoneCreateOutcomeUnknownError).toJSON()).toMatchObject({
        endpoint: 'POST /api/v2/campaigns',
        attempt: 2,
        ...(answer === 504 ? { status: 504 } : {}),
      });
      expect((err as Error).message).toMatch(/may have been created/);
      expect(classifyError(err).kind).toBe('permanent');
    },
  );

  it('that CXone refused before acting (429) is still retried for free', async () => {
    const { err, created } = await create(429);
    expect(created).toBe(0);
    expect(err).toBeInstanceOf(CxoneRateLimitError);
    expect(classifyError(err).kind).toBe('rate_limited');
  });

  it('with a key stays a transient failure: the replay returns the campaign already created', async () => {
    const { err } = await create('reset', 'cxo-launch-test-key');
    expect(err).toBeInstanceOf(CxoneUnavailableError);
    expect(classifyError(err).kind).toBe('transient');
  });
});
