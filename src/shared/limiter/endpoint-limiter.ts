import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Bottleneck from '@maselious/bottleneck';
import type { CallPriority } from '../cxone/api.js';
import type { Logger } from '../logger.js';
import { limiterBudgetLeft, registerBudgetReader } from '../metrics.js';
import { isOperatorCall, OperatorMetrics } from './operator-metrics.js';
import type { ScriptedRedis } from './scripts.js';
import { operatorSlots, type EndpointSpacing } from './spacing.js';
import {
  LimiterAbortedError,
  LimiterClosedError,
  LimiterUnavailableError,
  LimiterWaitExceededError,
  type LimiterWaitReason,
  type ScheduleOptions,
} from './types.js';

/** A waiting control call is visible to the fleet for this long unless refreshed (a crashed process's entries lapse). */
const CONTROL_TTL_MS = 15_000;
/** One waiting call. */
interface Call {
  priority: CallPriority;
  /** Its entry in the registry of waiting control calls (prefixed with this process's id). */
  member: string;
  /** True while its waiting-control mark may be in Redis. */
  marked: boolean;
  /** True once the mark was removed after the permit (a later pass does not mark again). */
  unmarked?: boolean;
  /** Aborted when the call stops waiting (limiter closed, caller aborted, deadline); reason = the error to throw. */
  signal: AbortSignal;
  /** Epoch ms by which the permit must be granted; undefined = wait as long as it takes. */
  deadline: number | undefined;
  /** The caller may stop waiting before its permit comes (a deadline or its own signal). */
  abortable: boolean;
  maxWaitMs: number;
  /** Epoch ms the endpoint's penalty was last seen to end, for the Retry-After of a timed-out wait. */
  penaltyUntil: number;
  /** True while its entry in the registry of waiting operators' calls may be in Redis (see operatorLoop). */
  operatorWaiting?: boolean;
  /** An operator's call that found the operators' share spent and queued with the jobs (for its metric). */
  operatorShareSpent?: boolean;
}

/** Slots of one lease: spendable until `endsAt` (the end of the permit's time slice). */
interface Lease {
  left: number;
  endsAt: number;
}

/** A call waiting in permit(): served by its own Bottleneck job, or by one whose caller stopped waiting. */
interface PermitRequest {
  priority: CallPriority;
  /** Waits through the shared job (see permit). */
  abortable: boolean;
  serve: () => void;
  fail: (err: unknown) => void;
}

/**
 * One holder at a time, the others queued in order. A waiter whose signal aborts leaves the queue,
 * so the turn is never handed to a call that stopped waiting.
 */
class Turn {
  private busy = false;
  private readonly waiters: Array<() => void> = [];

