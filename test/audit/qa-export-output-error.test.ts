import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Redis } from 'ioredis';
import { runAuditCli } from '../../src/cli/audit.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import { createKeys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { connect, deletePrefix, REDIS_URL, testPrefix } from './redis-helpers.js';

/**
 * `npm run audit -- export … --out FILE` with a file it cannot write: the failure is the file's, and
 * must say so. The file is opened before the first Redis command has connected, and the message
 * blamed Redis ("cannot reach Redis at … (REDIS_URL)"), sending an operator after the wrong fault.
 */

let redis: Redis;
let prefix: string;
let dir: string;

beforeAll(async () => {
  redis = connect();
  prefix = testPrefix();
  dir = mkdtempSync(join(tmpdir(), 'cxo-qa-aud-out-'));
  const trail = createAuditTrail({ redis, keys: createKeys(prefix), logger: silentLogger });
  await trail.append({ campaignId: 'out-a', action: 'state_changed', actor: 'api:ops', details: {} });
});

afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('audit export to a file it cannot write', () => {
  for (const args of [['export', 'out-a'], ['export']]) {
    it(`${args.join(' ')} --out <missing dir>: exit 1 naming the file, not Redis`, async () => {
      const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const out = join(dir, 'no-such-dir', 'trail.jsonl');
        const env = { REDIS_URL, KEY_PREFIX: prefix, LOG_LEVEL: 'silent' as const };
        expect(await runAuditCli([...args, '--out', out], env)).toBe(1);
        const messages = error.mock.calls.map(([m]) => String(m));
        expect(messages).toHaveLength(1);
        expect(messages[0]).not.toMatch(/Redis|REDIS_URL/);
        expect(messages[0]).toBe(
          `audit export failed: cannot write ${out}: ENOENT: no such file or directory, open '${out}'`,
        );
      } finally {
        error.mockRestore();
      }
    });
  }
});
