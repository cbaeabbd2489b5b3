import type { AuditTrail } from '../audit/types.js';
import type { CampaignConfig, ValidationIssue } from '../campaign-config.js';
import { withAddedStates, type CampaignRecord, type CampaignStore } from '../campaign-store.js';
import type { Clock } from '../clock.js';
import type { CxoneApi } from '../cxone/api.js';
import type { CampaignResource, CampaignStatus, UpdateCampaignRequest } from '../cxone/wire.js';
import { CxoneRateLimitError, CxoneUnavailableError } from '../errors.js';
import type { EventPublisher } from '../events/types.js';
import { namesRequester } from '../api-actor.js';
import { COMPLIANCE_ACTOR } from '../compliance/record.js';
import type { AdjustJob } from '../jobs.js';
import type { Logger } from '../logger.js';
import type { CarriedChange, CarriedSafeStart } from '../pacing/resume.js';
import type {
  CommandRecord,
  CommandResult,
  CommandWrite,
  ConflictReport,
  FieldChange,
  RollbackReport,
} from './commands.js';
import { configFromResource, localPart, type LocalConfig } from './config-view.js';
import { createCommandEffects } from './effects.js';
import type { CampaignLease } from './lock.js';
import {
  campaignPatchSchema,
  captureBase,
  currentValue,
  flattenPatch,
  isEmptyUpdate,
  localChanges,
  wireChanges,
  type FlatChanges,
} from './patch.js';
import {
  baseAfterEarlier,
  heldWhenMade,
  rebaseAction,
  rebaseHeldAction,
  rebaseSettings,
  sameValue,
  withCarriedCallRate,
  type ActionRebase,
  type SettingsRebase,
} from './rebase.js';
import { ownWriteOverwritten, sentChanges, type SentWrite } from './own-write.js';
import { rollbackWrite } from './rollback.js';
import { isRunning, type CampaignAction } from './state-machine.js';
import { DEFAULT_MAX_REBASES, writeVersioned, type VersionedWriteIO } from './versioned-write.js';

export { RebaseExhaustedError } from './versioned-write.js';

/**
 * Compliance's pause or stop (the calling window's at its close, the abandonment guard's, the blind
 * pause): it lands on the campaign as it finds it, whoever resumed it since — an operator's change is
 * not kept over it as a conflict would keep it, or the campaign dials outside its hours or over the
 * cap (docs/compliance.md). Pure.
 */
export function mustLand(job: Pick<AdjustJob, 'actor' | 'action'>): boolean {
  return job.actor === COMPLIANCE_ACTOR && (job.action === 'pause' || job.action === 'stop');
}

/**
 * Carries out one campaign command under the campaign's lock: up to two CXone writes (settings, then
 * status; one carrying both for a pause or a stop), each from a fresh read with If-Match, rebased on
 * 409; the orchestrator-only fields last.
 * A failure after the first write undoes it (rollback) before the error leaves this module, so every
 * attempt is all-or-nothing on CXone.
 */

/** The hooks into other areas the executor calls; injected so the executor is testable alone. */
export interface LifecycleHooks {
  /** Compliance's veto (a resume outside the calling window, …); the refusal reason or null. */
  complianceRefusal(input: {
    action?: CampaignAction;
    reason: string;
    config: CampaignConfig;
    atMs: number;
    /** The close the calling window paused the campaign ahead of, if any (windowClosingAt). */
    closingAt?: number | undefined;
  }): string | null;
  /**
   * The close the calling window paused this campaign ahead of (WindowState.closingAt), if any: until
   * that close the window counts as closed for a resume, here as at the API. Read once per resume.
   */
  windowClosingAt?(campaignId: string): Promise<number | undefined>;
  /**
   * After a status write: start or stop polling and window enforcement. `by`: the command's requester,
   * with `statusAt` when CXone took this run's own status write (absent for a status found in place).
   */
  onStatusChanged(
    campaignId: string,
    from: CampaignStatus,
    to: CampaignStatus,
    by?: { actor: string; reason: string; commandId: string; version: number; statusAt?: string },
  ): Promise<void>;
  /**
   * A command queued on a premise that no longer holds (the calling window's resume of a pause someone
   * else has taken over since): the reason it must not run, or null. Asked before anything is done.
   */
  withdrawn?(command: {
    campaignId: string;
    reason: string;
    action?: CampaignAction | undefined;
  }): Promise<string | null>;
  /**
   * A command that must not run on the campaign as the command's first read found it (a failed
   * launch's cleanup stop of a campaign an operator started in CXone since): the reason it is withdrawn
   * as, or null. Asked once the campaign and its record are read, before anything is written; it
   * records what it decides itself. Not best-effort: should it fail, the command retries.
   */
  withdrawnOnRead?(
    command: {
      campaignId: string;
      commandId: string;
      actor: string;
      reason: string;
      action?: CampaignAction | undefined;
    },
    current: CampaignResource,
    record: CampaignRecord | null,
  ): Promise<string | null>;
  /**
   * A pause command's pause is in place — written, found on a retry, or found already there (by the
   * calling window, say): it is the requester's now. Not best-effort: should it fail, the command
   * retries.
   */
  onPauseTaken?(
    campaignId: string,
    by: {
      actor: string;
      reason: string;
      commandId: string;
      version: number;
      /**
       * When CXone took this run's own status write: the moment the campaign stopped dialing. Absent
       * when the pause was found in place or written by an earlier run.
       */
      statusAt?: string;
    },
  ): Promise<void>;
  /**
   * The command's status was already in place when it came to write it, and no earlier attempt of
   * this command put it there (someone else did, e.g. in CXone's console): nothing was written, but
   * what the command was for may be met (a failed launch's cleanup stop finding the campaign ended).
   */
  onStatusFoundInPlace?(
    campaignId: string,
    status: CampaignStatus,
    by: { actor: string; reason: string; commandId: string; version: number },
  ): Promise<void>;
  /**
   * After a settings write (or its rollback), with the config paths it changed: CXone's settings,
   * or the orchestrator-only ones once stored.
   */
  onSettingsChanged(campaignId: string, fields: string[]): Promise<void>;
  /**
   * The callRate a CXone write must carry although the command did not ask for it (pacing's
   * carriedSafeStart: a resume, or a raise of agentCapacity, of a predictive abandonment-target
   * campaign above its safe start), decided on the version the write is based on, again after every
   * 409. Pure. Absent (tests of the executor alone): nothing is carried.
   */
  carriedSafeStart?(change: CarriedChange): CarriedSafeStart | null;
  /**
   * After a write that carried one: pacing's memory takes the drop and records it (pacing's
   * recordCarriedSafeStart). Best-effort, as every follow-up: CXone already runs at the safe rate.
   */
  onSafeStartCarried?(
    campaignId: string,
    carried: CarriedSafeStart,
    by: { actor: string; reason: string; commandId: string; version: number },
  ): Promise<void>;
  /** After a change of `pacing.pollIntervalMs` on a campaign that dials (active or paused). */
  onPollIntervalChanged(campaignId: string, intervalMs: number): Promise<void>;
  /**
   * The command's first read of the campaign, against the record: a newer version was changed outside
   * the orchestrator since the record was synced (audit/history-sync.ts imports CXone's account of it).
   */
  onCampaignRead?(record: CampaignRecord, version: number): Promise<void>;
  /**
   * A read of the campaign before this run writes (its first, a 409's, a conflict's): what of it is newer
   * than the record as it is now, less what the command's saved sends (`own`: written by an earlier
   * run, its answer lost) set, is announced as changed outside (polling/outside-announce.ts), under
   * the names the poll and a refreshing GET use for that version: one event whoever reads it first.
   * The record is then synced to that read, as the poll's is, so a later read compares with it.
   */
  onOutsideSeen?(campaignId: string, seen: CampaignResource, own: SentWrite[]): Promise<void>;
  /** When compliance vetoed the command as it was applied (a resume that came due after the window closed). */
  onComplianceRefused(
    campaignId: string,
    refusal: { reason: string; actor: string; commandId: string; version: number },
  ): Promise<void>;
}

