import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../../src/shared/audit/types.js';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import type { CampaignStore } from '../../src/shared/campaign-store.js';
import type { CxoneApi, HistoryPageRead } from '../../src/shared/cxone/api.js';
import type { CampaignResource, HistoryRecord, UpdateCampaignRequest } from '../../src/shared/cxone/wire.js';
import {
  CxoneConflictError,
  CxoneForbiddenError,
  CxoneRateLimitError,
  CxoneUnavailableError,
} from '../../src/shared/errors.js';
import type { AdjustJob } from '../../src/shared/jobs.js';
import {
  executeCommand,
  PartialFailureError,
  RebaseExhaustedError,
  type LifecycleHooks,
} from '../../src/shared/lifecycle/executor.js';
import { LockLostError, type CampaignLease } from '../../src/shared/lifecycle/lock.js';
import { sentChanges } from '../../src/shared/lifecycle/own-write.js';
import { getPath } from '../../src/shared/lifecycle/patch.js';
import { silentLogger } from '../../src/shared/logger.js';
import { carriedSafeStart, type CarriedSafeStart } from '../../src/shared/pacing/resume.js';
import { resource } from './fixtures.js';

/**
 * The executor alone, with an in-memory stand-in for CXone that enforces If-Match versions the way
 * the v2 contract does. Unit tests: they pin down the edge cases the sandbox tests cannot reach
 * deterministically (409 storms, a lost lock, a veto between the two writes).
 */
const ENDPOINT = 'PATCH /api/v2/campaigns/:id';

class InMemoryCxone implements CxoneApi {
  updates: UpdateCampaignRequest[] = [];
  /** Outside writers that slip in before each of our next N PATCHes. */
  outsideWrites = 0;
  failWith?: (body: UpdateCampaignRequest) => Error | undefined;
  /** The code this CXone's 409 for a version mismatch carries (none, as the contract names none). */
  mismatchCode?: string;

  constructor(public campaign: CampaignResource) {}

  async createCampaign(): Promise<never> {
    throw new Error('not used');
  }
  async getStats(): Promise<never> {
    throw new Error('not used');
  }
  /** CXone's history of the writes applied, as its history endpoint gives it (one page). */
  historyRecords: HistoryRecord[] = [];
  async *history(): AsyncIterable<HistoryPageRead> {
    yield { records: structuredClone(this.historyRecords), cursor: null };
  }
  async getCampaign(): Promise<CampaignResource> {
    return structuredClone(this.campaign);
  }
  async updateCampaign(id: string, version: number, body: UpdateCampaignRequest): Promise<CampaignResource> {
    if (this.outsideWrites > 0) {
      this.outsideWrites -= 1;
      this.campaign = { ...this.campaign, version: this.campaign.version + 1 };
    }
    if (version !== this.campaign.version) {
      throw new CxoneConflictError(
        { endpoint: ENDPOINT, status: 409, campaignId: id },
        this.campaign.version,
        this.mismatchCode,
      );
    }
    const failure = this.failWith?.(body);
    if (failure) throw failure;
    this.updates.push(body);
    const before = this.campaign;
    this.campaign = {
      ...this.campaign,
      ...(body.name ? { name: body.name } : {}),
      ...(body.status ? { status: body.status } : {}),
      dialerSettings: { ...this.campaign.dialerSettings, ...(body.dialerSettings ?? {}) },
      complianceSettings: { ...this.campaign.complianceSettings, ...(body.complianceSettings ?? {}) },
      version: this.campaign.version + 1,
    };
    const changes = Object.fromEntries(
      Object.entries(sentChanges(body)).map(([path, to]) => [path, { from: getPath(before, path), to }]),
    );
    this.historyRecords.push({
      id: `h${this.campaign.version}`,
      campaignId: id,
      version: this.campaign.version,
      occurredAt: new Date(0).toISOString(),
      action: 'updated',
      actor: 'sandbox-client',
      changes,
    });
    return structuredClone(this.campaign);
  }
}

