import { describe, expect, it } from 'vitest';
import { bannerLines, parseRole } from '../../src/process/banner.js';
import { redactUrl } from '../../src/shared/redact-url.js';
import { createServer } from 'node:net';
import { findOnPath, startPrivateRedis } from '../../src/process/private-redis.js';
import { redisAnswers } from '../../src/shared/redis.js';
import { loadConfig } from '../../src/shared/config.js';

describe('parseRole', () => {
  it('defaults to all and names the valid roles otherwise', () => {
    expect(parseRole(undefined)).toBe('all');
    expect(parseRole('worker')).toBe('worker');
    expect(parseRole('workers')).toEqual({
      error: 'unknown role "workers"; use one of: all, api, worker, sandbox (--help describes them)',
    });
    for (const ask of ['--help', '-h', 'help']) {
      const answer = parseRole(ask);
      expect(answer).toHaveProperty('help');
      const text = (answer as { help: readonly string[] }).help.join('\n');
      // Every role is described, by the name a command line takes.
      for (const role of ['all', 'api', 'worker', 'sandbox'])
        expect(text).toMatch(new RegExp(`^  ${role} `, 'm'));
    }
  });
});

describe('parseRole with arguments after the role', () => {
  it('refuses them, naming each, instead of ignoring them', () => {
    expect(parseRole('api', ['worker'])).toEqual({
      error:
        'unexpected argument "worker" after the role api: the role is the only argument (one role per process); ' +
        'configuration is by environment variables, e.g. PORT=4000 npm start -- api (README.md, "Configuration")',
    });
    expect(parseRole('worker', ['--concurrency', '5'])).toHaveProperty(
      'error',
      expect.stringMatching(/^unexpected arguments "--concurrency" "5" after the role worker: /),
    );
    // No role but an argument: the default role takes none either.
    expect(parseRole('', ['x'])).toHaveProperty('error', expect.stringContaining('after the role all'));
    // Still an unknown role first, and help wherever it is asked for.
    expect(parseRole('apis', ['x'])).toHaveProperty('error', expect.stringMatching(/^unknown role "apis"/));
    expect(parseRole('api', ['--help'])).toHaveProperty('help');
    expect(parseRole('api', [])).toBe('api');
  });

  it('gives the example of the variable the role reads for its port, not PORT, which a worker and the sandbox ignore', () => {
    expect(parseRole('sandbox', ['--port', '4011'])).toHaveProperty(
      'error',
      expect.stringContaining('e.g. SANDBOX_PORT=4011 npm start -- sandbox ('),
    );
    expect(parseRole('worker', ['--port', '9464'])).toHaveProperty(
      'error',
      expect.stringContaining('e.g. METRICS_PORT=9464 npm start -- worker ('),
    );
    expect(parseRole('all', ['--port', '4000'])).toHaveProperty(
      'error',
      expect.stringContaining('e.g. PORT=4000 npm start -- all ('),
    );
  });
});

describe('bannerLines', () => {
  it('prints the sandbox default token, with where everything is: on loopback, as that token allows', () => {
    const config = loadConfig({});
    const text = bannerLines({
      role: 'all',
      config,
      apiPort: 3000,
      sandboxUrl: 'http://127.0.0.1:4010',
      sandboxEmbedded: true,
    }).join('\n');
    expect(text).toContain('http://127.0.0.1:3000/admin/queues');
    expect(text).toContain('http://127.0.0.1:3000/metrics');
    expect(text).toContain('http://127.0.0.1:3000/docs');
    expect(text).toContain('http://127.0.0.1:4010 (embedded)');
    expect(text).toMatch(/API token\s+dev-token/);
  });

  it('never prints a token the operator chose, nor a Redis password', () => {
    const config = loadConfig({
      API_TOKEN: 'operator-secret-token',
      CXONE_BASE_URL: 'https://api.example.com',
      CXONE_CLIENT_ID: 'id',
      CXONE_CLIENT_SECRET: 'cxone-secret',
      REDIS_URL: 'redis://:hunter2@redis.internal:6379',
    });
    const text = bannerLines({ role: 'api', config, apiPort: 8080 }).join('\n');
    expect(text).not.toContain('operator-secret-token');
    expect(text).not.toContain('cxone-secret');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('https://api.example.com');
    expect(redactUrl('redis://u:p@h:1/2')).toBe('redis://u:***@h:1/2');
  });
});

describe('findOnPath', () => {
  it('finds executables and not missing ones', () => {
    expect(findOnPath('node', process.env.PATH)).toMatch(/node$/);
    expect(findOnPath('definitely-not-a-binary-xyz', process.env.PATH)).toBeUndefined();
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise((r) => server.close(r));
  return typeof address === 'object' && address ? address.port : 0;
}

describe('startPrivateRedis', () => {
  const binary = findOnPath('redis-server', process.env.PATH);
  it.skipIf(!binary)('starts a redis-server child that answers, and stops it', async () => {
    const port = await freePort();
    const redis = await startPrivateRedis(binary!, port);
    expect(await redisAnswers(`redis://127.0.0.1:${port}`)).toBe(true);
    await redis.stop();
    expect(await redisAnswers(`redis://127.0.0.1:${port}`, 300)).toBe(false);
  });
});
