import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/shared/audit/types.js';
import type { EventEnvelope } from '../../src/shared/events/types.js';
import { auditOrLog, publishOrLog } from '../../src/shared/side-records.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({}, stream), lines };
}

const input: AuditInput = {
  campaignId: 'c-1',
  action: 'state_changed',
  actor: 'worker:test',
  details: { to: 'paused' },
};

describe('auditOrLog / publishOrLog', () => {
  it('append and publish what they are given', async () => {
    const { logger, lines } = capture();
    const appended: AuditInput[] = [];
    const published: unknown[] = [];
    const audit = {
      append: async (i: AuditInput) => {
        appended.push(i);
      },
    };
    const events = {
      publish: async (type: string, campaignId: string, data: Record<string, unknown>) => {
        published.push({ type, campaignId, data });
        return {} as EventEnvelope;
      },
    };
    await auditOrLog({ audit, logger }, input);
    await publishOrLog({ events, logger }, 'campaign.state.changed', 'c-1', { to: 'paused' });
    expect(appended).toEqual([input]);
    expect(published).toEqual([
      { type: 'campaign.state.changed', campaignId: 'c-1', data: { to: 'paused' } },
    ]);
    expect(lines).toEqual([]);
  });

  it('say whether the record is new: false only when the trail already holds its dedupe key', async () => {
    const { logger } = capture();
    const keys = new Set<string>();
    const audit = {
      append: async () => undefined,
      appendWithOutcome: async (i: AuditInput) => {
        const duplicate = keys.has(i.dedupeKey ?? '');
        keys.add(i.dedupeKey ?? '');
        return { duplicate };
      },
    };
    const keyed = { ...input, dedupeKey: 'k-1' };
    await expect(auditOrLog({ audit, logger }, keyed)).resolves.toBe(true);
    await expect(auditOrLog({ audit, logger }, keyed)).resolves.toBe(false);
    // Without a key the trail cannot tell a replay: every record counts as new.
    await expect(auditOrLog({ audit, logger }, input)).resolves.toBe(true);
  });

  it('log a failure with the campaign and what was being recorded, and do not throw', async () => {
    const { logger, lines } = capture();
    const audit = { append: () => Promise.reject(new Error('redis down')) };
    const events = { publish: () => Promise.reject(new Error('redis down')) };
    // A failed write counts as new: the change it reports did happen.
    await expect(auditOrLog({ audit, logger }, input, { commandId: 'cmd-1' })).resolves.toBe(true);
    await expect(
      publishOrLog({ events, logger }, 'campaign.state.changed', 'c-1', {}, { commandId: 'cmd-1' }),
    ).resolves.toBeUndefined();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 50,
      msg: 'audit write failed',
      campaignId: 'c-1',
      action: 'state_changed',
      commandId: 'cmd-1',
      err: { message: 'redis down' },
    });
    expect(lines[1]).toMatchObject({
      level: 50,
      msg: 'event publish failed',
      campaignId: 'c-1',
      type: 'campaign.state.changed',
      commandId: 'cmd-1',
    });
  });
});
