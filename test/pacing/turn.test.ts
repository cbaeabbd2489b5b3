import { describe, expect, it } from 'vitest';
import type { CampaignRecord } from '../../src/shared/campaign-store.js';
import type { CommandRecord } from '../../src/shared/lifecycle/commands.js';
import { deadByJob, LOST_JOB_GRACE_MS } from '../../src/shared/lifecycle/pending-commands.js';
import { changeSinceRead, commandAhead } from '../../src/shared/pacing/turn.js';
import { campaignConfig, resource } from '../lifecycle/fixtures.js';

const seen: CampaignRecord = {
  campaignId: 'c1',
  status: 'active',
  version: 4,
  config: campaignConfig(),
  cxone: resource({ id: 'c1', version: 4, status: 'active' }),
  configRev: 2,
  pacing: { strategy: 'abandonment-target', state: null, pendingCommandId: null },
  updatedAt: '2026-01-01T00:00:00.000Z',
};

describe('changeSinceRead', () => {
  it("ignores what the poll's own statistics moved", () => {
    expect(
      changeSinceRead(seen, { ...seen, version: 5, lastStats: undefined, updatedAt: 'later' }),
    ).toBeNull();
  });

  it('names a CXone write, new orchestrator-only settings, a new pacing memory, an end', () => {
    expect(changeSinceRead(seen, { ...seen, cxone: { ...seen.cxone, version: 5 } })).toMatch(/version 4 → 5/);
    expect(changeSinceRead(seen, { ...seen, configRev: 3 })).toMatch(/settings/);
    expect(
      changeSinceRead(seen, { ...seen, pacing: { ...(seen.pacing as object), pendingCommandId: 'cmd_x' } }),
    ).toMatch(/memory/);
    expect(changeSinceRead(seen, { ...seen, status: 'completed' })).toMatch(/ended \(completed\)/);
    expect(changeSinceRead(seen, null)).toMatch(/gone/);
  });
});

describe('commandAhead', () => {
  it("proceeds with no command to run, waits for pacing's own, defers behind anyone else's", () => {
    expect(commandAhead(null, 'cmd_own')).toBeNull();
    expect(commandAhead('cmd_own', 'cmd_own')).toEqual({ kind: 'waiting', commandId: 'cmd_own' });
    expect(commandAhead('cmd_pause', 'cmd_own')).toEqual({
      kind: 'deferred',
      reason: 'command cmd_pause is queued or running on the campaign',
    });
    expect(commandAhead('cmd_pause', null)).toMatchObject({ kind: 'deferred' });
  });
});

describe('deadByJob', () => {
  const requestedAt = '2026-01-01T00:00:00.000Z';
  const at = Date.parse(requestedAt);
  const command: CommandRecord = {
    commandId: 'cmd_1',
    campaignId: 'c1',
    actor: 'api:alice',
    reason: 'operator',
    action: 'pause',
    status: 'queued',
    requestedAt,
    updatedAt: requestedAt,
    attempts: 0,
  };

  it('a job that completed or failed never runs its command again, however young', () => {
    for (const state of ['completed', 'failed']) expect(deadByJob(command, state, at)).toBe(true);
  });

  it('a job that is nowhere is lost only past the grace: a younger one may still be being enqueued', () => {
    for (const state of ['missing', 'unknown']) {
      expect(deadByJob(command, state, at + LOST_JOB_GRACE_MS)).toBe(false);
      expect(deadByJob(command, state, at + LOST_JOB_GRACE_MS + 1)).toBe(true);
    }
  });

  it('a job on its way or at work lives, however old', () => {
    for (const state of ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children']) {
      expect(deadByJob(command, state, at + 10 * LOST_JOB_GRACE_MS)).toBe(false);
    }
  });
});
