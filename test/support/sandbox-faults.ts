import { expect } from 'vitest';
import type { FaultScript } from '../../src/sandbox/routes/control.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';

export type { FaultScript };

/**
 * Scripts the sandbox's faults (`POST /__sandbox/faults`, docs/sandbox.md) and asserts the sandbox
 * took the script: one it refuses (a field it does not know, `applied` on a 429) would leave the test
 * running without the fault it is about.
 */
export async function scriptFaults(sandbox: Pick<RunningSandbox, 'url'>, script: FaultScript): Promise<void> {
  const res = await fetch(`${sandbox.url}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(script),
  });
  expect(res.status, `POST /__sandbox/faults ${JSON.stringify(script)}`).toBe(200);
}

/** The faults the sandbox holds now (`GET /__sandbox/faults`): `scripted` lists those still to fire. */
export async function sandboxFaults(
  sandbox: Pick<RunningSandbox, 'url'>,
): Promise<{ scripted: unknown[] } & Record<string, unknown>> {
  const res = await fetch(`${sandbox.url}/__sandbox/faults`);
  expect(res.status).toBe(200);
  return (await res.json()) as { scripted: unknown[] } & Record<string, unknown>;
}