export interface ExecutorDeps {
  cxone: CxoneApi;
  store: CampaignStore;
  audit: AuditTrail;
  events: EventPublisher;
  logger: Logger;
  clock: Clock;
  hooks: LifecycleHooks;
  /** The outcomes of earlier commands (the queue's `after`); without it their writes read as outside changes. */
  commands?: { get(commandId: string): Promise<CommandRecord | null> };
  /** 409s resolved by rebasing before the attempt gives up (and the job retries later). */
  maxRebases?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export type ExecutionOutcome =
  | { status: 'succeeded'; result: CommandResult }
  | { status: 'conflict'; conflict: ConflictReport; rollback?: RollbackReport }
  | { status: 'failed'; error: { message: string; kind: string }; rollback?: RollbackReport };

/** A CXone error after part of the command was applied; carries what the rollback did. */
export class PartialFailureError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly rollback: RollbackReport | undefined,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'PartialFailureError';
  }
}

export interface CommandRun {
  job: AdjustJob;
  lease: CampaignLease;
  /** 1-based BullMQ attempt number, for CXone error context. */
  attempt: number;
  /**
   * An earlier run of this command started (its record counts it): a retry, a re-run after a 429,
   * or a redelivery after its worker died. BullMQ counts no attempt for the last two, so `attempt`
   * cannot tell, and a write found in place would be taken for someone else's and go unrecorded.
   */
  resumed: boolean;
  /** Persists the base captured at the first read, so later attempts compare with the same values. */
  saveBase(base: Record<string, unknown>, baseVersion: number): Promise<void>;
  /** Persists that the settings write (at this CXone version) is audited, for later attempts. */
  saveSettingsRecorded(version: number): Promise<void>;
  /** Persists that the orchestrator-only fields' write is recorded and followed up, for later attempts. */
  saveLocalRecorded(): Promise<void>;
  /** An earlier run recorded its answered status write (saveStatusRecorded). */
  statusRecorded: boolean;
  /** Persists that the answered status write is recorded and followed up, for later runs. */
  saveStatusRecorded(): Promise<void>;
  /**
   * Persists the safe start the write about to be sent carries (null: none any more), so that a later
   * run finding that write in place, its answer lost, can hand the drop to pacing (`job.carriedSafeStart`).
   */
  saveCarried(carried: SavedCarried | null): Promise<void>;
  /**
   * Persists the CXone write about to be sent (the version its If-Match names, what it sets), so that
   * a later run can tell that write applied and changed by someone since (`job.lastSent`).
   */
  saveSent?(sent: SentWrite, step: 'settings' | 'status'): Promise<void>;
  /**
   * The settings write saved (`job.settingsSent`) was undone by this run: no longer this command's;
   * `alsoLast`: `job.lastSent` is that same write (no status write sent after it), forgotten too.
   */
  forgetSettingsSent?(alsoLast: boolean): Promise<void>;
}

/** What a run saves of a carried safe start before its write (AdjustJob.carriedSafeStart). */
export type SavedCarried = NonNullable<AdjustJob['carriedSafeStart']>;

/** The carried safe start to save for `step`'s write. Pure. */
function toSaved(step: SavedCarried['step'], carried: CarriedSafeStart): SavedCarried {
  const { dialerStrategy, pacing } = carried.config;
  return {
    step,
    callRate: carried.callRate,
    reason: carried.reason,
    config: { dialerStrategy, ...(pacing !== undefined ? { pacing } : {}) },
  };
}

/**
 * The safe start an earlier run's `step` write carried, when `seen` shows it in place (the callRate it
 * carried, dropped from another): that write was applied, its answer lost. Null otherwise. Pure.
 */
export function carriedInPlace(
  saved: SavedCarried | undefined,
  step: SavedCarried['step'],
  seen: CampaignResource,
): CarriedSafeStart | null {
  if (saved?.step !== step) return null;
  const config = saved.config as CarriedSafeStart['config'];
  if (!sameValue(seen.dialerSettings.callRate, saved.callRate)) return null;
  if (sameValue(config.dialerStrategy.callRate, saved.callRate)) return null;
  return { callRate: saved.callRate, reason: saved.reason, config };
}

/**
 * The campaign as this command's settings step must judge it on a later run: when an earlier run's
 * resume is in place with the safe start its status write carried over the callRate the settings
 * write had set (that write applied, its answer lost, or what followed it failed), CXone's callRate is
 * the command's own cap, not someone else's change. Judged as the rate before the cap, the command's
 * callRate reads as written: not sent again over the safe start of a campaign whose agents all just
 * went idle, nor a conflict with the command's own write. Pure.
 */
