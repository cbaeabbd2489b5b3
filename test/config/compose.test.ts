import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/process/private-redis.js';
import { problemsOf } from './problems.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_FILE = fileURLToPath(new URL('../../docker-compose.yml', import.meta.url));
const DOCKER_COMPOSE = findOnPath('docker-compose');
/** The orchestrator environment docker-compose.yml gives the api and workers (the CXone part). */
const COMPOSE_ENV = {
  REDIS_URL: 'redis://redis:6379',
  KEY_PREFIX: '{cxo}',
  CXONE_BASE_URL: 'http://sandbox:4010',
  CXONE_CLIENT_ID: 'sandbox-client',
  CXONE_CLIENT_SECRET: 'sandbox-secret',
};

/** `docker-compose config` (Debian's 1.29, no engine needed) with exactly `env` in its environment. */
function composeConfig(env: Record<string, string>) {
  return spawnSync(DOCKER_COMPOSE!, ['-f', COMPOSE_FILE, 'config'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    encoding: 'utf8',
  });
}

describe('docker-compose.yml', () => {
  // The API is published on the host; a token written in the compose file is known to everyone who
  // can read the repository, and the process cannot tell it from one the operator chose.
  it('gives API_TOKEN no fallback value, so the fleet never runs with a publicly known token', () => {
    const lines = readFileSync(COMPOSE_FILE, 'utf8')
      .split('\n')
      .filter((line) => /^\s*API_TOKEN:/.test(line));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^\s*API_TOKEN: '?\$\{API_TOKEN:-\}'?\s*$/);
  });

  it('an unset API_TOKEN, passed on empty, stops the fleet at start naming it', () => {
    // What the api and worker services get from compose without API_TOKEN in the environment.
    expect(problemsOf({ ...COMPOSE_ENV, API_TOKEN: '' })).toEqual([
      'API_TOKEN: is required when CXONE_BASE_URL is set (it has no sandbox default)',
    ]);
    expect(problemsOf({ ...COMPOSE_ENV, API_TOKEN: 'an-operator-chosen-token' })).toEqual([]);
  });

  it.skipIf(DOCKER_COMPOSE === undefined)(
    'accepts the file without API_TOKEN (empty for the fleet to refuse) and passes the one given to api and workers',
    () => {
      const without = composeConfig({});
      expect(without.status).toBe(0);
      expect((without.stdout.match(/^\s*API_TOKEN: .*$/gm) ?? []).map((t) => t.trim())).toEqual([
        "API_TOKEN: ''",
        "API_TOKEN: ''",
      ]);

      const withToken = composeConfig({ API_TOKEN: 'an-operator-chosen-token' });
      expect(withToken.stderr).not.toMatch(/ERROR/);
      expect(withToken.status).toBe(0);
      const tokens = withToken.stdout.match(/^\s*API_TOKEN: .*$/gm) ?? [];
      expect(tokens.map((t) => t.trim())).toEqual([
        'API_TOKEN: an-operator-chosen-token',
        'API_TOKEN: an-operator-chosen-token',
      ]);
    },
  );
});
