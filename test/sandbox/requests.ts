import { randomUUID } from 'node:crypto';
import type { CreateCampaignRequest } from '../../src/shared/cxone/wire.js';
import { SANDBOX_SKILL_GROUP_ID, SANDBOX_TARGET_LIST_ID } from '../../src/sandbox/directory.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';

// What a client sends the sandbox, apart from helpers.ts (which needs vitest) so the benchmarks send
// the same.

/** A valid create body for the sandbox's default directory (20 agents, New York's 08:00–21:00 under the TCPA). */
export function createBody(overrides: Partial<CreateCampaignRequest> = {}): CreateCampaignRequest {
  return {
    name: `test campaign ${randomUUID().slice(0, 8)}`,
    type: 'predictive',
    startDateTime: '2026-12-01T09:00:00-05:00',
    targetListId: SANDBOX_TARGET_LIST_ID,
    dialerSettings: {
      strategy: 'predictive',
      agentCapacity: 20,
      callRate: 0.5,
      answerRate: 0.35,
      wrapUpTime: 30,
      skillGroupId: SANDBOX_SKILL_GROUP_ID,
    },
    complianceSettings: {
      timeZone: 'America/New_York',
      allowedCallTimes: [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00' },
      ],
      doNotCallListCheck: true,
      regulatoryCompliance: 'TCPA',
    },
    ...overrides,
  };
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function call(
  sandbox: RunningSandbox,
  method: string,
  path: string,
  opts: {
    token?: string;
    body?: unknown;
    /** A form-encoded body (the token endpoint's only content type), instead of `body`. */
    form?: Record<string, string>;
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let payload: string | undefined;
  if (opts.form !== undefined) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    payload = new URLSearchParams(opts.form).toString();
  } else if (opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetch(`${sandbox.url}${path}`, {
    method,
    headers,
    ...(payload !== undefined ? { body: payload } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}
