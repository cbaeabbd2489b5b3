import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createCxoneClient } from '../../src/shared/cxone/client.js';
import { CxoneMalformedResponseError } from '../../src/shared/errors.js';
import { createFleetLimiter } from '../../src/shared/limiter/fleet-limiter.js';
import { silentLogger } from '../../src/shared/logger.js';
import { deletePrefixAt, REDIS_URL, testPrefix } from '../support/redis-prefix.js';

/**
 * A token endpoint (a gateway, a differently configured OAuth server) that answers in a shape our
 * schema refuses — camelCase names above all, which is exactly why the schema refuses it. The
 * error keeps the body for operators; the credentials in it must not survive.
 */
describe('a token answer in another spelling, over HTTP', () => {
  let server: Server | undefined;
  let prefix = '';
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
    server = undefined;
    await deletePrefixAt(prefix);
  });

  it.each([
    [
      'json',
      'application/json',
      JSON.stringify({
        accessToken: 'SECRET-CAMEL-1',
        tokenType: 'Bearer',
        expiresIn: 3600,
        refreshToken: 'SECRET-CAMEL-2',
        'id-token': 'SECRET-KEBAB-3',
        clientSecret: 'SECRET-CAMEL-4',
        apiKey: 'SECRET-CAMEL-5',
      }),
    ],
    [
      'text',
      'text/plain',
      'accessToken=SECRET-CAMEL-1&refreshToken: SECRET-CAMEL-2 "clientSecret":"SECRET-CAMEL-4" api_key=SECRET-CAMEL-5',
    ],
  ])('keeps no credential of a %s body in the error', async (_kind, type, body) => {
    prefix = testPrefix('tleak');
    server = createServer((req, res) => {
      res.setHeader('content-type', type);
      res.end(body);
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const limiter = createFleetLimiter({
      redisUrl: REDIS_URL,
      prefix,
      perWindow: 1_000,
      windowMs: 1_000,
      logger: silentLogger,
    });
    const client = createCxoneClient({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      clientId: 'a',
      clientSecret: 'b',
      timeoutMs: 2_000,
      limiter,
      logger: silentLogger,
    });
    try {
      const err = await client.getStats('c-1', { attempt: 3 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CxoneMalformedResponseError);
      // What a raw `{ err }` log line or a job's failure reason would carry.
      const everything = JSON.stringify({ ...(err as object), message: (err as Error).message });
      expect(everything).toContain('[redacted]');
      expect(everything).not.toMatch(/SECRET-/);
    } finally {
      await client.close();
      await limiter.close();
    }
  });
});
