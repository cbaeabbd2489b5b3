import type { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditTrailStore } from '../../src/shared/audit/trail.js';
import { campaignConfigSchema } from '../../src/shared/campaign-schema.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { isFinished, type CommandRecord } from '../../src/shared/lifecycle/commands.js';
import { enqueueCommand, getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { startSendGateStack, type SendGateStack } from '../compliance/send-gate.js';
import { eventually } from '../compliance/redis-context.js';
import { campaignConfig } from '../e2e/stack.js';

/**
 * A resume the adjust worker let through (60 s before the window's close) whose PATCH gets its
 * rate-limit permit only inside the last 30 s, or after the close: it is not sent, and the command is
 * refused with the guard's reason, recorded as the guard's refusals are. The clock moves while the
 * write waits for its permit (the limiter seam). Real Redis, the adjust worker, the sandbox over HTTP.
 */
const DECIDED_AT = '2026-03-04T20:59:00-05:00';
const config = campaignConfigSchema.parse(
  campaignConfig({
    startDateTime: '2026-03-04T09:00:00-05:00',
    complianceTimeZone: 'America/New_York',
    allowedCallTimes: [
      { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '08:00', end: '21:00' },
    ],
  }),
);

let stack: SendGateStack;
let worker: Worker;
beforeAll(async () => {
  stack = await startSendGateStack(DECIDED_AT);
  worker = createAdjustWorker(stack.ctx);
  await worker.waitUntilReady();
});
afterAll(async () => {
  await worker?.close();
  await stack?.close();
});

async function pausedCampaign(): Promise<string> {
  const { cxone } = stack.ctx;
  const created = await cxone.createCampaign(toCreateCampaignRequest(config));
  let resource = await cxone.getCampaign(created.id);
  for (const status of ['scheduled', 'active', 'paused'] as const) {
    resource = await cxone.updateCampaign(created.id, resource.version, { status });
  }
  await createCampaignStore(stack.ctx).syncFromCxone(resource, { config });
  return created.id;
}

const finished = (commandId: string) =>
  eventually(async () => {
    const record = await getCommand(stack.ctx, commandId);
    return record && isFinished(record.status) ? record : undefined;
  }, 15_000) as Promise<CommandRecord>;

const status = (id: string) =>
  (stack.sandbox.getCampaignState(id) as { resource: { status: string } }).resource.status;

describe('a resume whose permit comes too late for its calling window', () => {
  it.each([
    ['in the last 30 s before the close', '2026-03-04T20:59:45-05:00', /less than 30 s away/],
    ['after the close', '2026-03-04T21:00:05-05:00', /outside the campaign's calling windows/],
  ])('is not sent when the permit comes %s: refused with the guard reason', async (_w, grantedAt, why) => {
    stack.clock.set(Date.parse(DECIDED_AT));
    const id = await pausedCampaign();
    stack.beforeWritePermit(1, () => stack.clock.set(Date.parse(grantedAt)));

    const { commandId } = await enqueueCommand(stack.ctx, {
      campaignId: id,
      actor: 'api:alice',
      reason: 'operator',
      action: 'resume',
    });
    const done = await finished(commandId);

    expect(done).toMatchObject({ status: 'failed', error: { kind: 'compliance_refused' } });
    const at = grantedAt.slice(0, 19);
    expect(done.error?.message).toContain(`cannot resume at ${at}`);
    expect(done.error?.message).toMatch(why);
    expect(status(id)).toBe('paused');
    const trail = await (stack.ctx.audit as AuditTrailStore).list(id);
    const refused = trail.filter((r) => r.action === 'compliance_action');
    expect(refused).toEqual([
      expect.objectContaining({
        actor: 'api:alice',
        details: expect.objectContaining({ kind: 'refused_resume', reason: done.error?.message, commandId }),
      }),
    ]);
    expect(trail.map((r) => r.action)).not.toContain('state_changed');
  });

  it('is sent when the permit comes before the last 30 s', async () => {
    stack.clock.set(Date.parse(DECIDED_AT));
    const id = await pausedCampaign();
    stack.beforeWritePermit(1, () => stack.clock.set(Date.parse('2026-03-04T20:59:29-05:00')));

    const { commandId } = await enqueueCommand(stack.ctx, {
      campaignId: id,
      actor: 'api:alice',
      reason: 'operator',
      action: 'resume',
    });

    expect(await finished(commandId)).toMatchObject({ status: 'succeeded' });
    expect(status(id)).toBe('active');
  });
});