  async take(signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason as Error;
    if (!this.busy) {
      this.busy = true;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal.reason as Error);
      };
      const waiter = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.busy = false;
  }

  /** Closing: every waiter goes on (and finds the limiter closed). */
  wakeAll(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** Local Bottleneck priorities (0 is served first). */
const BOTTLENECK_PRIORITY: Record<CallPriority, number> = { control: 0, poll: 5 };

export interface EndpointLimiterDeps {
  endpoint: string;
  /** Hash-tagged base key, e.g. `{cxo}:limiter:GET_/api/v2/...`; also the Bottleneck id. */
  baseKey: string;
  spacing: EndpointSpacing;
  redis: ScriptedRedis;
  /** One Bottleneck connection per lane (`spacing.lanes`; see EndpointSpacing.lanes). */
  connections: readonly Bottleneck.IORedisConnection[];
  /** Unique per process; prefixes this process's entries in the shared control registry. */
  clientId: string;
  logger: Logger;
  signal: AbortSignal;
  /** How long Redis may be down (or failing) before a waiting call gives up with LimiterUnavailableError. */
  outageMaxMs: number;
  /** How long the limiter's Redis connection has been down; 0 while it is up. */
  redisDownForMs(): number;
}

/**
 * Stops a Bottleneck instance for good: queued and not-yet-fired permits are dropped (their waiters
 * are released by the abort signal or retry on a fresh instance; slots they held in Redis are
 * reclaimed by permit expiration), then it leaves the shared connection. Never rejects.
 */
async function retire(limiter: Bottleneck): Promise<void> {
  // Each step talks to Redis; with Redis down it would wait forever, so each is bounded. Start-up is
  // let finish first: disconnecting under it leaves its in-flight commands rejecting unhandled.
  await Promise.race([limiter.ready().catch(() => undefined), sleep(1_000)]);
  // Through a promise: on a shared connection Bottleneck's disconnect returns none (its __removeLimiter__
  // is a forEach), started or not; `.catch` on it threw, so every retire() rejected (unhandled in recreate).
  const settle = (step: () => unknown) =>
    Promise.resolve()
      .then(step)
      .catch(() => undefined);
  await Promise.race([settle(() => limiter.stop({ dropWaitingJobs: true })), sleep(1_000)]);
  await Promise.race([settle(() => limiter.disconnect(false)), sleep(1_000)]);
}

function isClusterStateLost(err: unknown): boolean {
  return err instanceof Error && /SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT/.test(err.message);
}

/**
 * How long Bottleneck's keys (`b_<prefix>…`) outlive the last permit asked of them. Without a TTL they
 * stayed for ever under a prefix no fleet uses any more (a renamed KEY_PREFIX, a retired tenant). Every
 * permit request and every process start refreshes it; a limiter whose keys lapsed over a quiet day
 * makes them again at its next call (Bottleneck initialises afresh when its settings key is gone, and
 * registers its client again), and nothing is held in them after a day without a call.
 */
export const BOTTLENECK_IDLE_TTL_MS = 24 * 60 * 60_000;

/**
 * One CXone endpoint's share of the fleet limiter. A call gets through in three steps:
 * 1. a Bottleneck permit: the clustered limiter (minTime, maxConcurrent in Redis) hands out slots
 *    evenly spaced over the window; the permit is only the slot, the HTTP call runs outside it, so
 *    maxConcurrent bounds the promised-but-unused slots rather than CXone latency;
 * 2. polls queue locally, one at a time per process, and only while no other process has a control
 *    call waiting (a Redis registry of waiting control calls) — that is what makes control go first
 *    across the fleet, Bottleneck priorities only order the local queue;
 * 3. a hard check in Redis (sliding window over windowMs + margin, and the 429 penalty) before the
 *    call starts, so that no timing accident can exceed the budget.
 * An operator's call (bounded control: an HTTP client waits) skips steps 1–2 and is served at step 3
 * ahead of everything else, within the operators' share of the window (see operatorLoop).
 * At budgets so large that the spacing is shorter than LEASE_SPAN_MS, steps 1–3 get a lease of
 * several slots at once (see EndpointSpacing.leaseSlots) and calls are served from it locally,
 * minTime apart, control calls first; only the call that finds no slot left goes through the steps.
 */
export class EndpointLimiter {
  /** Clustered Bottleneck instances sharing this endpoint's state in Redis; lane 0 takes the polls. */
  private lanes: Bottleneck[];
  /** Permits asked for and not yet granted, per lane (control calls go to the least busy lane). */
  private readonly laneWaiting: number[];
  private readonly logKey: string;
  private readonly penaltyKey: string;
  private readonly controlKey: string;
  private readonly operatorKey: string;
  private readonly operatorLogKey: string;
  private seq = 0;
  /** One poll per process in Bottleneck at a time (see tryOnce). */
  private readonly pollTurn = new Turn();
  /** Calls waiting in permit(), oldest first. */
  private readonly permitRequests: PermitRequest[] = [];
  /** Whether the job shared by waiting abortable calls is queued (see permit). */
  private sharedJobQueued = false;
  private lastTroubleLogAt = 0;
  /** Leased slots not yet spent, oldest first (lease mode only). */
  private leases: Lease[] = [];
  /** When this process may start its next call on this endpoint (lease mode: minTime apart). */
  private nextCallAt = 0;
  /** Lease requests in flight, by the priority they were asked at. */
  private readonly leasing: Partial<Record<CallPriority, Promise<unknown>>> = {};
  /** Control calls waiting in lease mode; polls take no slot while there are any. */
  private controlWaiting = 0;
  private changed: { promise: Promise<void>; resolve: () => void } | undefined;
  /** The latest end of a 429 penalty a call of this process met on this endpoint (see sawPenalty). */
  private penaltySeenUntil = 0;
  private readonly operatorMetrics: OperatorMetrics;
  /**
   * Lanes whose start-up Redis refused (READONLY from a primary a failover demoted, OOM): Bottleneck
   * keeps that refusal as its `ready` for good and every later permit fails with it, so such a lane
   * is replaced rather than retried (acquireLoop).
   */
  private readonly refusedStart = new WeakSet<Bottleneck>();

  constructor(private readonly deps: EndpointLimiterDeps) {
    this.logKey = `${deps.baseKey}:log`;
    this.penaltyKey = `${deps.baseKey}:penalty`;
    this.controlKey = `${deps.baseKey}:control`;
    this.operatorKey = `${deps.baseKey}:operator`;
    this.operatorLogKey = `${deps.baseKey}:operator-log`;
    this.operatorMetrics = new OperatorMetrics(deps.endpoint);
    const lanes = Math.max(1, Math.min(deps.spacing.lanes, deps.connections.length));
    this.lanes = Array.from({ length: lanes }, (_, i) => this.createBottleneck(i));
    this.laneWaiting = new Array<number>(lanes).fill(0);
    this.unregisterBudget = registerBudgetReader(async () => ({
      endpoint: deps.endpoint,
      left: Math.max(0, deps.spacing.perWindow - (await this.usedInWindow())),
    }));
  }

  private readonly unregisterBudget: () => void;

  /** Calls the whole fleet made on this endpoint within the hard window (as the take script counts). */
  private async usedInWindow(): Promise<number> {
    const span = this.deps.spacing.windowMs + this.deps.spacing.marginMs;
    // Redis's clock, as the take script's: the entries are scored with it, whatever this host's says.
    const [seconds, micros] = await this.deps.redis.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    return this.deps.redis.zcount(this.logKey, `(${now - span}`, '+inf');
  }

  private createBottleneck(lane: number): Bottleneck {
    const { spacing } = this.deps;
    const limiter = new Bottleneck({
      id: this.deps.baseKey,
      datastore: 'ioredis',
      connection: this.deps.connections[lane],
      minTime: spacing.permitGapMs,
      maxConcurrent: spacing.maxConcurrent,
      heartbeatInterval: spacing.heartbeatMs,
      clearDatastore: false,
      timeout: BOTTLENECK_IDLE_TTL_MS,
    });
    limiter.on('error', (err: unknown) => this.logTrouble(err, 'bottleneck reported an error'));
    // Its start-up (scripts, client registration) runs in the background; a limiter closed before it
    // finished (e.g. every call so far was refused by a bounded wait) must not leave a rejection unhandled.
    limiter.ready().catch((err: unknown) => {
      this.refusedStart.add(limiter);
      if (!this.deps.signal.aborted) this.logTrouble(err, 'clustered limiter could not start');
    });
    // Settings stored by an earlier process (or an earlier config) are overwritten with ours, so a
    // changed CXONE_RATE_LIMIT_PER_MIN takes effect on the next start of any process.
    // (Bottleneck's typings say updateSettings returns the limiter; it actually returns a promise.)
    Promise.resolve(
      limiter.updateSettings({
        minTime: spacing.permitGapMs,
        maxConcurrent: spacing.maxConcurrent,
      }) as unknown,
    ).catch((err: unknown) => this.logTrouble(err, 'could not store limiter settings'));
    return limiter;
  }

  /**
   * Resolves when the caller may start its CXone call now. With `maxWaitMs`, rejects with
   * LimiterWaitExceededError as soon as the permit cannot come in time (at once when a known penalty
   * or full window outlasts it); with `signal`, rejects with LimiterAbortedError when it is aborted.
   */
  async acquire(priority: CallPriority, opts: ScheduleOptions = {}): Promise<void> {
    const leased = this.takeLeasedSlot(priority, opts);
    if (leased !== null) return this.waitForSlot(leased);
    const stopWaiting = new AbortController();
    const maxWaitMs = opts.maxWaitMs === undefined ? Infinity : Math.max(0, opts.maxWaitMs);
    // An operator's call (see operatorLoop): its wait and its outcome are counted, a job's are not.
    const operator = isOperatorCall(this.deps.spacing.leaseSlots, priority, maxWaitMs);
    const askedAt = operator ? performance.now() : 0;
    const call: Call = {
      priority,
      member: `${this.deps.clientId}:${++this.seq}`,
      marked: false,
      signal: stopWaiting.signal,
      deadline: Number.isFinite(maxWaitMs) ? Date.now() + maxWaitMs : undefined,
      abortable: Number.isFinite(maxWaitMs) || opts.signal !== undefined,
      maxWaitMs,
      penaltyUntil: 0,
    };
    const stop = (reason: Error) => {
      if (!stopWaiting.signal.aborted) stopWaiting.abort(reason);
    };
    const onClose = () => stop(new LimiterClosedError());
    const onCallerAbort = () => stop(new LimiterAbortedError(this.deps.endpoint));
    this.deps.signal.addEventListener('abort', onClose, { once: true });
    opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (this.deps.signal.aborted) onClose();
    if (opts.signal?.aborted) onCallerAbort();
    const deadlineTimer =
      call.deadline === undefined ? undefined : setTimeout(() => stop(this.deadlinePassed(call)), maxWaitMs);
    deadlineTimer?.unref();
    let refresh: NodeJS.Timeout | undefined;
    if (priority === 'control') {
      refresh = setInterval(() => {
        if (call.marked) void this.markControlWaiting(call.member);
      }, CONTROL_TTL_MS / 3);
      refresh.unref();
    }
    try {
      const work =
        this.deps.spacing.leaseSlots > 1
          ? this.leasedLoop(call)
          : operator
            ? this.operatorLoop(call)
            : this.acquireLoop(call, 1).then(() => {});
      await this.boundedByOutage(this.untilStopped(call, work));
      if (operator) {
        this.operatorMetrics.served(
          call.operatorShareSpent ? 'share_spent' : 'ahead_of_jobs',
          performance.now() - askedAt,
        );
      }
    } catch (err) {
      // The loop behind a call that gave up (the outage bound above) is still waiting on Redis; once
      // Redis is back it would take a permit and a slot of the hard window for a call never made —
      // one per abandoned call, the fleet's budget spent on nothing. Stopped, it takes neither.
      stop(err as Error);
      if (operator) this.operatorMetrics.gaveUp(err);
      throw err;
    } finally {
      if (deadlineTimer) clearTimeout(deadlineTimer);
      this.deps.signal.removeEventListener('abort', onClose);
      opts.signal?.removeEventListener('abort', onCallerAbort);
      if (refresh) clearInterval(refresh);
      // Normally the hard check already removed the mark; this covers failures and closing.
      if (call.marked) this.deps.redis.zrem(this.controlKey, call.member).catch(() => undefined);
      // A refused or abandoned operator's call must stop making the fleet's jobs yield at once.
      if (call.operatorWaiting) this.deps.redis.zrem(this.operatorKey, call.member).catch(() => undefined);
    }
  }

  /**
   * Lease mode's common case: a slot of a lease this process holds is free, so the call has nothing
   * to wait for but its spacing — no Redis, no deadline, no abort wiring. Taken for unbounded calls
   * without a caller signal only (jobs); a bounded call must check the penalty itself (see
   * leasedLoop), and a caller's abort needs the full wait. The slot, once taken, is what leasedLoop
   * would have taken on its first pass.
   */
  private takeLeasedSlot(priority: CallPriority, opts: ScheduleOptions): number | null {
    if (this.deps.spacing.leaseSlots <= 1 || opts.maxWaitMs !== undefined || opts.signal) return null;
    if (this.deps.signal.aborted) return null;
    const slot = this.reserveSlot(priority);
    return typeof slot === 'number' ? slot : null;
  }

  /** Waits until a slot takeLeasedSlot took starts; only closing the limiter cuts the wait short. */
  private async waitForSlot(startsAt: number): Promise<void> {
    const waitMs = startsAt - Date.now();
    if (waitMs <= 0) return;
    try {
      await sleep(waitMs, undefined, { signal: this.deps.signal });
    } catch {
      throw new LimiterClosedError();
    }
  }

  /** The rejection a refused wait ends with: the wait still ahead, and whose limit it is. */
  private waitExceeded(call: Call, waitMs: number, reason: LimiterWaitReason): LimiterWaitExceededError {
    return new LimiterWaitExceededError(
      this.deps.endpoint,
      Math.max(1_000, Math.ceil(waitMs)),
      call.maxWaitMs,
      reason,
    );
  }

  /**
   * The deadline came while the call still waited. A penalty still running is why (the rest of it is
   * the wait); otherwise the fleet's own budget was: the slots queued ahead did not reach this call,
   * and one more slot's spacing is the least a retry must wait.
   */
  private deadlinePassed(call: Call): LimiterWaitExceededError | LimiterUnavailableError {
    const penaltyLeft = Math.max(call.penaltyUntil, this.penaltySeenUntil) - Date.now();
    if (penaltyLeft > 0) return this.waitExceeded(call, penaltyLeft, 'penalty');
    // Redis down is not a busy budget: the wait went to ioredis' offline queue, not to other calls.
    if (this.deps.redisDownForMs() > 0) return new LimiterUnavailableError(this.deps.endpoint);
    return this.waitExceeded(call, this.deps.spacing.permitGapMs, 'budget');
  }

  /**
   * Notes a penalty any call of this process saw (its end, by this host's clock), so that a bounded
   * call whose deadline passes while it is still queued for a permit names the penalty, not the
   * budget, though it never reached the penalty check itself.
   */
  private sawPenalty(until: number): void {
    this.penaltySeenUntil = Math.max(this.penaltySeenUntil, until);
  }

  /** A bounded call refuses a wait it cannot finish in time, instead of sleeping until its deadline. */
  private assertFits(call: Call, waitMs: number, reason: LimiterWaitReason): void {
    if (call.deadline !== undefined && Date.now() + waitMs > call.deadline) {
      throw this.waitExceeded(call, waitMs, reason);
    }
  }

  /**
   * Settles with the work, or with the stop reason as soon as the call stops waiting (even while a
   * Redis command is in flight). The loop notices the stop at its next step and makes no call.
   */
  private untilStopped(call: Call, work: Promise<void>): Promise<void> {
    const { signal } = call;
    return new Promise<void>((resolve, reject) => {
      const onStop = () => reject(signal.reason as Error);
      if (signal.aborted) onStop();
      else signal.addEventListener('abort', onStop, { once: true });
      work.then(
        () => {
          signal.removeEventListener('abort', onStop);
          resolve();
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onStop);
          reject(err as Error);
        },
      );
    });
  }

  /**
   * Lease mode: takes a slot of a lease this process holds, or, when none is left, gets the next
   * lease (one request per priority at a time; the others wait for it). A control call never waits
   * behind a poll's request, and polls take no slot while a control call here waits for one.
   */
  private async leasedLoop(call: Call): Promise<void> {
    const control = call.priority === 'control';
    // A bounded call (the API path) gets its own lease before it takes a slot: a slot leased before
    // another process's 429 would skip the penalty it must answer at once, and waiting on another
    // call's request it could not refuse a penalty or full window that outlasts its maxWaitMs.
    const bounded = call.deadline !== undefined;
    let checked = !bounded;
    if (control) this.controlWaiting++;
    try {
      for (;;) {
        this.assertOpen(call);
        const slot = checked ? this.reserveSlot(call.priority) : null;
        if (slot === 'blocked') {
          await this.untilStopped(call, this.nextChange());
          continue;
        }
        if (slot !== null) {
          const waitMs = slot - Date.now();
          if (waitMs > 0) await this.pause(waitMs, call);
          return;
        }
        const inFlight = bounded
          ? undefined
          : control
            ? this.leasing.control
            : (this.leasing.control ?? this.leasing.poll);
        if (inFlight) {
          await this.untilStopped(
            call,
            inFlight.then(
              () => undefined,
              () => undefined,
            ),
          );
          continue;
        }
        const request = this.acquireLoop(call, this.deps.spacing.leaseSlots).then((taken) => {
          this.leases.push({ left: taken, endsAt: Date.now() + this.deps.spacing.permitGapMs });
        });
        if (!bounded) this.leasing[call.priority] = request;
        try {
          await request;
          checked = true;
        } finally {
          if (this.leasing[call.priority] === request) delete this.leasing[call.priority];
          this.notify();
        }
      }
    } finally {
      if (control && --this.controlWaiting === 0) this.notify();
    }
  }

  /** A slot's start time (now or a little later), null when no lease has one left, 'blocked' for a poll behind control. */
  private reserveSlot(priority: CallPriority): number | null | 'blocked' {
    const at = Math.max(Date.now(), this.nextCallAt);
    while (this.leases.length > 0) {
      const lease = this.leases[0] as Lease;
      if (lease.left > 0 && at < lease.endsAt) break;
      this.leases.shift();
    }
    const lease = this.leases[0];
    if (!lease) return null;
    if (priority === 'poll' && this.controlWaiting > 0) return 'blocked';
    lease.left--;
    this.nextCallAt = at + this.deps.spacing.minTimeMs;
    return at;
  }

  private nextChange(): Promise<void> {
    if (!this.changed) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.changed = { promise, resolve };
    }
    return this.changed.promise;
  }

  private notify(): void {
    const changed = this.changed;
    this.changed = undefined;
    changed?.resolve();
  }

  /**
   * After a 429 (penalized for `penaltyMs`): this process starts nothing more from slots it leased
   * before it, and a bounded call still queued here names the penalty if its deadline passes.
   */
  penalized(penaltyMs: number): void {
    this.leases = [];
    this.sawPenalty(Date.now() + penaltyMs);
  }

  /**
   * An operator's call (control priority, bounded: an HTTP client waits for the answer) at ordinary
   * rates. It takes its slot straight from the hard window, ahead of every job of the fleet: while it
   * is registered as waiting, any other call, in any process, that reaches the hard check yields its
   * slot (TAKE) and asks for a new permit, so the wait is about one spacing whatever the fleet's backlog
   * and however many processes race for permits — where it used to win roughly one permit race in
   * as many processes as had control work queued. Operators' calls are served earliest deadline
   * first, `minTime` after the latest start (no burst), and only within their share of the window
   * (operatorSlots): past it the call queues for a permit as any control call.
   */
  private async operatorLoop(call: Call): Promise<void> {
    const { spacing } = this.deps;
    let troubleSince: number | undefined;
    for (;;) {
      this.assertOpen(call);
      let answer: [number, number, number];
      try {
        // The take is this call's first command, and one sent while Redis is down waits in ioredis'
        // queue and runs once Redis is back, long after the call gave up (its deadline or the outage
        // bound): a slot for a call never made. So a round trip must come back first, and the take is
        // sent only if the call still waits (as acquireLoop's penalty check before its permit).
        await this.deps.redis.pttl(this.penaltyKey);
        this.assertOpen(call);
        call.operatorWaiting = true;
        answer = await this.deps.redis.cxoOperatorTake(
          this.logKey,
          this.penaltyKey,
          this.operatorKey,
          this.operatorLogKey,
          spacing.windowMs + spacing.marginMs,
          spacing.perWindow,
          call.member,
          call.maxWaitMs + 1_000,
          spacing.minTimeMs,
          `${call.member}:${Date.now()}:1`,
          operatorSlots(spacing.perWindow),
        );
        troubleSince = undefined;
      } catch (err) {
        if (call.signal.aborted) throw call.signal.reason as Error;
        troubleSince ??= Date.now();
        if (Date.now() - troubleSince > this.deps.outageMaxMs) {
          throw new LimiterUnavailableError(this.deps.endpoint, { cause: err });
        }
        this.logTrouble(err, 'limiter could not reach Redis; retrying');
        await this.pause(250 + Math.floor(Math.random() * 750), call);
        continue;
      }
      const [taken, value, why] = answer;
      if (taken > 0) {
        call.operatorWaiting = false;
        limiterBudgetLeft.set({ endpoint: this.deps.endpoint }, value);
        return;
      }
      if (why === 4) {
        // The operators' share of the window is spent: no precedence, the ordinary queue.
        call.operatorWaiting = false;
        call.operatorShareSpent = true;
        await this.acquireLoop(call, 1);
        return;
      }
      if (why === 1) {
        call.penaltyUntil = Date.now() + value;
        this.sawPenalty(call.penaltyUntil);
      }
      this.assertFits(call, value, why === 1 ? 'penalty' : 'budget');
      await this.pause(value, call);
    }
  }

  /** Gets `slots` slots through the three steps; resolves with how many were taken (≥ 1). */
  private async acquireLoop(call: Call, slots: number): Promise<number> {
    let troubleSince: number | undefined;
    for (;;) {
      this.assertOpen(call);
      try {
        const taken = await this.tryOnce(call, slots);
        if (taken > 0) return taken;
        troubleSince = undefined;
      } catch (err) {
        if (call.signal.aborted) throw call.signal.reason as Error;
        if (err instanceof LimiterWaitExceededError) throw err;
        troubleSince ??= Date.now();
        if (Date.now() - troubleSince > this.deps.outageMaxMs) {
          throw new LimiterUnavailableError(this.deps.endpoint, { cause: err });
        }
        this.logTrouble(err, 'limiter could not reach Redis; retrying');
        if (isClusterStateLost(err)) this.recreate('its Redis state vanished');
        // A lane that could not start never will: a fresh one starts again once Redis takes writes.
        else if (this.lanes.some((lane) => this.refusedStart.has(lane))) {
          this.recreate('Redis refused its start-up', { quiet: true });
        }
        await this.pause(250 + Math.floor(Math.random() * 750), call);
      }
    }
  }

  /**
   * While Redis is down our commands wait in ioredis' offline queue rather than fail (so a restart is
   * ridden out); this bounds that wait. The caller stops the abandoned attempt (acquire), so once
   * Redis is back it finishes without taking anything.
   */
  private boundedByOutage(work: Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const watchdog = setInterval(
        () => {
          if (this.deps.redisDownForMs() > this.deps.outageMaxMs) {
            clearInterval(watchdog);
            reject(new LimiterUnavailableError(this.deps.endpoint));
          }
        },
        Math.min(1_000, Math.max(100, this.deps.outageMaxMs / 4)),
      );
      watchdog.unref();
      work.then(
        () => {
          clearInterval(watchdog);
          resolve();
        },
        (err: unknown) => {
          clearInterval(watchdog);
          reject(err);
        },
      );
    });
  }

  /**
   * The penalty still to wait out. A control call's first pass also marks it as waiting, in the same
   * round trip, so the mark is stored before the call asks for a permit.
   */
  private async penaltyLeft(call: Call): Promise<number> {
    if (call.priority !== 'control' || call.marked || call.unmarked) {
      return this.deps.redis.pttl(this.penaltyKey);
    }
    call.marked = true;
    return this.deps.redis.cxoControlEnter(this.controlKey, this.penaltyKey, call.member, CONTROL_TTL_MS);
  }

  /** One pass: wait out a penalty, get a permit, take from the hard window. 0 = go round again. */
  private async tryOnce(call: Call, slots: number): Promise<number> {
    const { priority, member } = call;
    const pttl = await this.penaltyLeft(call);
    if (pttl > 0) {
      call.penaltyUntil = Date.now() + pttl;
      this.sawPenalty(call.penaltyUntil);
      this.assertFits(call, pttl, 'penalty');
      await this.pause(pttl, call);
    }

    if (priority === 'poll') {
      await this.pollTurn.take(call.signal);
      try {
        await this.waitWhileOthersHaveControl(call);
        await this.permit(priority, call.signal, call.abortable);
      } finally {
        this.pollTurn.release();
      }
    } else {
      await this.permit(priority, call.signal, call.abortable);
    }

    for (;;) {
      // A call that stopped waiting must not take from the window: it will not be made.
      this.assertOpen(call);
      // The permit is ours: a control call stops holding back other processes' polls from now on
      // (removed by the hard check's script, in the same round trip).
      const unmark = call.marked ? member : '';
      const [taken, value, why] = await this.deps.redis.cxoTake(
        this.logKey,
        this.penaltyKey,
        this.controlKey,
        this.operatorKey,
        this.deps.spacing.windowMs + this.deps.spacing.marginMs,
        this.deps.spacing.perWindow,
        `${member}:${Date.now()}`,
        unmark,
        slots,
      );
      // An operator's call waits somewhere in the fleet: this slot is its own (operatorLoop). Nothing
      // was taken and a control call is still marked as waiting; ask for the next permit.
      if (why === 3) {
        this.operatorMetrics.yielded();
        return 0;
      }
      if (unmark) {
        call.marked = false;
        call.unmarked = true;
      }
      if (taken > 0) {
        limiterBudgetLeft.set({ endpoint: this.deps.endpoint }, value);
        return taken;
      }
      if (why === 1) {
        call.penaltyUntil = Date.now() + value;
        this.sawPenalty(call.penaltyUntil);
      }
      this.assertFits(call, value, why === 1 ? 'penalty' : 'budget');
      await this.pause(value, call);
      // Penalized while waiting for the permit: queue again so that calls resume evenly spaced.
      if (why === 1) return 0;
    }
  }

  /**
   * Resolves when Bottleneck starts our (empty) job, i.e. at the slot's start time. Bottleneck's own
   * promise settles only after it has freed the slot in Redis, one more round trip that the caller
   * need not wait for: the slot was spaced and counted when it was registered.
   *
   * A queued Bottleneck job cannot be withdrawn, and once it runs its slot is spent fleet-wide. So a
   * call that may stop waiting (a deadline, its caller's signal) does not queue a job of its own:
   * such calls share one job per endpoint per process, which serves one of them when it runs and is
   * then queued again while any still wait. A burst of bounded API calls that give up thus leaves at
   * most one job behind, not one per call ahead of everything that follows. Any job whose caller is
   * no longer waiting (or was served by another job's slot) hands its slot to the next waiting call.
   */
  private permit(priority: CallPriority, signal: AbortSignal, abortable: boolean): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        const at = this.permitRequests.indexOf(request);
        if (at >= 0) this.permitRequests.splice(at, 1);
        outcome();
      };
      const request: PermitRequest = {
        priority,
        abortable,
        serve: () => settle(resolve),
        fail: (err) => settle(() => reject(err)),
      };
      this.permitRequests.push(request);
      // A permit queued in a disconnected Bottleneck never settles; closing (or the caller giving up)
      // must still release its waiter.
      const onAbort = () => settle(() => reject(signal.reason as Error));
      signal.addEventListener('abort', onAbort, { once: true });
      if (abortable) {
        this.queueSharedJob();
        return;
      }
      this.queueJob(
        priority,
        () => (settled ? this.handOver() : settle(resolve)),
        // Dropped before it ran (stop, a failed submit).
        (err) => settle(() => reject(err)),
      );
    });
  }

  /** The one job of this process's waiting abortable calls on this endpoint, if one is needed and none is queued. */
  private queueSharedJob(): void {
    if (this.sharedJobQueued) return;
    const waiting = this.permitRequests.filter((r) => r.abortable);
    if (waiting.length === 0) return;
    this.sharedJobQueued = true;
    this.queueJob(
      waiting.some((r) => r.priority === 'control') ? 'control' : 'poll',
      () => {
        this.sharedJobQueued = false;
        this.handOver();
        this.queueSharedJob();
      },
      (err) => {
        this.sharedJobQueued = false;
        // Each goes round its own loop again (a Redis blip, a recreated limiter).
        for (const r of this.permitRequests.filter((w) => w.abortable)) r.fail(err);
      },
    );
  }

  /** Queues one empty Bottleneck job; `onRun` runs at its slot's start, `onDropped` if it never runs. */
  private queueJob(priority: CallPriority, onRun: () => void, onDropped: (err: unknown) => void): void {
    const lane = priority === 'poll' ? 0 : this.leastBusyLane();
    this.laneWaiting[lane] = (this.laneWaiting[lane] ?? 0) + 1;
    let waiting = true;
    const granted = () => {
      if (!waiting) return;
      waiting = false;
      this.laneWaiting[lane] = Math.max(0, (this.laneWaiting[lane] ?? 1) - 1);
    };
    let ran = false;
    (this.lanes[lane] as Bottleneck)
      .schedule(
        { priority: BOTTLENECK_PRIORITY[priority], expiration: this.deps.spacing.permitExpirationMs },
        () => {
          granted();
          ran = true;
          onRun();
          return Promise.resolve();
        },
      )
      .then(
        () => undefined,
        (err: unknown) => {
          granted();
          if (!ran) onDropped(err);
        },
      );
  }

  /** Serves the oldest waiting control call, else the oldest waiting call, with a slot nobody took. */
  private handOver(): void {
    const next = this.permitRequests.find((r) => r.priority === 'control') ?? this.permitRequests[0];
    next?.serve();
  }

  private leastBusyLane(): number {
    let best = 0;
    for (let i = 1; i < this.laneWaiting.length; i++) {
      if ((this.laneWaiting[i] as number) < (this.laneWaiting[best] as number)) best = i;
    }
    return best;
  }

  private async waitWhileOthersHaveControl(call: Call): Promise<void> {
    const recheckMs = Math.min(250, this.deps.spacing.minTimeMs);
    while ((await this.deps.redis.cxoControlOthers(this.controlKey, `${this.deps.clientId}:`)) > 0) {
      await this.pause(recheckMs, call);
    }
  }

  private async markControlWaiting(member: string): Promise<void> {
    try {
      await this.deps.redis.cxoControlAdd(this.controlKey, member, CONTROL_TTL_MS);
    } catch (err) {
      // Without the mark, control still goes first in this process; only the fleet-wide hint is lost.
      this.logTrouble(err, 'could not mark a control call as waiting');
    }
  }

  private async pause(ms: number, call: Call): Promise<void> {
    try {
      await sleep(Math.max(0, ms), undefined, { signal: call.signal });
    } catch {
      throw (call.signal.reason as Error | undefined) ?? new LimiterClosedError();
    }
  }

  private assertOpen(call: Call): void {
    if (call.signal.aborted) throw call.signal.reason as Error;
  }

  /** Last resort if the cluster state is gone and Bottleneck did not restore it itself. */
  private recreate(why: string, opts: { quiet?: boolean } = {}): void {
    const old = this.lanes;
    this.lanes = old.map((_, i) => this.createBottleneck(i));
    this.laneWaiting.fill(0);
    for (const limiter of old) void retire(limiter);
    // Quiet: repeated at every retry while Redis refuses, which logTrouble already says, throttled.
    if (opts.quiet) return;
    this.deps.logger.warn({ endpoint: this.deps.endpoint }, `recreated the clustered limiter after ${why}`);
  }

  private logTrouble(err: unknown, msg: string): void {
    const now = Date.now();
    if (now - this.lastTroubleLogAt < 5_000) return;
    this.lastTroubleLogAt = now;
    this.deps.logger.warn(
      { endpoint: this.deps.endpoint, err: err instanceof Error ? err.message : String(err) },
      msg,
    );
  }

  async close(): Promise<void> {
    this.unregisterBudget();
    this.pollTurn.wakeAll();
    await Promise.all(this.lanes.map((limiter) => retire(limiter)));
  }
}
