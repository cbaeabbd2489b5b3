import type { Worker } from 'bullmq';
import { startSandbox } from '../../src/sandbox/server.js';
import type { RunningSandbox } from '../../src/sandbox/types.js';
import { createCampaignStore } from '../../src/shared/campaign-store.js';
import type { CampaignConfig } from '../../src/shared/campaign-config.js';
import { ManualClock } from '../../src/shared/clock.js';
import { createAuditTrail } from '../../src/shared/audit/trail.js';
import type { AuditRecord } from '../../src/shared/audit/types.js';
import {
  scheduleWindowEnforcement,
  windowJobId,
  windowJobOf,
  type WindowJob,
} from '../../src/shared/compliance/enforcement.js';
import { getWindowState } from '../../src/shared/compliance/state-store.js';
import { loadConfig } from '../../src/shared/config.js';
import { createContext, type ClosableContext } from '../../src/shared/context-factory.js';
import { toCreateCampaignRequest } from '../../src/shared/cxone/to-wire.js';
import { CXONE_SCOPES } from '../../src/shared/cxone/wire.js';
import { isFinished, type CommandRecord } from '../../src/shared/lifecycle/commands.js';
import { enqueueCommand, getCommand } from '../../src/shared/lifecycle/enqueue.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createAdjustWorker } from '../../src/workers/adjust-worker.js';
import { createComplianceWorker } from '../../src/workers/compliance-worker.js';
import { testPrefix, deletePrefixAt } from '../support/redis-prefix.js';
import { CONSOLE } from '../sandbox/helpers.js';
import { afterAll, beforeAll, expect } from 'vitest';
import { eventually, REDIS_URL } from './redis-context.js';

const FLEET = { clientId: 'sandbox-client', clientSecret: 'sandbox-secret' };

/**
 * Calling-window enforcement on real parts: the CXone sandbox over HTTP, the real context (limiter,
 * client, audit, events), the lifecycle's adjust worker and the compliance worker. Time is a
 * ManualClock starting at `startIso`; window jobs are promoted instead of waited for.
 */
export interface WindowStack {
  sandbox: RunningSandbox;
  ctx: ClosableContext;
  clock: ManualClock;
  /** A campaign active on the sandbox with `config`, its record synced as a launch leaves it. */
  activeCampaign(config: CampaignConfig): Promise<string>;
  /** activeCampaign, with its calling-window job planned as its launch plans it. */
  enforcedCampaign(config: CampaignConfig): Promise<string>;
  /**
   * activeCampaign, with CXone's statistics polled (no violations) into its record, so that the
   * compliance report judges `adherent`.
   */
  polledCampaign(config: CampaignConfig): Promise<string>;
  /** Waits until the command has finished (succeeded, failed or conflict) and returns it. */
  settled(commandId: string): Promise<CommandRecord>;
  /** Moves the clock, fires the window job now and waits until it planned its next firing. */
  fire(id: string, iso: string): Promise<WindowJob>;
  /**
   * Fires the close's window job at `closeIso` and waits until the campaign is paused on CXone and the
   * pause's command has finished, so that the next firing is the re-check's, which finds the pause
   * done. Returns the plan the close's firing left (the re-check, `verify`).
   */
  pausedByTheClose(id: string, closeIso: string): Promise<WindowJob>;
  /** The campaign's `compliance_action` audit records of one kind, in trail order. */
  complianceRecords(id: string, kind: string): Promise<AuditRecord[]>;
  /**
   * An operator's pause or stop and the window's pause (its close's job fired at 21:59:20 ahead of
   * Friday's 17:00 EST close), both held in the adjust queue, the operator's first; `beforeDrain`
   * runs while they are held, then the queue drains at `drainIso`. Both commands are settled; the
   * operator's succeeded with its status written at `drainIso`.
   */
  operatorAheadOfWindowPause(
    id: string,
    input: { action: 'pause' | 'stop'; actor: string; drainIso: string; beforeDrain?: () => Promise<void> },
  ): Promise<{ operator: CommandRecord; window: CommandRecord }>;
  close(): Promise<void>;
}

/** Friday 17:00 EST: the close operatorAheadOfWindowPause's window pause is due by. */
export const FRIDAY_CLOSE = '2026-03-06T22:00:00.000Z';

