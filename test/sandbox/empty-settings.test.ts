import { afterEach, describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { updateCampaignRequestSchema } from '../../src/shared/cxone/wire.js';
import { call, createCampaign, patch, start, tokenFor } from './helpers.js';

/**
 * A PATCH must name something to change: `{}` is refused (422), and so is a settings object that
 * names no field (`{"dialerSettings": {}}`), which is the same empty update one level down — it was
 * answered 200 as a no-op, so a client whose diff came out empty and was sent anyway passed here.
 * A body that names fields whose values are already in place stays a 200 no-op (a re-send after a
 * 5xx that had been applied must not fail).
 */
describe('a PATCH whose settings object names no field', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('is refused with 422 naming the empty object, like an empty body, and changes nothing', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    const id = (await createCampaign(sandbox, token)).body.id as string;
    for (const [body, field] of [
      [{ dialerSettings: {} }, 'dialerSettings'],
      [{ complianceSettings: {} }, 'complianceSettings'],
      [{ name: 'Renamed', dialerSettings: {} }, 'dialerSettings'],
    ] as const) {
      const res = await patch(sandbox, token, id, 1, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.body.errors).toEqual([{ field, message: 'must change at least one field' }]);
    }
    const empty = await patch(sandbox, token, id, 1, {});
    expect(empty.status).toBe(422);
    // Through the console route too: it parses with the same schema.
    const console = await call(sandbox, 'POST', `/__sandbox/campaigns/${id}/console`, {
      body: { dialerSettings: {} },
    });
    expect(console.status).toBe(422);
    const now = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token });
    expect(now.body).toMatchObject({ version: 1, name: expect.not.stringMatching(/^Renamed$/) });
  });

  it('still takes a settings object that names a field, even one already at its value (200, no new version)', async () => {
    sandbox = await start();
    const token = await tokenFor(sandbox);
    const created = await createCampaign(sandbox, token);
    const id = created.body.id as string;
    const current = await call(sandbox, 'GET', `/api/v2/campaigns/${id}`, { token });
    const callRate = (current.body.dialerSettings as { callRate: number }).callRate;
    const same = await patch(sandbox, token, id, 1, { dialerSettings: { callRate } });
    expect(same.status).toBe(200);
    expect(same.body.version).toBe(1);
    const changed = await patch(sandbox, token, id, 1, { dialerSettings: { callRate: 0.2 } });
    expect(changed.status).toBe(200);
    expect(changed.body.version).toBe(2);
  });

  it('the shared wire schema refuses it with an issue at the settings object', () => {
    const parsed = updateCampaignRequestSchema.safeParse({ dialerSettings: {} });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path)).toEqual([['dialerSettings']]);
    expect(updateCampaignRequestSchema.safeParse({ dialerSettings: { callRate: 0.4 } }).success).toBe(true);
  });
});
