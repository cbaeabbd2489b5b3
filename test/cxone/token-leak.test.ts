import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { CxoneMalformedResponseError } from '../../src/shared/errors.js';
import { deletePrefixAt, testPrefix } from '../support/redis-prefix.js';
import { scriptedClient } from './harness.js';

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
    const { client, close } = await scriptedClient(server, prefix);
    try {
      const err = await client.getStats('c-1', { attempt: 3 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CxoneMalformedResponseError);
      // What a raw `{ err }` log line or a job's failure reason would carry.
      const everything = JSON.stringify({ ...(err as object), message: (err as Error).message });
      expect(everything).toContain('[redacted]');
      expect(everything).not.toMatch(/SECRET-/);
    } finally {
      await close();
    }
  });
});