export async function startWindowStack(opts: {
  startIso: string;
  /**
   * Also a console operator on the fleet's tenant (CONSOLE in test/sandbox/helpers.ts), to change a
   * campaign behind the orchestrator's back as CXone's console does.
   */
  withConsole?: boolean;
}): Promise<WindowStack> {
  const sandbox = await startSandbox({
    ...(opts.withConsole
      ? {
          clients: [
            { ...FLEET, scopes: [...CXONE_SCOPES] },
            { ...CONSOLE, scopes: [...CXONE_SCOPES], tenant: FLEET.clientId },
          ],
        }
      : {}),
    rateLimit: { perWindow: 100_000, windowMs: 60_000 },
  });
  const prefix = testPrefix();
  const clock = new ManualClock(Date.parse(opts.startIso));
  const appConfig = loadConfig({
    REDIS_URL,
    CXONE_BASE_URL: sandbox.url,
    CXONE_CLIENT_ID: 'sandbox-client',
    CXONE_CLIENT_SECRET: 'sandbox-secret',
    API_TOKEN: 'compliance-test-token',
    KEY_PREFIX: prefix,
    CXONE_RATE_LIMIT_PER_MIN: '100000',
  });
  const ctx = await createContext(appConfig, silentLogger, { clock });
  const workers: Worker[] = [createAdjustWorker(ctx), createComplianceWorker(ctx)];
  await Promise.all(workers.map((w) => w.waitUntilReady()));

  const stack: WindowStack = {
    sandbox,
    ctx,
    clock,
    async activeCampaign(config) {
      const created = await ctx.cxone.createCampaign(toCreateCampaignRequest(config));
      let resource = await ctx.cxone.getCampaign(created.id);
      for (const status of ['scheduled', 'active'] as const) {
        resource = await ctx.cxone.updateCampaign(created.id, resource.version, { status });
      }
      await createCampaignStore(ctx).syncFromCxone(resource, { config });
      return created.id;
    },
    async enforcedCampaign(config) {
      const id = await stack.activeCampaign(config);
      await scheduleWindowEnforcement(ctx, id);
      return id;
    },
    async polledCampaign(config) {
      const id = await stack.activeCampaign(config);
      const { version } = await ctx.cxone.getCampaign(id);
      await createCampaignStore(ctx).recordStats(
        id,
        {
          version,
          status: 'active',
          totalCalls: 300,
          answeredCalls: 100,
          abandonedCalls: 1,
          complianceViolations: 0,
          agentUtilization: 50,
        },
        null,
      );
      return id;
    },
    settled(commandId) {
      return eventually(async () => {
        const command = await getCommand(ctx, commandId);
        return command && isFinished(command.status) ? command : undefined;
      }, 15_000);
    },
    async fire(id, iso) {
      clock.set(Date.parse(iso));
      const job = await ctx.queues.compliance.getJob(windowJobId(id));
      if (!job) throw new Error('window job missing');
      const before = windowJobOf(job);
      await job.promote();
      return eventually(async () => {
        const current = await ctx.queues.compliance.getJob(windowJobId(id));
        if (!current || (await current.getState()) !== 'delayed') return undefined;
        const data = windowJobOf(current);
        return data.atMs !== before.atMs || data.kind !== before.kind ? data : undefined;
      }, 15_000);
    },
    async pausedByTheClose(id, closeIso) {
      const plan = await stack.fire(id, closeIso);
      await eventually(async () => {
        const { status } = await ctx.cxone.getCampaign(id);
        return status === 'paused' ? true : undefined;
      }, 15_000);
      const { pauseCommandId } = await getWindowState(ctx, id);
      expect((await stack.settled(pauseCommandId ?? '')).status).toBe('succeeded');
      return plan;
    },
    async complianceRecords(id, kind) {
      const trail = createAuditTrail({ redis: ctx.redis, keys: ctx.keys, logger: silentLogger });
      return (await trail.list(id)).filter(
        (r) => r.action === 'compliance_action' && r.details.kind === kind,
      );
    },
    async operatorAheadOfWindowPause(id, { action, actor, drainIso, beforeDrain }) {
      await scheduleWindowEnforcement(ctx, id);
      await ctx.queues.adjust.pause();
      const { commandId } = await enqueueCommand(ctx, {
        campaignId: id,
        actor,
        reason: 'operator',
        action,
      });
      await stack.fire(id, '2026-03-06T21:59:20Z');
      const { pauseCommandId, pauseDueAt } = await getWindowState(ctx, id);
      expect(pauseCommandId).toBeDefined();
      expect(pauseDueAt).toBe(Date.parse(FRIDAY_CLOSE));
      await beforeDrain?.();
      clock.set(Date.parse(drainIso));
      await ctx.queues.adjust.resume();
      const operator = await stack.settled(commandId);
      expect(operator.status).toBe('succeeded');
      expect(operator.result?.writes.find((w) => w.step === 'status')?.at).toBe(
        new Date(drainIso).toISOString(),
      );
      return { operator, window: await stack.settled(pauseCommandId as string) };
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await ctx.close();
      await sandbox.close();
      await deletePrefixAt(prefix);
    },
  };
  return stack;
}

/**
 * A window stack started before a file's tests and closed after them, for a file whose tests share
 * one; the function returned gives it to a test.
 */
export function windowStackForFile(opts: Parameters<typeof startWindowStack>[0]): () => WindowStack {
  let stack: WindowStack | undefined;
  beforeAll(async () => {
    stack = await startWindowStack(opts);
  });
  afterAll(async () => {
    await stack?.close();
  });
  return () => {
    if (!stack) throw new Error('the window stack is not started: call it in a test');
    return stack;
  };
}