export function beforeOwnSafeStart(
  job: Pick<AdjustJob, 'action'>,
  resumed: boolean,
  saved: SavedCarried | undefined,
  current: CampaignResource,
): CampaignResource {
  if (!resumed || job.action !== 'resume' || current.status !== 'active') return current;
  const carried = carriedInPlace(saved, 'status', current);
  if (!carried) return current;
  const callRate = carried.config.dialerStrategy.callRate;
  return { ...current, dialerSettings: { ...current.dialerSettings, callRate } };
}

/** The callRate change a carried safe start makes, as a write lists it. */
function carriedChange(carried: CarriedSafeStart): FieldChange {
  return {
    field: 'dialerStrategy.callRate',
    from: carried.config.dialerStrategy.callRate,
    to: carried.callRate,
  };
}

function toChanges(before: Record<string, unknown>, after: FlatChanges): FieldChange[] {
  return Object.entries(after).map(([field, to]) => ({ field, from: before[field] ?? null, to }));
}

type Stop = { kind: 'conflict'; report: ConflictReport } | { kind: 'refused'; reason: string };
type SettingsApply = Extract<SettingsRebase, { kind: 'apply' }>;
/** The status change a pause's or a stop's settings write carries (withStatus below). */
type CarriedStatus = { from: CampaignStatus; target: CampaignStatus };
type SettingsWrite = SettingsApply & { status?: CarriedStatus };
type SettingsStop = Stop | { kind: 'nothing-to-send'; apply: SettingsApply };
type ActionApply = Extract<ActionRebase, { kind: 'apply' }> & { carried: CarriedSafeStart | null };
type ActionStop = Stop | { kind: 'already' };