function setup(
  opts: {
    refusals?: Array<string | null>;
    lockLost?: boolean;
    /** The store keeps the orchestrator-only config it is given, as the real campaign record does. */
    keepsLocal?: boolean;
    /** The store's next `patch` calls fail, as on a Redis blip. */
    failPatches?: number;
    /** Pacing's carriedSafeStart in the hooks, as the adjust worker wires them (lifecycle/hooks.ts). */
    carry?: boolean;
    /** The next saves of an answered settings write's record fail, as job.updateData on a Redis blip. */
    failSettingsRecorded?: number;
  } = {},
) {
  /** The safe starts the writes carried, as pacing's follow-up was told of them. */
  const carried: Array<{ carried: CarriedSafeStart; version: number }> = [];
  const statusChanges: string[] = [];
  const settingsChanges: string[][] = [];
  /** What the attempts persisted into the job for later ones, as the adjust worker does. */
  const saved: Partial<AdjustJob> & { statusRecorded?: boolean } = {};
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  const cxone = new InMemoryCxone(resource({ id: 'c1', version: 3 }));
  const audits: AuditInput[] = [];
  const sleeps: number[] = [];
  const refusals = [...(opts.refusals ?? [])];
  const refusedRecorded: string[] = [];
  /** The configs compliance was asked about, in order. */
  const checked: CampaignConfig[] = [];
  /** What the executor stored as the orchestrator-only config. */
  const localWrites: Array<Partial<CampaignConfig>> = [];
  const hooks: LifecycleHooks = {
    complianceRefusal: ({ config }) => {
      checked.push(config);
      return refusals.length ? (refusals.shift() ?? null) : null;
    },
    onStatusChanged: async (_id, from, to) => void statusChanges.push(`${from}->${to}`),
    onSettingsChanged: async (_id, fields) => void settingsChanges.push(fields),
    onPollIntervalChanged: async (_id, intervalMs) => void pollIntervals.push(intervalMs),
    onComplianceRefused: async (_id, refusal) => void refusedRecorded.push(refusal.reason),
    ...(opts.carry
      ? {
          carriedSafeStart,
          onSafeStartCarried: async (_id: string, c: CarriedSafeStart, by: { version: number }) =>
            void carried.push({ carried: c, version: by.version }),
        }
      : {}),
  };
  const pollIntervals: number[] = [];
  const stored = { config: {} as Partial<CampaignConfig> };
  const patches: Array<Record<string, unknown>> = [];
  let failPatches = opts.failPatches ?? 0;
  let failSettingsRecorded = opts.failSettingsRecorded ?? 0;
  const store = {
    get: async () => (opts.keepsLocal ? structuredClone(stored) : null),
    syncFromCxone: async () => true,
    updateLocalConfig: async (_resource: CampaignResource, local: Partial<CampaignConfig>) => {
      localWrites.push(local);
      if (opts.keepsLocal) stored.config = { ...stored.config, ...local };
    },
    patch: async (_id: string, fields: Record<string, unknown>) => {
      if (failPatches-- > 0) throw new Error('Connection is closed.');
      patches.push(fields);
    },
  } as unknown as CampaignStore;
  const lease: CampaignLease = {
    campaignId: 'c1',
    token: 1,
    held: () => !opts.lockLost,
    verify: async () => {
      if (opts.lockLost) throw new LockLostError('c1', 1);
    },
    release: async () => undefined,
  };
  const deps = {
    cxone,
    store,
    audit: { append: async (input: AuditInput) => (audits.push(input), {} as never) },
    events: {
      publish: async (type: string, _c: string, data: Record<string, unknown>) =>
        (events.push({ type, data }), {}) as never,
    },
    logger: silentLogger,
    clock: { now: () => Date.parse('2026-12-01T15:00:00Z') },
    hooks,
    sleep: async (ms: number) => void sleeps.push(ms),
    random: () => 0.5,
  };
  const run = (job: Partial<AdjustJob>, attempt = 1) =>
    executeCommand(deps, {
      job: {
        commandId: 'cmd_1',
        campaignId: 'c1',
        actor: 'api:alice',
        requestedAt: '2026-12-01T15:00:00Z',
        reason: 'operator',
        ...job,
      },
      lease,
      attempt,
      resumed: attempt > 1,
      saveBase: async (base, baseVersion) => void Object.assign(saved, { base, baseVersion }),
      saveSettingsRecorded: async (version) => {
        if (failSettingsRecorded-- > 0) throw new Error('Connection is closed.');
        Object.assign(saved, { settingsRecordedVersion: version });
      },
      saveLocalRecorded: async () => void Object.assign(saved, { localRecorded: true }),
      statusRecorded: saved.statusRecorded === true,
      saveStatusRecorded: async () => void Object.assign(saved, { statusRecorded: true }),
      saveCarried: async (carried) => void Object.assign(saved, { carriedSafeStart: carried ?? undefined }),
      saveSent: async (sent, step) =>
        void Object.assign(saved, { lastSent: sent, ...(step === 'settings' ? { settingsSent: sent } : {}) }),
      forgetSettingsSent: async (alsoLast) =>
        void Object.assign(saved, { settingsSent: undefined, ...(alsoLast ? { lastSent: undefined } : {}) }),
    });
  return {
    cxone,
    audits,
    sleeps,
    run,
    statusChanges,
    settingsChanges,
    events,
    saved,
    refusedRecorded,
    checked,
    localWrites,
    patches,
    pollIntervals,
    carried,
  };
}

