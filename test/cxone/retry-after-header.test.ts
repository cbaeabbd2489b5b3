import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PENALTY_MS } from '../../src/shared/cxone/token-provider.js';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { CxoneRateLimitError } from '../../src/shared/errors.js';
import { createKeys } from '../../src/shared/keys.js';
import { classifyError } from '../../src/shared/retry/classify.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';
import { scriptedClient } from './harness.js';

/**
 * A CXone (or a gateway in front of it) answering every stats call with 429 and the given
 * Retry-After, over real HTTP; the penalty it leads to is read from real Redis.
 */
describe('Retry-After as CXone sends it, over HTTP', () => {
  let server: Server | undefined;
  // One prefix per server started; a test may start several.
  let prefixes: string[] = [];
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
    server = undefined;
    for (const prefix of prefixes) await deletePrefixAt(prefix);
    prefixes = [];
  });

  async function rateLimitedWith(retryAfter: string) {
    const previous = server;
    if (previous) await new Promise((r) => previous.close(r));
    const prefix = testPrefix('rah');
    prefixes.push(prefix);
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/oauth2/token') {
        res.end(JSON.stringify({ access_token: 't', token_type: 'Bearer', expires_in: 3600 }));
        return;
      }
      res.statusCode = 429;
      res.setHeader('retry-after', retryAfter);
      res.end(JSON.stringify({ error: 'rate_limited' }));
    });
    const { client, close } = await scriptedClient(server, prefix);
    const redis = new Redis(REDIS_URL);
    try {
      const err = await client.getStats('c-1').catch((e: unknown) => e);
      const penaltyKey = `${createKeys(prefix).limiter(CXONE_ENDPOINTS.getStats)}:penalty`;
      return { err, penaltyMs: await redis.pttl(penaltyKey) };
    } finally {
      await close();
      await redis.quit();
    }
  }

  it.each(['soon 5', 'x-1', 'Retry 10', 'Mon, 99', 'a 1'])(
    'treats garbage %j as no Retry-After, not as "retry at once"',
    async (garbage) => {
      const { err, penaltyMs } = await rateLimitedWith(garbage);
      expect(err).toBeInstanceOf(CxoneRateLimitError);
      expect((err as CxoneRateLimitError).retryAfterMs).toBeUndefined();
      // The fleet backs off for the default penalty, not for 1 ms.
      expect(penaltyMs).toBeGreaterThan(DEFAULT_PENALTY_MS / 2);
      // The job's retry is jittered backoff (pinned here at the ceiling), not an immediate re-run.
      const decision = classifyError(err, { attempt: 1, random: () => 0.999 });
      expect(decision.kind).toBe('rate_limited');
      expect((decision as { delayMs: number }).delayMs).toBeGreaterThan(100);
    },
  );

  it('reads an HTTP-date in any of the three forms RFC 9110 allows', async () => {
    const at = new Date(Math.ceil((Date.now() + 30_000) / 1000) * 1000);
    const imf = at.toUTCString();
    const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
    const [, day, mon, year, time] = /^\w+, (\d\d) (\w+) (\d{4}) (\S+) GMT$/.exec(imf) ?? [];
    const rfc850 = `${days[at.getUTCDay()]}, ${day}-${mon}-${year?.slice(2)} ${time} GMT`;
    const asctime = `${imf.slice(0, 3)} ${mon} ${String(at.getUTCDate()).padStart(2, ' ')} ${time} ${year}`;
    // asctime names no zone but means GMT: read on a host far from GMT, it must not move by hours.
    const tz = process.env.TZ;
    process.env.TZ = 'Asia/Tokyo';
    const forms: Array<[string, Awaited<ReturnType<typeof rateLimitedWith>>]> = [];
    try {
      for (const form of [imf, rfc850, asctime]) forms.push([form, await rateLimitedWith(form)]);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
    for (const [form, { err, penaltyMs }] of forms) {
      expect(err, form).toBeInstanceOf(CxoneRateLimitError);
      const retryAfterMs = (err as CxoneRateLimitError).retryAfterMs;
      expect(retryAfterMs, form).toBeGreaterThan(20_000);
      expect(retryAfterMs, form).toBeLessThanOrEqual(31_000);
      expect(penaltyMs, form).toBeGreaterThan(20_000);
    }
  });

  it('reads delta-seconds', async () => {
    const { err, penaltyMs } = await rateLimitedWith('7');
    expect((err as CxoneRateLimitError).retryAfterMs).toBe(7_000);
    expect(penaltyMs).toBeGreaterThan(5_000);
  });
});