export async function executeCommand(deps: ExecutorDeps, run: CommandRun): Promise<ExecutionOutcome> {
  const { cxone, store, clock, hooks } = deps;
  const { job, lease } = run;
  const campaignId = job.campaignId;
  const log = deps.logger.child({ commandId: job.commandId, campaignId, fence: lease.token });
  /** Who asked, as the hooks are told, with the version the command's step left or found. */
  const byCommand = (version: number) => ({
    actor: job.actor,
    reason: job.reason,
    commandId: job.commandId,
    version,
  });
  const callOpts = { priority: 'control' as const, campaignId, attempt: run.attempt };
  const io: VersionedWriteIO = {
    cxone,
    lease,
    campaignId,
    callOpts,
    maxRebases: deps.maxRebases ?? DEFAULT_MAX_REBASES,
    sleep: deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    random: deps.random ?? Math.random,
    ...(run.saveSent
      ? {
          beforePatch: async (version: number, body: UpdateCampaignRequest) => {
            lastSentVersion = version;
            ownSent.last = { version, changes: sentChanges(body) };
            await run.saveSent!(ownSent.last, 'status');
          },
        }
      : {}),
    // A 409's re-read is a read before this run writes, as its first read is: announced too.
    onReread: (seen) => sawOutside(seen),
  };
  /** The versions the saved writes named (job.lastSent, job.settingsSent), as this run left them. */
  let lastSentVersion = job.lastSent?.version;
  let settingsSentVersion = job.settingsSent?.version;
  /**
   * The command's sends as a read must leave them out (sawOutside): the saved ones, then this run's own
   * (a write this run made whose sync failed is still behind the record, as an earlier run's would be).
   */
  const ownSent: { settings?: SentWrite | undefined; last?: SentWrite | undefined } = {
    settings: job.settingsSent,
    last: job.lastSent,
  };
  // An undo is no write of the command's own: it must not stand as the write a later run looks for.
  const { beforePatch: _own, ...undoIo } = io;
  // The settings step's write is kept apart too (job.settingsSent): the status write replaces lastSent.
  const settingsIo: VersionedWriteIO = run.saveSent
    ? {
        ...undoIo,
        beforePatch: async (version, body) => {
          lastSentVersion = settingsSentVersion = version;
          ownSent.settings = ownSent.last = { version, changes: sentChanges(body) };
          await run.saveSent!(ownSent.settings, 'settings');
        },
      }
    : io;
  const effects = createCommandEffects({ ...deps, logger: log }, job);
  const nowIso = () => new Date(clock.now()).toISOString();

  // Checked under the campaign's lease, so no other command of this campaign acts in between.
  const withdrawn = (await hooks.withdrawn?.(job)) ?? null;
  if (withdrawn !== null) {
    log.info({ reason: job.reason, action: job.action }, withdrawn);
    return { status: 'failed', error: { kind: 'withdrawn', message: withdrawn } };
  }

  const ours = job.patch ? flattenPatch(campaignPatchSchema.parse(job.patch)) : {};
  let latest = await cxone.getCampaign(campaignId, callOpts);
  const record = await store.get(campaignId);
  const withdrawnNow = (await hooks.withdrawnOnRead?.(job, latest, record)) ?? null;
  if (withdrawnNow !== null) {
    log.info({ reason: job.reason, action: job.action, status: latest.status }, withdrawnNow);
    return { status: 'failed', error: { kind: 'withdrawn', message: withdrawnNow } };
  }
  // The seed's audit records carry the campaign's efficiency when it is known: its last poll's.
  effects.useMetrics(record?.efficiency);
  /** CXone showed `version`: newer than the record's means changed outside (history-sync.ts). */
  const sawVersion = async (version: number) => {
    if (record && hooks.onCampaignRead) {
      await effects.followUp('outside-change', () => hooks.onCampaignRead!(record, version));
    }
  };
  /**
   * A read before this run writes (its first, a 409's re-read, a conflict's): what of it was changed
   * outside is announced (onOutsideSeen).
   */
  const sawOutside = async (seen: CampaignResource) => {
    if (!hooks.onOutsideSeen) return;
    const own = [ownSent.settings, ownSent.last].filter((w): w is SentWrite => w !== undefined);
    await effects.followUp('outside-change', () => hooks.onOutsideSeen!(campaignId, seen, own));
  };
  await sawOutside(latest);
  await sawVersion(latest.version);
  // The orchestrator-only fields, the recipient states among them: every compliance check below reads
  // CXone's settings completed with these.
  const local = localPart(record?.config);

  // The base is what the requester saw; fields it did not capture are taken from this first read and
  // kept for later attempts, so a retry compares against the same values as the first try.
  const requested: Record<string, unknown> = {
    ...captureBase(ours, latest, local),
    status: latest.status,
    ...(job.base ?? {}),
  };
  if (Object.keys(requested).some((k) => !(k in (job.base ?? {})))) {
    await run.saveBase(requested, job.baseVersion ?? latest.version);
  }
  // The requester's own commands queued ahead of this one have run since its base was read (one at a
  // time, in order): what they wrote is what it builds on, so their last accepted change wins.
  // Only the values the requester saw: those this first read took are after the earlier commands.
  const seen = job.base ?? {};
  const base = baseAfterEarlier(
    requested,
    (await earlierChanges(deps, job)).filter((change) => change.field in seen),
  );
  const baseStatus = base['status'] as CampaignStatus;
  // A command whose requester saw its status already in place (a pause taking a pause over) must tell
  // the orchestrator's own later status changes from somebody else's (rebaseHeldAction); read only
  // then. Not compliance's pause or stop: it lands whoever resumed the campaign since (mustLand).
  const held = job.action !== undefined && !mustLand(job) && heldWhenMade(job.action, baseStatus);
  const ownStatuses = held ? await earlierStatuses(deps, job) : new Set<CampaignStatus>();
  const decideAction = (action: CampaignAction, current: CampaignResource) =>
    held
      ? rebaseHeldAction(action, current, baseStatus, ownStatuses)
      : rebaseAction(action, current, baseStatus);

  const writes: CommandWrite[] = [];
  const alreadyApplied: string[] = [];
  let rebases = 0;
  let settingsWrite: CommandWrite | undefined;
  let settings: SettingsApply | undefined;
  /**
   * A pause or a stop writes its status in the same CXone write as its settings (docs/lifecycle.md,
   * "A pause or a stop carries its patch"): sent before the status, a raised callRate or capacity would
   * dial harder for a moment on the way to stopping; sent after it, a stop's could not be written at all
   * (a completed or cancelled campaign takes no change). One If-Match PATCH is one CXone version, so
   * there is no moment at which the settings apply to a campaign still dialing, and nothing of CXone's
   * to undo should the command fail after it. A resume keeps settings first: it is checked against the
   * config they make (widen the window, then resume), and dials only once both are in place.
   */
  const withStatus = job.action === 'pause' || job.action === 'stop' ? job.action : undefined;
  /** Set when the settings write carried the status change: step 2 then has nothing to write. */
  let statusWritten = false;
  /** The safe start the settings write carried, as decided on the version it was written on. */
  let settingsCarried: CarriedSafeStart | null = null;
  /**
   * What this command's runs saved of a carried safe start: an earlier run's, until this run saves its
   * own before a write (only when it changes: most writes carry none, and cost no save).
   */
  let savedCarried = job.carriedSafeStart;
  const saveCarried = async (step: SavedCarried['step'], carried: CarriedSafeStart | null) => {
    const next = carried ? toSaved(step, carried) : undefined;
    if (next === undefined && savedCarried?.step !== step) return;
    if (JSON.stringify(next) === JSON.stringify(savedCarried)) return;
    savedCarried = next;
    await run.saveCarried(next ?? null);
  };
  /** Pacing's side of a safe start a write carried; after the write's own record and follow-ups. */
  const safeStartCarried = (carried: CarriedSafeStart, version: number) =>
    effects.followUp('safe-start', async () => {
      await hooks.onSafeStartCarried?.(campaignId, carried, byCommand(version));
    });

  // A resume queued before the window paused the campaign ahead of its close (or let through by the
  // API in the moment before that pause) would otherwise dial until the close's job paused it again.
  const closingAt =
    job.action === 'resume' && hooks.windowClosingAt ? await hooks.windowClosingAt(campaignId) : undefined;
  const refuse = (action: CampaignAction | undefined, config: CampaignConfig) =>
    hooks.complianceRefusal({
      ...(action ? { action } : {}),
      reason: job.reason,
      config,
      atMs: clock.now(),
      closingAt,
    });
  // Keys the record of a status found in place whose write no saved send names (job.lastSent): its
  // once-name then follows the version found, which a pacing write between two retries moves, and
  // several retries must still leave one record. A write a saved send names is keyed by its once-name,
  // as its answered record is (recordAndAnnounce), so that a run finding its own answered write in
  // place (the earlier run died between the record and the event) does not record it a second time.
  const foundStatusAuditKey = `command:${job.commandId}:status-found`;
  const statusLanded = async (): Promise<boolean> => {
    if (!job.action) return false;
    try {
      const fresh = await cxone.getCampaign(campaignId, callOpts);
      return rebaseAction(job.action, fresh, baseStatus).kind === 'already';
    } catch {
      return false; // unknown: roll back, as for any failed status write
    }
  };
  /**
   * The trace of a status change: audit record, event and follow-ups (polling, window enforcement).
   * `found`: seen in place on a retry rather than answered, marked so and recorded once per command.
   */
  const recordStatusChange = async (
    action: CampaignAction,
    from: CampaignStatus,
    resource: CampaignResource,
    found: boolean,
    carried: CarriedSafeStart | null = null,
    /** The settings written in the same CXone write (a pause's or a stop's patch). */
    same: { withSettings?: FieldChange[] } = {},
  ) => {
    const to = resource.status;
    const mark = found ? { foundApplied: true } : {};
    // The callRate the write carried with the status (a resume's safe start) is part of this write.
    const callRate = carried
      ? {
          callRate: {
            from: carried.config.dialerStrategy.callRate,
            to: resource.dialerSettings.callRate,
            reason: carried.reason,
          },
        }
      : {};
    // The event is named by the command and the version its status write made, so that a later run
    // recording the same write (its worker died after this and before saveStatusRecorded, or recorded
    // it as found without saving that) repeats its id; a write of its own sent again (compliance's
    // pause landing over a resume made since) makes another version, and its own event.
    const once = `command:${job.commandId}:status:${statusWriteVersion(job.lastSent, resource, found)}`;
    const made = await effects.recordAndAnnounce(
      once,
      found,
      {
        action: 'state_changed',
        details: { action, before: from, after: to, ...callRate, ...same, ...(found ? mark : { rebases }) },
        cxoneVersion: resource.version,
        ...(found && !sentStatusFound(job.lastSent, resource) ? { dedupeKey: foundStatusAuditKey } : {}),
      },
      // `reason` tells a receiver an operator's pause from compliance's (the documented field).
      {
        type: 'campaign.state.changed',
        data: { action, from, to, version: resource.version, reason: job.reason, ...mark },
      },
    );
    if (!made) {
      log.info({ version: resource.version }, 'status change found in place was recorded by an earlier run');
    }
    // When CXone took this run's own status write (listed before it is recorded); none for one found.
    const statusAt = found ? undefined : writes.find((w) => w.step === 'status')?.at;
    await effects.followUp('status', () =>
      hooks.onStatusChanged(campaignId, from, to, {
        ...byCommand(resource.version),
        ...(statusAt !== undefined ? { statusAt } : {}),
      }),
    );
  };
  /**
   * The trace of a CXone settings write, as recordStatusChange is of a status change; saved as
   * recorded for later attempts (whose status write may still fail), so none records it again.
   * `found`: seen in place on a retry rather than answered, marked so and recorded once per command.
   * Saved as recorded only once announced: a run that died between the two left later runs skipping
   * the write as recorded, its event lost for good. Announced, it is not recorded or told again.
   */
  const recordSettingsChange = async (
    changes: FieldChange[],
    resource: CampaignResource,
    found: boolean,
    /** The status change written in the same CXone write (a pause's or a stop's). */
    same: { withStatus?: { from: CampaignStatus; to: CampaignStatus } } = {},
  ) => {
    const mark = found ? { foundApplied: true } : {};
    await effects.sync(resource);
    // Named by the command and the version its write made: the one after the version its saved send
    // named (job.settingsSent), alike whether answered or found in place (the version found may be
    // later: a pacing write since); a settings write sent again after an undo makes its own.
    // Recorded under that name too (recordAndAnnounce), answered or found, so that a run that died
    // between the record and the event leaves one record; a write found with no saved send to name
    // it keeps one key per command, its version being the one found (foundStatusAuditKey).
    const once = `command:${job.commandId}:settings:${settingsSentVersion !== undefined ? settingsSentVersion + 1 : resource.version}`;
    const made = await effects.recordAndAnnounce(
      once,
      found,
      {
        action: 'settings_changed',
        details: { changes, scope: 'cxone', ...same, ...(found ? mark : { rebases }) },
        cxoneVersion: resource.version,
        ...(found && settingsSentVersion === undefined
          ? { dedupeKey: `command:${job.commandId}:settings-found` }
          : {}),
      },
      { type: 'campaign.settings.changed', data: { changes, version: resource.version, ...mark } },
    );
    if (!made) {
      log.info({ version: resource.version }, 'settings found in place were recorded by an earlier run');
    }
    await run.saveSettingsRecorded(resource.version);
    const fields = changes.map((c) => c.field);
    await effects.followUp('settings', () => hooks.onSettingsChanged(campaignId, fields));
  };
  /**
   * The CXone settings an earlier run of this command wrote and left in place, as `seen` shows them:
   * that run's status write met a 429 (not undone, on purpose), lost its answer, or its worker died.
   * A run that stops or fails undoes them as the run that wrote them would have, so a command is
   * all-or-nothing on CXone across its runs, not only within one.
   */
  let earlierWrite: FieldChange[] = [];
  /** The outcome's entry for `earlierWrite`, when this run found it and wrote nothing over it. */
  let earlierListed: CommandWrite | undefined;
  const earlierSettings = (seen: CampaignResource): FieldChange[] => {
    if (!run.resumed) return [];
    const inPlace = settingsInPlace(ours, base, seen, local);
    // The safe start that write carried is part of it: listed with it, undone with it.
    const carried = inPlace.length > 0 ? carriedInPlace(savedCarried, 'settings', seen) : null;
    return carried ? [...inPlace, carriedChange(carried)] : inPlace;
  };
  /**
   * Whether `earlierWrite` is half of a command, to undo should this run fail. Not for a pause or a
   * stop found in effect: its settings were written with that status (one CXone write, or alone on a
   * campaign already paused or ended), so nothing of it is half-done; undone, they would leave the
   * pause or the stop in place without them, the state its one write exists to rule out.
   */
  let earlierHalfDone = false;
  const earlierFound = (seen: CampaignResource) => {
    earlierWrite = earlierSettings(seen);
    earlierHalfDone = !(withStatus && rebaseAction(withStatus, seen, baseStatus).kind === 'already');
  };
  const undoable = () => settingsWrite?.changes ?? (earlierHalfDone ? earlierWrite : []);
  const undo = async (): Promise<RollbackReport | undefined> => {
    if (undoable().length === 0) return undefined;
    const report = await rollbackWrite(undoIo, effects, undoable(), local, (fields) =>
      hooks.onSettingsChanged(campaignId, fields),
    );
    log.warn({ rollback: report }, 'rolled back the first part of a command that failed half-way');
    // Put back by this run: a later run finding those fields at the requester's values again must not
    // take that for someone else's revert of this command's write (job.settingsSent). Only when this
    // run wrote them back: found back already, someone else did, and a later run must be told.
    if (report.outcome === 'restored' && settingsSentVersion !== undefined && run.forgetSettingsSent) {
      const alsoLast = lastSentVersion === settingsSentVersion;
      settingsSentVersion = ownSent.settings = undefined;
      if (alsoLast) lastSentVersion = ownSent.last = undefined;
      await run.forgetSettingsSent(alsoLast).catch((err: unknown) => {
        log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'could not note that the settings write was undone; a later run may stop on a conflict with its own undo',
        );
      });
    }
    return report;
  };
  const stopped = async (
    stop: Stop,
    seen: CampaignResource,
    rb?: RollbackReport,
  ): Promise<ExecutionOutcome> => {
    const extra = rb ? { rollback: rb } : {};
    if (stop.kind === 'refused') {
      await effects.followUp('compliance', () =>
        hooks.onComplianceRefused(campaignId, {
          reason: stop.reason,
          actor: job.actor,
          commandId: job.commandId,
          version: seen.version,
        }),
      );
      return { status: 'failed', error: { kind: 'compliance_refused', message: stop.reason }, ...extra };
    }
    // CXone wins a conflict, so the record shows what CXone holds now, not what it held before the
    // outside change (until the next poll, which may be a while for a paused campaign). The change
    // that caused it was made outside, and the sync hides it from every later read: announced and
    // imported now (announced only while the record is behind it: an undo synced since is newer).
    await sawOutside(seen);
    await sawVersion(seen.version);
    await effects.sync(seen);
    await effects.audit('conflict', { ...stop.report, ...extra }, stop.report.version);
    log.warn({ conflict: stop.report }, 'command stopped by a conflict; nothing overwritten');
    return { status: 'conflict', conflict: stop.report, ...extra };
  };

  try {
    // An earlier run's write that CXone applied (its answer lost, or a later step failed) and someone
    // changed since, back to what the requester saw say: it reads as untouched, and writing it again
    // would silently overwrite their change. A conflict instead; what of the command is still in place
    // is undone, as for any conflict of a later run.
    if (run.resumed && !mustLand(job)) {
      // The history walk starts where the audit's last import of it ended, when that is not past it.
      const historyMark =
        record?.historyResumeCursor !== undefined && record.historyImportedVersion !== undefined
          ? { cursor: record.historyResumeCursor, version: record.historyImportedVersion }
          : undefined;
      const overwritten = await ownWriteOverwritten(
        { ...io, historyMark },
        [job.settingsSent, job.lastSent],
        latest,
        base,
        ours,
      );
      if (overwritten) {
        earlierFound(beforeOwnSafeStart(job, run.resumed, savedCarried, latest));
        const rolledBack = await undo();
        // The status that write set, still in place (a pause's, whose patch rode the same write): the
        // command's own change all the same, recorded as found with its follow-ups, so that the trail,
        // the events and the calling window hear of it (the conflict's sync hides it from the poll).
        const sentStatus = job.lastSent?.changes['status'];
        if (
          job.action &&
          !run.statusRecorded &&
          sentStatus !== undefined &&
          latest.status === sentStatus &&
          latest.status !== baseStatus
        ) {
          await recordStatusChange(job.action, baseStatus, latest, true);
          if (job.action === 'pause' && hooks.onPauseTaken) {
            await hooks.onPauseTaken(campaignId, byCommand(latest.version));
          }
          await run.saveStatusRecorded();
        }
        return await stopped({ kind: 'conflict', report: overwritten }, latest, rolledBack);
      }
    }

    // Step 1: the settings CXone holds (orchestrator-only fields wait until every CXone write succeeded).
    if (Object.keys(ours).length > 0) {
      const result = await writeVersioned<SettingsWrite, SettingsStop>(
        settingsIo,
        latest,
        (current) => {
          settingsCarried = null; // decided again on every version read (after a 409)
          const decision = rebaseSettings({
            ours,
            base,
            latest: beforeOwnSafeStart(job, run.resumed, savedCarried, current),
            local,
            ...(withStatus === 'stop' ? { stopping: true } : {}),
            action: job.action,
          });
          if (decision.kind === 'conflict') return { stop: { kind: 'conflict', report: decision.report } };
          if (decision.kind === 'invalid') {
            return {
              stop: { kind: 'conflict', report: invalidReport(decision.reason, decision.issues, current) },
            };
          }
          const refusal = refuse(job.action, decision.merged);
          if (refusal) return { stop: { kind: 'refused', reason: refusal } };
          // A pause or a stop the latest state forbids is a conflict before anything is written, as it
          // would be at step 2; one already in effect leaves the settings to write alone.
          const action = withStatus ? decideAction(withStatus, current) : undefined;
          if (action?.kind === 'conflict') return { stop: { kind: 'conflict', report: action.report } };
          if (isEmptyUpdate(decision.body)) return { stop: { kind: 'nothing-to-send', apply: decision } };
          const status = action?.kind === 'apply' ? { from: action.from, target: action.target } : undefined;
          // A raise of agentCapacity leaves the new agents idle at once: the write carries the safe start.
          // Judged on the status the write leaves: a paused or ended campaign dials no one.
          const before = configFromResource(current, local);
          const carried =
            hooks.carriedSafeStart?.({
              kind: 'settings',
              status: status ? status.target : current.status,
              before,
              after: decision.merged,
              setsCallRate: 'dialerStrategy.callRate' in ours,
            }) ?? null;
          const apply =
            carried === null
              ? decision
              : withCarriedCallRate(decision, carried.callRate, before.dialerStrategy.callRate);
          settingsCarried = carried;
          return status
            ? { write: { ...apply.body, status: status.target }, meta: { ...apply, status } }
            : { write: apply.body, meta: apply };
        },
        () => saveCarried('settings', settingsCarried),
      );
      rebases += result.rebases;
      if (result.kind === 'stopped') {
        // An earlier run's settings write is listed (and undone) at the rate it wrote, not its own cap.
        earlierFound(beforeOwnSafeStart(job, run.resumed, savedCarried, result.latest));
        if (result.stop.kind !== 'nothing-to-send') {
          return await stopped(result.stop, result.latest, await undo());
        }
        settings = result.stop.apply;
        latest = result.latest;
        // Not when an earlier attempt's write was answered and audited (its status write then failed).
        const found =
          run.resumed && job.settingsRecordedVersion === undefined
            ? foundSettings(ours, base, settings.alreadyApplied)
            : [];
        if (found.length > 0) {
          // As for a status found in place (below): most likely an earlier attempt's PATCH whose
          // answer was lost. Recorded once per command, marked as found, with its follow-ups — and
          // the safe start it carried (saved before it was sent) listed and handed to pacing.
          const carried = carriedInPlace(savedCarried, 'settings', latest);
          await recordSettingsChange(carried ? [...found, carriedChange(carried)] : found, latest, true);
          if (carried) await safeStartCarried(carried, latest.version);
        }
        if (earlierWrite.length > 0) {
          // The command's own change all the same, so the outcome lists it: the requester's next
          // command builds its base on these writes (earlierChanges), and would otherwise take this
          // change for someone else's and stop with a conflict against its own earlier command.
          earlierListed = {
            step: 'settings',
            version: job.settingsRecordedVersion ?? latest.version,
            changes: earlierWrite,
            at: nowIso(),
          };
          writes.push(earlierListed);
        }
      } else if (result.meta.status) {
        // One CXone write, one version: the status change and the settings landed together. Nothing of
        // it is left to undo should what follows fail (settingsWrite stays unset): a retry finds both
        // in place. Listed as the status write whose changes include the settings, as a resume's
        // carried safe start is; both records name the other part of the same write.
        const { status, ...apply } = result.meta;
        settings = apply;
        latest = result.resource;
        statusWritten = true;
        const settingsChanges = toChanges(settings.before, settings.wire);
        const statusChange: FieldChange = { field: 'status', from: status.from, to: latest.status };
        writes.push({
          step: 'status',
          version: latest.version,
          changes: [statusChange, ...settingsChanges],
          at: nowIso(),
        });
        await recordSettingsChange(settingsChanges, latest, false, {
          withStatus: { from: status.from, to: latest.status },
        });
        await recordStatusChange(withStatus!, status.from, latest, false, null, {
          withSettings: settingsChanges,
        });
        await run.saveStatusRecorded();
      } else {
        settings = result.meta;
        latest = result.resource;
        settingsWrite = {
          step: 'settings',
          version: latest.version,
          changes: toChanges(settings.before, settings.wire),
          at: nowIso(),
        };
        writes.push(settingsWrite);
        await recordSettingsChange(settingsWrite.changes, latest, false);
        if (settingsCarried) await safeStartCarried(settingsCarried, latest.version);
      }
      alreadyApplied.push(...settings.alreadyApplied);
    }

    // Step 2: the status change, checked against the config this command's settings make (its
    // orchestrator-only fields, added recipient states say, are stored only after this step).
    const action = job.action;
    const actionLocal = settings ? localPart(settings.merged) : local;
    if (action && !statusWritten) {
      const result = await writeVersioned<ActionApply, ActionStop>(
        io,
        latest,
        (current) => {
          const decision = decideAction(action, current);
          if (decision.kind === 'conflict') return { stop: { kind: 'conflict', report: decision.report } };
          if (decision.kind === 'already') return { stop: { kind: 'already' } };
          const config = configFromResource(current, actionLocal);
          const refusal = refuse(action, config);
          if (refusal) return { stop: { kind: 'refused', reason: refusal } };
          // A resume finds every agent idle: it carries the safe start in the same write, as an activation
          // does, whether or not a poll saw the campaign paused (docs/lifecycle.md).
          const carried =
            action === 'resume'
              ? (hooks.carriedSafeStart?.({
                  kind: 'resume',
                  status: current.status,
                  before: config,
                  after: config,
                  setsCallRate: false,
                }) ?? null)
              : null;
          const write = carried
            ? { status: decision.target, dialerSettings: { callRate: carried.callRate } }
            : { status: decision.target };
          // The check above is made when the command runs, the write sent when the fleet's budget
          // allows: a resume is checked again then, so a wait past the close (or into its last 30 s)
          // is refused as if it had run then (docs/compliance.md).
          const atSend =
            action === 'resume'
              ? (): ActionStop | null => {
                  const late = refuse(action, config);
                  return late === null ? null : { kind: 'refused', reason: late };
                }
              : undefined;
          return { write, meta: { ...decision, carried }, atSend };
        },
        (meta) => saveCarried('status', meta.carried),
      );
      rebases += result.rebases;
      if (result.kind === 'stopped') {
        if (result.stop.kind !== 'already') return await stopped(result.stop, result.latest, await undo());
        alreadyApplied.push('status');
        latest = result.latest;
        if (run.statusRecorded) {
          // An earlier run heard back and recorded it, then failed on what follows (the pause's
          // hand-over, the orchestrator-only fields) or died there: on record already.
        } else if (run.resumed && latest.status !== baseStatus) {
          // Found in place on a later run: most likely an earlier run's write whose answer was lost
          // (a timeout or a 5xx after CXone committed it, or its worker died), which left no record. Recorded now, marked
          // as found, and followed up, so polling and calling-window enforcement follow the status;
          // the safe start it carried (saved before it was sent) is named and handed to pacing, once.
          const carried = carriedInPlace(savedCarried, 'status', latest);
          await recordStatusChange(action, baseStatus, latest, true, carried);
          if (carried) {
            await safeStartCarried(carried, latest.version);
            await run.saveStatusRecorded();
          }
        } else if (hooks.onStatusFoundInPlace) {
          const found = latest;
          await effects.followUp('status', () =>
            hooks.onStatusFoundInPlace!(campaignId, found.status, byCommand(found.version)),
          );
        }
      } else {
        const { from, carried } = result.meta;
        latest = result.resource;
        const changes: FieldChange[] = [{ field: 'status', from, to: latest.status }];
        if (carried) {
          changes.push({
            field: 'dialerStrategy.callRate',
            from: carried.config.dialerStrategy.callRate,
            to: latest.dialerSettings.callRate,
          });
        }
        writes.push({ step: 'status', version: latest.version, changes, at: nowIso() });
        await effects.sync(latest);
        await recordStatusChange(action, from, latest, false, carried);
        if (carried) await safeStartCarried(carried, latest.version);
        await run.saveStatusRecorded();
      }
    }
    if (action === 'pause' && latest.status === 'paused' && hooks.onPauseTaken) {
      const statusAt = writes.find((w) => w.step === 'status')?.at;
      await hooks.onPauseTaken(campaignId, {
        ...byCommand(latest.version),
        ...(statusAt !== undefined ? { statusAt } : {}),
      });
    }
  } catch (err) {
    // A 429 wrote nothing, and the job is re-run after the penalty without spending an attempt; the
    // re-run finds the first write in place and goes on with the second. Undoing it would spend two
    // more PATCHes on the endpoint CXone is rate limiting, and double the wait, for no safety gain.
    if (err instanceof CxoneRateLimitError) throw err;
    // A timeout or a 5xx can come after CXone committed the status write. With the status we asked
    // for in place, undoing the settings would leave exactly the half-state a two-step command exists
    // to prevent (resumed at the old rate, say); the retry finds both parts applied and records them.
    if (undoable().length > 0 && err instanceof CxoneUnavailableError && (await statusLanded())) {
      log.warn(
        { err: err.message },
        'the status write may have been applied without an answer; not rolling back',
      );
      throw new PartialFailureError(err, undefined);
    }
    throw new PartialFailureError(err, await undo());
  }

  // Orchestrator-only fields go last: CXone's part is done, so there is nothing left to undo.
  // On a retry, those found at the value asked for where the requester saw another are this command's
  // own: an earlier attempt stored them and failed before what follows (joining the declared states,
  // the record, the re-plan) was done. Unless that attempt got to the end of it.
  const localFound =
    settings && run.resumed && !job.localRecorded
      ? localChanges(foundFields(ours, base, settings.alreadyApplied))
      : {};
  const found = Object.keys(localFound).length > 0;
  const localApplied = { ...localFound, ...(settings?.local ?? {}) };
  if (settings && Object.keys(localApplied).length > 0) {
    const before = Object.fromEntries(Object.keys(localApplied).map((f) => [f, base[f] ?? null]));
    const changes = toChanges(before, localApplied);
    // Not best-effort: if this write fails the job retries, and the CXone part is then already applied.
    await store.updateLocalConfig(latest, localPart(settings.merged));
    writes.push({ step: 'orchestrator', version: latest.version, changes, at: nowIso() });
    // Added states also join the declared ones, which only grow: the config itself is rewritten by
    // every sync from the copy that sync read, and one that read before this write would drop them.
    // Compared with the declared list itself, not the config it is joined into on read: on a retry
    // that config already holds the states the earlier attempt stored.
    const added = localApplied['recipientStates'];
    if (record && Array.isArray(added)) {
      const declared = withAddedStates(record.declaredStates ?? [], [
        ...new Set([...(record.config.recipientStates ?? []), ...(added as string[])]),
      ]);
      if (declared) await store.patch(campaignId, { declaredStates: declared });
    }
    const mark = found ? { foundApplied: true } : {};
    // One write of these fields per command: a later run finding them (its worker died before
    // saveLocalRecorded) repeats this event's id and is not published again — nor recorded again,
    // answered or found, by the record's dedupe key (the same name, recordAndAnnounce).
    await effects.recordAndAnnounce(
      `command:${job.commandId}:orchestrator`,
      found,
      {
        action: 'settings_changed',
        details: { changes, scope: 'orchestrator', ...mark },
        cxoneVersion: latest.version,
      },
      { type: 'campaign.settings.changed', data: { changes, version: latest.version, ...mark } },
    );
    // Added recipient states narrow the legal hours, so window enforcement re-plans on them too.
    const fields = Object.keys(localApplied);
    await effects.followUp('settings', () => hooks.onSettingsChanged(campaignId, fields));
    // Only a campaign that dials is polled: a scheduled one gets the interval at its activation, which
    // reads it from the record (polling it now would spend the stats budget until its start).
    const interval = localApplied['pacing.pollIntervalMs'];
    if (typeof interval === 'number' && isRunning(latest.status)) {
      await effects.followUp('poll-interval', () => hooks.onPollIntervalChanged(campaignId, interval));
    }
    await run.saveLocalRecorded();
  } else if (writes.length === (earlierListed ? 1 : 0)) {
    // Nothing written: still refresh the record from the read (CXone always wins).
    await effects.sync(latest);
  }

  // A 409 resolved by rebasing means someone wrote between this command's read and its write: a change
  // made outside the orchestrator (commands of one campaign run one at a time) that the first read's
  // check could not see, and that the sync above has since hidden from every later read.
  if (rebases > 0) await sawVersion(latest.version);

  return {
    status: 'succeeded',
    result: { version: latest.version, status: latest.status, writes, alreadyApplied, rebases },
  };
}