describe('executeCommand', () => {
  it('retried after it undid its own write (a Redis blip saving its record) is no conflict with that undo', async () => {
    const { cxone, run, saved } = setup({ failSettingsRecorded: 1 });
    const patch = { dialerStrategy: { callRate: 0.8 } };
    const err = await run({ patch }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialFailureError);
    expect((err as PartialFailureError).rollback).toMatchObject({ outcome: 'restored' });
    // The campaign is back at 0.5 by the command's own undo, not by anyone else's revert.
    const outcome = await run({ patch, ...saved }, 2);
    expect(outcome).toMatchObject({ status: 'succeeded' });
    expect(cxone.campaign.dialerSettings.callRate).toBe(0.8);
  });

  it('re-reads and rebases on each 409, with jittered backoff, then writes once', async () => {
    const { cxone, sleeps, run, audits } = setup();
    cxone.outsideWrites = 2;
    const outcome = await run({ patch: { dialerStrategy: { callRate: 0.8 } } });
    expect(outcome).toMatchObject({ status: 'succeeded', result: { rebases: 2, version: 6 } });
    expect(cxone.updates).toEqual([{ dialerSettings: { callRate: 0.8 } }]);
    // Full jitter with random 0.5: half of 50 ms, then half of 100 ms.
    expect(sleeps).toEqual([25, 50]);
    expect(audits.map((a) => [a.action, a.cxoneVersion, a.actor])).toEqual([
      ['settings_changed', 6, 'api:alice'],
    ]);
    expect(audits[0]!.details).toMatchObject({
      commandId: 'cmd_1',
      changes: [{ field: 'dialerStrategy.callRate', from: 0.5, to: 0.8 }],
    });
  });

  it('rebases on a 409 whose code it does not know, as on the version mismatch the contract promises', async () => {
    const { cxone, run } = setup();
    cxone.mismatchCode = 'VersionMismatch';
    cxone.outsideWrites = 2;
    const outcome = await run({ patch: { dialerStrategy: { callRate: 0.8 } } });
    expect(outcome).toMatchObject({ status: 'succeeded', result: { rebases: 2, version: 6 } });
    expect(cxone.updates).toEqual([{ dialerSettings: { callRate: 0.8 } }]);
  });

  it('gives up after the bounded number of rebases, as a retryable failure, having written nothing', async () => {
    const { cxone, run } = setup();
    cxone.outsideWrites = 100;
    const err = await run({ patch: { name: 'never' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialFailureError);
    expect((err as PartialFailureError).cause).toBeInstanceOf(RebaseExhaustedError);
    expect((err as PartialFailureError).rollback).toBeUndefined();
    expect(cxone.updates).toEqual([]);
  });

  it('does not write once the campaign lock is lost', async () => {
    const { cxone, run } = setup({ lockLost: true });
    const err = await run({ action: 'pause' }).catch((e: unknown) => e);
    expect((err as PartialFailureError).cause).toBeInstanceOf(LockLostError);
    expect(cxone.updates).toEqual([]);
  });

  it('rolls the settings back when compliance vetoes the status change between the two writes', async () => {
    const { cxone, run, audits, refusedRecorded } = setup({ refusals: [null, 'outside the calling window'] });
    cxone.campaign = { ...cxone.campaign, status: 'paused' };
    const outcome = await run({ action: 'resume', patch: { dialerStrategy: { callRate: 0.8 } } });
    expect(outcome).toMatchObject({
      status: 'failed',
      error: { kind: 'compliance_refused', message: 'outside the calling window' },
      rollback: { outcome: 'restored', restored: [{ field: 'dialerStrategy.callRate', from: 0.8, to: 0.5 }] },
    });
    expect(cxone.updates).toEqual([
      { dialerSettings: { callRate: 0.8 } },
      { dialerSettings: { callRate: 0.5 } },
    ]);
    expect(cxone.campaign.status).toBe('paused');
    expect(audits.map((a) => a.action)).toEqual(['settings_changed', 'rollback']);
    // Compliance records its veto (refused_resume) through its hook.
    expect(refusedRecorded).toEqual(['outside the calling window']);
  });

  it('rolls the settings back when the status write fails permanently, and passes the error on', async () => {
    const { cxone, run } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'paused' };
    cxone.failWith = (body) =>
      body.status
        ? new CxoneForbiddenError({ endpoint: ENDPOINT, status: 403, campaignId: 'c1' })
        : undefined;
    const err = await run({ action: 'resume', patch: { name: 'Renamed' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialFailureError);
    expect((err as PartialFailureError).cause).toBeInstanceOf(CxoneForbiddenError);
    expect((err as PartialFailureError).rollback).toMatchObject({
      outcome: 'restored',
      restored: [{ field: 'name', from: 'Renamed', to: 'Spring renewals' }],
    });
    expect(cxone.campaign).toMatchObject({ name: 'Spring renewals', status: 'paused' });
  });

  it('leaves the first write in place when the second meets a 429, and the re-run finishes the command', async () => {
    const { cxone, run, audits } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'paused' };
    let limited = true;
    cxone.failWith = (body) =>
      body.status && limited
        ? new CxoneRateLimitError({ endpoint: ENDPOINT, status: 429, campaignId: 'c1' }, 6_000)
        : undefined;
    const command = { action: 'resume' as const, patch: { dialerStrategy: { callRate: 0.8 } } };
    const err = await run(command).catch((e: unknown) => e);
    // Passed on as is (re-queued after the penalty, no attempt spent), with nothing undone.
    expect(err).toBeInstanceOf(CxoneRateLimitError);
    expect(cxone.updates).toEqual([{ dialerSettings: { callRate: 0.8 } }]);
    limited = false;
    const outcome = await run({ ...command, base: { 'dialerStrategy.callRate': 0.5, status: 'paused' } });
    expect(outcome).toMatchObject({ status: 'succeeded' });
    expect(cxone.updates).toEqual([{ dialerSettings: { callRate: 0.8 } }, { status: 'active' }]);
    expect(cxone.campaign).toMatchObject({ status: 'active', dialerSettings: { callRate: 0.8 } });
    expect(audits.map((a) => a.action)).toEqual(['settings_changed', 'state_changed']);
  });

  it('stops at a campaign CXone closed meanwhile instead of rebasing into the same 409, and restores nothing', async () => {
    const { cxone, run } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'paused' };
    // The console completes the campaign between our two writes; CXone refuses any change to it.
    cxone.failWith = (body) => {
      if (!body.status && cxone.campaign.status !== 'completed') return undefined;
      cxone.campaign = { ...cxone.campaign, status: 'completed', version: cxone.campaign.version + 1 };
      return new CxoneConflictError(
        { endpoint: ENDPOINT, status: 409, campaignId: 'c1' },
        undefined,
        'campaign_closed',
      );
    };
    const original = cxone.updateCampaign.bind(cxone);
    let patches = 0;
    cxone.updateCampaign = async (...args) => {
      patches += 1;
      return original(...args);
    };
    const outcome = await run({ action: 'resume', patch: { dialerStrategy: { callRate: 0.8 } } }).catch(
      (e: unknown) => e,
    );
    // The settings write, the refused resume, and no more: no rebase storm, no rollback PATCH.
    expect(patches).toBe(2);
    const rollback =
      outcome instanceof PartialFailureError
        ? outcome.rollback
        : (outcome as { rollback?: unknown }).rollback;
    expect(rollback).toMatchObject({
      outcome: 'nothing_to_restore',
      error: expect.stringMatching(/completed on CXone/),
    });
  });

  it('does not roll back when the status write landed without an answer, and the retry records it', async () => {
    const { cxone, run, audits, statusChanges, events, saved } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'paused' };
    // CXone commits the resume, then the answer is lost (a timeout, or a 5xx from a proxy).
    const original = cxone.updateCampaign.bind(cxone);
    let lostAnswers = 1;
    cxone.updateCampaign = async (id, version, body, ...rest) => {
      const written = await original(id, version, body, ...rest);
      if (body.status && lostAnswers-- > 0) {
        throw new CxoneUnavailableError('timeout of 10000ms exceeded', {
          endpoint: ENDPOINT,
          campaignId: id,
        });
      }
      return written;
    };
    const command = { action: 'resume' as const, patch: { dialerStrategy: { callRate: 0.3 } } };
    const err = await run(command).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PartialFailureError);
    // Not undone: rolling the rate back now would leave the campaign dialing at the old rate.
    expect((err as PartialFailureError).rollback).toBeUndefined();
    expect(cxone.updates).toEqual([{ dialerSettings: { callRate: 0.3 } }, { status: 'active' }]);
    expect(cxone.campaign).toMatchObject({ status: 'active', dialerSettings: { callRate: 0.3 } });

    expect(saved).toMatchObject({ base: { 'dialerStrategy.callRate': 0.5, status: 'paused' } });
    const outcome = await run({ ...command, ...saved }, 2);
    expect(outcome).toMatchObject({
      status: 'succeeded',
      result: { alreadyApplied: ['dialerStrategy.callRate', 'status'] },
    });
    expect(cxone.updates).toHaveLength(2);
    // The status change is on record and followed up, though its answer never came; the settings
    // write, answered and audited by the first attempt, is not recorded a second time.
    expect(audits.map((a) => [a.action, a.details?.['foundApplied'] ?? false])).toEqual([
      ['settings_changed', false],
      ['state_changed', true],
    ]);
    // Keyed by the write's once-name, as the answered record would have been: a run finding its own
    // answered write (its worker died between the record and the event) appends nothing beside it.
    expect(audits.map((a) => a.dedupeKey)).toEqual(['command:cmd_1:settings:4', 'command:cmd_1:status:5']);
    expect(statusChanges).toEqual(['paused->active']);
    expect(events.filter((e) => e.type === 'campaign.state.changed').map((e) => e.data['to'])).toEqual([
      'active',
    ]);
  });

  it('records a settings write that landed without an answer when the retry finds it, once and marked', async () => {
    const { cxone, run, audits, events, settingsChanges, saved } = setup();
    const original = cxone.updateCampaign.bind(cxone);
    let lostAnswers = 1;
    cxone.updateCampaign = async (id, version, body, ...rest) => {
      const written = await original(id, version, body, ...rest);
      if (lostAnswers-- > 0) {
        throw new CxoneUnavailableError('timeout of 10000ms exceeded', {
          endpoint: ENDPOINT,
          campaignId: id,
        });
      }
      return written;
    };
    const command = { patch: { dialerStrategy: { callRate: 0.8 }, name: 'Autumn renewals' } };
    expect(await run(command).catch((e: unknown) => e)).toBeInstanceOf(PartialFailureError);
    expect(audits).toEqual([]);

    const outcome = await run({ ...command, ...saved }, 2);
    // Not sent again, but the command's own change: the outcome lists it among its writes.
    expect(outcome).toMatchObject({
      status: 'succeeded',
      result: {
        writes: [
          {
            step: 'settings',
            changes: [
              { field: 'name', from: 'Spring renewals', to: 'Autumn renewals' },
              { field: 'dialerStrategy.callRate', from: 0.5, to: 0.8 },
            ],
          },
        ],
        alreadyApplied: ['name', 'dialerStrategy.callRate'],
      },
    });
    expect(cxone.updates).toHaveLength(1);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      action: 'settings_changed',
      dedupeKey: 'command:cmd_1:settings:4',
      details: {
        foundApplied: true,
        scope: 'cxone',
        changes: [
          { field: 'name', from: 'Spring renewals', to: 'Autumn renewals' },
          { field: 'dialerStrategy.callRate', from: 0.5, to: 0.8 },
        ],
      },
    });
    expect(events.map((e) => [e.type, e.data['foundApplied']])).toEqual([
      ['campaign.settings.changed', true],
    ]);
    expect(settingsChanges).toEqual([['name', 'dialerStrategy.callRate']]);
    // Saved for later attempts, so a retry after a failing status write does not announce it again.
    expect(saved.settingsRecordedVersion).toBe(cxone.campaign.version);
  });

  it('does not take settings found in place on a first attempt, or already so when requested, as its own', async () => {
    const { cxone, run, audits } = setup();
    // Someone else set the same rate before our first attempt: theirs, not ours to record.
    cxone.campaign = {
      ...cxone.campaign,
      dialerSettings: { ...cxone.campaign.dialerSettings, callRate: 0.8 },
    };
    await run({ patch: { dialerStrategy: { callRate: 0.8 } }, base: { 'dialerStrategy.callRate': 0.5 } });
    // The requester saw 0.8 already: no change at all, on any attempt.
    await run({ patch: { dialerStrategy: { callRate: 0.8 } }, base: { 'dialerStrategy.callRate': 0.8 } }, 2);
    expect(cxone.updates).toEqual([]);
    expect(audits).toEqual([]);
  });

  it('keeps added recipient states off CXone: checks the resume against them, stores them as ours, re-plans on them', async () => {
    const { cxone, run, checked, localWrites, settingsChanges, audits } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'paused' };
    const outcome = await run({ action: 'resume', patch: { recipientStates: ['FL'] } });
    expect(outcome).toMatchObject({ status: 'succeeded', result: { status: 'active' } });
    // CXone is sent the status change only.
    expect(cxone.updates).toEqual([{ status: 'active' }]);
    expect(cxone.campaign.complianceSettings).not.toHaveProperty('recipientStates');
    // Compliance judged the settings step and the resume with Florida bound.
    expect(checked.map((c) => c.recipientStates)).toEqual([['FL'], ['FL']]);
    expect(localWrites).toEqual([expect.objectContaining({ recipientStates: ['FL'] })]);
    expect(settingsChanges).toEqual([['recipientStates']]);
    expect(audits.map((a) => [a.action, a.details?.['scope']])).toEqual([
      ['state_changed', undefined],
      ['settings_changed', 'orchestrator'],
    ]);
  });

  it('finishes, on a retry, an orchestrator-only change an earlier attempt stored but did not follow up', async () => {
    const { run, audits, events, settingsChanges, patches, saved, localWrites } = setup({
      keepsLocal: true,
      failPatches: 1,
    });
    const command = { patch: { recipientStates: ['FL'] } };
    // The states are stored, then joining them into the declared ones fails (a Redis blip): the job
    // retries, and its retry finds them in place.
    await expect(run(command)).rejects.toThrow('Connection is closed.');
    expect(localWrites).toHaveLength(1);
    expect(audits).toEqual([]);

    const outcome = await run({ ...command, ...saved }, 2);
    expect(outcome).toMatchObject({ status: 'succeeded' });
    // Declared, recorded once and marked as found, announced, and window enforcement re-planned.
    expect(patches).toEqual([{ declaredStates: ['FL'] }]);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      action: 'settings_changed',
      dedupeKey: 'command:cmd_1:orchestrator',
      details: {
        scope: 'orchestrator',
        foundApplied: true,
        changes: [{ field: 'recipientStates', from: null, to: ['FL'] }],
      },
    });
    expect(events.map((e) => [e.type, e.data['foundApplied']])).toEqual([
      ['campaign.settings.changed', true],
    ]);
    expect(settingsChanges).toEqual([['recipientStates']]);

    // Saved as recorded: a later attempt (its outcome's write failed, say) does not record it again.
    expect(saved.localRecorded).toBe(true);
    await run({ ...command, ...saved }, 3);
    expect(audits).toHaveLength(1);
    expect(settingsChanges).toHaveLength(1);
  });

  it('does not take orchestrator-only values found in place on a first attempt as its own', async () => {
    const { run, audits, settingsChanges } = setup({ keepsLocal: true });
    await run({ patch: { description: 'Q4 renewals' } });
    expect(audits).toHaveLength(1);
    // A second command asking for the same value, seen before the first landed: nothing of its own.
    await run({ commandId: 'cmd_2', patch: { description: 'Q4 renewals' }, base: { description: null } });
    expect(audits).toHaveLength(1);
    expect(settingsChanges).toHaveLength(1);
  });

  it('applies a new poll interval to a campaign that dials, not to one still waiting for its start', async () => {
    const scheduled = setup();
    scheduled.cxone.campaign = { ...scheduled.cxone.campaign, status: 'scheduled' };
    await scheduled.run({ patch: { pacing: { pollIntervalMs: 30_000 } } });
    // Stored for its activation to use; polling a campaign that places no call would spend the stats
    // budget (and stretch every other campaign's interval) until its start.
    expect(scheduled.localWrites).toEqual([
      expect.objectContaining({ pacing: expect.objectContaining({ pollIntervalMs: 30_000 }) }),
    ]);
    expect(scheduled.pollIntervals).toEqual([]);

    for (const status of ['active', 'paused'] as const) {
      const dialing = setup();
      dialing.cxone.campaign = { ...dialing.cxone.campaign, status };
      await dialing.run({ patch: { pacing: { pollIntervalMs: 30_000 } } });
      expect(dialing.pollIntervals).toEqual([30_000]);
    }
  });

  it('treats an action already in effect as done without writing', async () => {
    const { cxone, run } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'paused' };
    const outcome = await run({ action: 'pause', base: { status: 'active' } });
    expect(outcome).toMatchObject({
      status: 'succeeded',
      result: { alreadyApplied: ['status'], writes: [] },
    });
    expect(cxone.updates).toEqual([]);
  });

  it('carries the safe start in a resume and in a raise of agentCapacity, decided again on each 409', async () => {
    const resume = setup({ carry: true });
    resume.cxone.campaign = { ...resume.cxone.campaign, status: 'paused' };
    expect(await resume.run({ action: 'resume' })).toMatchObject({
      status: 'succeeded',
      result: {
        writes: [
          {
            step: 'status',
            changes: [
              { field: 'status', from: 'paused', to: 'active' },
              { field: 'dialerStrategy.callRate', from: 0.5, to: 0.1 },
            ],
          },
        ],
      },
    });
    expect(resume.cxone.updates).toEqual([{ status: 'active', dialerSettings: { callRate: 0.1 } }]);
    expect(resume.carried).toMatchObject([{ carried: { callRate: 0.1 }, version: 4 }]);

    // Someone lowers the rate to the start between our read and our write: the re-decision on the
    // version after the 409 has nothing left to carry, and the capacity goes alone.
    const raise = setup({ carry: true });
    const original = raise.cxone.updateCampaign.bind(raise.cxone);
    let outside = 1;
    raise.cxone.updateCampaign = async (id, version, body, ...rest) => {
      if (outside-- > 0) {
        const c = raise.cxone.campaign;
        raise.cxone.campaign = {
          ...c,
          version: c.version + 1,
          dialerSettings: { ...c.dialerSettings, callRate: 0.1 },
        };
      }
      return original(id, version, body, ...rest);
    };
    expect(await raise.run({ patch: { dialerStrategy: { agentCapacity: 40 } } })).toMatchObject({
      status: 'succeeded',
      result: {
        rebases: 1,
        writes: [{ changes: [{ field: 'dialerStrategy.agentCapacity', from: 20, to: 40 }] }],
      },
    });
    expect(raise.cxone.updates).toEqual([{ dialerSettings: { agentCapacity: 40 } }]);
    expect(raise.carried).toEqual([]);
    // Without an outside change it carries it, and the audit record lists it with the capacity.
    const plain = setup({ carry: true });
    await plain.run({ patch: { dialerStrategy: { agentCapacity: 40 } } });
    expect(plain.cxone.updates).toEqual([{ dialerSettings: { agentCapacity: 40, callRate: 0.1 } }]);
    expect(plain.audits[0]!.details).toMatchObject({
      changes: [
        { field: 'dialerStrategy.agentCapacity', from: 20, to: 40 },
        { field: 'dialerStrategy.callRate', from: 0.5, to: 0.1 },
      ],
    });
    expect(plain.carried).toHaveLength(1);
  });
});

