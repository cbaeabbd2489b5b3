import { afterAll, beforeAll } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import type { SandboxOptions } from '../../src/sandbox/types.js';
import { historyPageSchema, type HistoryRecord } from '../../src/shared/cxone/wire.js';
import { call, start, tokenFor } from '../sandbox/helpers.js';

/**
 * One sandbox (test/sandbox/helpers.ts start(opts)) for the tests of the calling suite, started before
 * them and closed after them, with a token of the fleet's client. Read `sandbox` and `token` from the
 * returned object inside the tests (they are set by the suite's beforeAll).
 */
export function sandboxForSuite(opts: SandboxOptions = {}): {
  readonly sandbox: RunningSandbox;
  readonly token: string;
} {
  const suite = {} as { sandbox: RunningSandbox; token: string };
  beforeAll(async () => {
    suite.sandbox = await start(opts);
    suite.token = await tokenFor(suite.sandbox);
  });
  afterAll(async () => {
    await suite.sandbox.close();
  });
  return suite;
}

/** A campaign's history records in one page of up to 500, checked against the wire schema. */
export async function campaignHistory(
  sandbox: RunningSandbox,
  token: string,
  id: string,
): Promise<HistoryRecord[]> {
  const res = await call(sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/history?pageSize=500`, {
    token,
  });
  return historyPageSchema.parse(res.body).records;
}