/**
 * The CXone version the command's status write made: the one answered, or, for a status found in place,
 * the one after the version the last write sent named (own-write.ts: the one write that can follow it)
 * when that write set this status — the version found may be later (a pacing write since). Pure.
 */
export function statusWriteVersion(
  lastSent: SentWrite | undefined,
  resource: CampaignResource,
  found: boolean,
): number {
  if (found && sentStatusFound(lastSent, resource)) return lastSent!.version + 1;
  return resource.version;
}

/** Whether the last write sent set the status `resource` holds: a status found is that write's. Pure. */
export function sentStatusFound(lastSent: SentWrite | undefined, resource: CampaignResource): boolean {
  return lastSent !== undefined && lastSent.changes['status'] === resource.status;
}

/**
 * The CXone settings of this command found already in place on a retry although the requester saw
 * other values: the change an earlier attempt made without hearing back. A field the requester already
 * saw at the wanted value was no change at all, and orchestrator-only fields are written after every
 * CXone write (never half-way), so neither counts.
 */
function foundSettings(
  ours: FlatChanges,
  base: Record<string, unknown>,
  alreadyApplied: readonly string[],
): FieldChange[] {
  const found = wireChanges(foundFields(ours, base, alreadyApplied));
  return Object.entries(found).map(([field, to]) => ({ field, from: base[field] ?? null, to }));
}