describe('executeCommand: a pause or a stop that carries a patch', () => {
  /** Loses the answer of the next `n` PATCHes CXone applies, as a timeout or a proxy's 5xx would. */
  function loseAnswers(cxone: InMemoryCxone, n: number) {
    const original = cxone.updateCampaign.bind(cxone);
    let lost = n;
    cxone.updateCampaign = async (id, version, body, ...rest) => {
      const written = await original(id, version, body, ...rest);
      if (lost-- > 0) {
        throw new CxoneUnavailableError('timeout of 10000ms exceeded', {
          endpoint: ENDPOINT,
          campaignId: id,
        });
      }
      return written;
    };
  }

  it.each([
    ['pause', 'paused'],
    ['stop', 'completed'],
  ] as const)(
    '%s: writes the status and the settings in one PATCH, so no version dials at the new rate',
    async (action, to) => {
      const { cxone, run, audits, statusChanges, events } = setup();
      const outcome = await run({ action, patch: { dialerStrategy: { callRate: 0.8 }, name: 'Wound down' } });
      expect(cxone.updates).toEqual([{ name: 'Wound down', dialerSettings: { callRate: 0.8 }, status: to }]);
      const changes = [
        { field: 'name', from: 'Spring renewals', to: 'Wound down' },
        { field: 'dialerStrategy.callRate', from: 0.5, to: 0.8 },
      ];
      expect(outcome).toMatchObject({
        status: 'succeeded',
        result: {
          version: 4,
          status: to,
          writes: [
            { step: 'status', version: 4, changes: [{ field: 'status', from: 'active', to }, ...changes] },
          ],
          alreadyApplied: [],
        },
      });
      // Both records, of the one CXone version, each naming the other part of the same write.
      expect(audits.map((a) => [a.action, a.cxoneVersion])).toEqual([
        ['settings_changed', 4],
        ['state_changed', 4],
      ]);
      expect(audits[0]!.details).toMatchObject({ changes, withStatus: { from: 'active', to } });
      expect(audits[1]!.details).toMatchObject({
        action,
        before: 'active',
        after: to,
        withSettings: changes,
      });
      expect(statusChanges).toEqual([`active->${to}`]);
      expect(events.map((e) => [e.type, e.data['version']])).toEqual([
        ['campaign.settings.changed', 4],
        ['campaign.state.changed', 4],
      ]);
    },
  );

  it('writes nothing when the combined write is refused (a 422, a 403): the campaign keeps dialing as it was', async () => {
    const { cxone, run, audits } = setup();
    // Refuses any write carrying a status, as CXone refuses the settings when they ride with one.
    cxone.failWith = (body) =>
      body.status
        ? new CxoneForbiddenError({ endpoint: ENDPOINT, status: 403, campaignId: 'c1' })
        : undefined;
    const err = await run({ action: 'pause', patch: { dialerStrategy: { callRate: 0.8 } } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PartialFailureError);
    // Nothing of it landed, so nothing to undo: no rollback PATCH, no rollback record.
    expect((err as PartialFailureError).rollback).toBeUndefined();
    expect(cxone.updates).toEqual([]);
    expect(cxone.campaign).toMatchObject({ status: 'active', version: 3, dialerSettings: { callRate: 0.5 } });
    expect(audits).toEqual([]);
  });

  it('is a conflict, with nothing written, when the state forbids the action (no settings written first)', async () => {
    const { cxone, run, audits } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'scheduled' };
    const outcome = await run({ action: 'pause', patch: { dialerStrategy: { callRate: 0.8 } } });
    expect(outcome).toMatchObject({
      status: 'conflict',
      conflict: { conflicts: [{ field: 'status', base: 'scheduled', theirs: 'scheduled' }] },
    });
    expect(outcome).not.toHaveProperty('rollback');
    expect(cxone.updates).toEqual([]);
    expect(audits.map((a) => a.action)).toEqual(['conflict']);
  });

  it('writes the settings alone on a campaign already paused, and takes the pause', async () => {
    const { cxone, run, audits } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'paused' };
    const outcome = await run({ action: 'pause', patch: { dialerStrategy: { callRate: 0.8 } } });
    expect(cxone.updates).toEqual([{ dialerSettings: { callRate: 0.8 } }]);
    expect(outcome).toMatchObject({
      status: 'succeeded',
      result: { status: 'paused', writes: [{ step: 'settings' }], alreadyApplied: ['status'] },
    });
    expect(audits.map((a) => a.action)).toEqual(['settings_changed']);
  });

  it.each([
    ['pause', 'paused'],
    ['stop', 'completed'],
  ] as const)(
    '%s: a lost answer is not undone; the retry finds both parts in place and records them once',
    async (action, to) => {
      const { cxone, run, audits, statusChanges, saved } = setup();
      loseAnswers(cxone, 1);
      const command = { action, patch: { dialerStrategy: { callRate: 0.8 } } };
      const err = await run(command).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PartialFailureError);
      expect((err as PartialFailureError).rollback).toBeUndefined();
      expect(cxone.campaign).toMatchObject({ status: to, dialerSettings: { callRate: 0.8 } });
      expect(audits).toEqual([]);

      // A stop's retry finds a completed campaign: its own write in place, not a campaign closed to it.
      const outcome = await run({ ...command, ...saved }, 2);
      expect(outcome).toMatchObject({
        status: 'succeeded',
        result: { status: to, alreadyApplied: ['dialerStrategy.callRate', 'status'] },
      });
      expect(cxone.updates).toHaveLength(1);
      expect(audits.map((a) => [a.action, a.details?.['foundApplied']])).toEqual([
        ['settings_changed', true],
        ['state_changed', true],
      ]);
      expect(statusChanges).toEqual([`active->${to}`]);
    },
  );

  it('is a conflict when someone else stopped the campaign with other settings', async () => {
    const { cxone, run } = setup();
    cxone.campaign = { ...cxone.campaign, status: 'completed' };
    const outcome = await run({
      action: 'stop',
      patch: { dialerStrategy: { callRate: 0.8 } },
      base: { 'dialerStrategy.callRate': 0.5, status: 'active' },
    });
    expect(outcome).toMatchObject({
      status: 'conflict',
      conflict: { reason: expect.stringMatching(/completed campaign cannot be changed/) },
    });
    expect(cxone.updates).toEqual([]);
  });

  it('rebases the combined write on a 409, deciding the status again on the new version', async () => {
    const { cxone, run } = setup();
    const original = cxone.updateCampaign.bind(cxone);
    let first = true;
    cxone.updateCampaign = async (id, version, body, ...rest) => {
      if (first) {
        // The console pauses it and renames it between our read and our write.
        first = false;
        cxone.campaign = {
          ...cxone.campaign,
          status: 'paused',
          name: 'Console',
          version: cxone.campaign.version + 1,
        };
      }
      return original(id, version, body, ...rest);
    };
    const outcome = await run({ action: 'pause', patch: { dialerStrategy: { callRate: 0.8 } } });
    // Paused meanwhile: the settings go alone; the other field the console changed survives.
    expect(cxone.updates).toEqual([{ dialerSettings: { callRate: 0.8 } }]);
    expect(outcome).toMatchObject({
      status: 'succeeded',
      result: { rebases: 1, alreadyApplied: ['status'] },
    });
    expect(cxone.campaign).toMatchObject({ name: 'Console', status: 'paused' });
  });
});