/** The CXone settings of this command `seen` holds at the value asked for where the requester saw another. */
function settingsInPlace(
  ours: FlatChanges,
  base: Record<string, unknown>,
  seen: CampaignResource,
  local: LocalConfig,
): FieldChange[] {
  return Object.entries(wireChanges(ours))
    .filter(
      ([field, to]) =>
        field in base && !sameValue(base[field], to) && sameValue(currentValue(field, seen, local), to),
    )
    .map(([field, to]) => ({ field, from: base[field] ?? null, to }));
}

/** The fields found at the value asked for although the requester saw another (its base). */
function foundFields(
  ours: FlatChanges,
  base: Record<string, unknown>,
  alreadyApplied: readonly string[],
): FlatChanges {
  return Object.fromEntries(
    alreadyApplied
      .filter((field) => field in base && !sameValue(base[field], ours[field]))
      .map((field) => [field, ours[field]]),
  );
}

/**
 * The statuses the orchestrator set since the requester looked: those the requester's own earlier
 * commands (queued ahead of this one, succeeded) wrote, and the automation's (pacing, compliance: any
 * reason but an operator's). Another operator's are somebody else's decision, as a console change is.
 */
async function earlierStatuses(
  deps: ExecutorDeps,
  job: Pick<AdjustJob, 'actor' | 'after'>,
): Promise<Set<CampaignStatus>> {
  if (!job.after?.length || !deps.commands) return new Set();
  const records = await Promise.all(job.after.map((id) => deps.commands!.get(id)));
  return new Set(
    records.flatMap((r) =>
      r?.status === 'succeeded' && (r.actor === job.actor || r.reason !== 'operator')
        ? (r.result?.writes ?? [])
            .flatMap((w) => w.changes)
            .filter((c) => c.field === 'status')
            .map((c) => c.to as CampaignStatus)
        : [],
    ),
  );
}

/**
 * The changes the requester's own earlier commands made (queued ahead of this one, succeeded), oldest
 * first. Another requester's are someone else's: one who read the campaign before that change landed
 * and sets the same field is told (a conflict), not left to overwrite it unseen. Callers known only by
 * the shared token may be several people, so theirs count as someone else's too.
 */
async function earlierChanges(
  deps: ExecutorDeps,
  job: Pick<AdjustJob, 'actor' | 'after'>,
): Promise<FieldChange[]> {
  if (!job.after?.length || !deps.commands || !namesRequester(job.actor)) return [];
  const records = await Promise.all(job.after.map((id) => deps.commands!.get(id)));
  return records.flatMap((r) =>
    r?.status === 'succeeded' && r.actor === job.actor
      ? (r.result?.writes ?? []).flatMap((w) => w.changes)
      : [],
  );
}

function invalidReport(reason: string, issues: ValidationIssue[], latest: CampaignResource): ConflictReport {
  return {
    reason: `${reason}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
    conflicts: [],
    issues,
    version: latest.version,
    status: latest.status,
  };
}
