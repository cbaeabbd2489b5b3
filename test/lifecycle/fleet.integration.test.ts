import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CXONE_ENDPOINTS } from '../../src/shared/cxone/wire.js';
import { startHarness, type Harness } from './harness.js';

/**
 * One mutation at a time per campaign across the fleet: 20 commands on one campaign, processed by 3
 * separate worker processes sharing Redis and the sandbox, while the console keeps changing another
 * field. Every command must land exactly once, every 409 must be resolved by a rebase.
 *
 * The commands come in two batches, and the process that applied the first batch's last command
 * leaves the fleet in between. Left alone, BullMQ hands a worker that finishes a job the next waiting
 * one, and the campaign's next command is woken by exactly that worker, so one process can carry the
 * whole chain; leaving makes the second batch run elsewhere, so the test always spans processes.
 */
const WORKER_SCRIPT = fileURLToPath(new URL('./adjust-worker-process.ts', import.meta.url));

let h: Harness;
const children: ChildProcess[] = [];

async function startWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  // Node itself with tsx's loader, not the tsx binary, which would run the worker in a grandchild: the
  // worker's pid (recorded on each command it applies) is then the child's own.
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT], {
    env: { ...process.env, ...env, WORKER_CONCURRENCY: '10' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker process did not start in 20 s')), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`worker process exited early with ${code}`)));
  });
  return child;
}

beforeAll(async () => {
  h = await startHarness();
  await Promise.all([1, 2, 3].map(() => startWorkerProcess(h.env)));
}, 60_000);

afterAll(async () => {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }),
  );
  await h?.close();
});

describe('fleet: 20 concurrent commands on one campaign from 3 worker processes', () => {
  it('applies every command exactly once; final version = initial + all changes; no 409 unresolved', async () => {
    const campaign = await h.campaign('active');
    const patch409Before = (await h.counters(CXONE_ENDPOINTS.updateCampaign))?.byStatus['409'] ?? 0;

    // Internal callers (pacing-style): no captured base, so each applies on top of the previous one.
    const names = Array.from({ length: 20 }, (_, i) => `batch-${String(i).padStart(2, '0')}`);
    const enqueueAll = (batch: string[]) =>
      h.enqueueInOrder(
        batch.map((name) => ({
          campaignId: campaign.id,
          actor: 'test:fleet',
          reason: 'pacing',
          patch: { name },
        })),
      );
    const waitAll = (ids: string[]) => Promise.all(ids.map((id) => h.waitForCommand(id, 60_000)));
    const batches = (async () => {
      const first = await waitAll(await enqueueAll(names.slice(0, 10)));
      // The process that applied the first batch's last command leaves the fleet (a graceful stop).
      const leaving = first[first.length - 1]!.worker;
      const child = children.find((c) => leaving?.endsWith(`:${c.pid}`));
      if (!child) throw new Error(`no worker process matches ${leaving}`);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      return { first, leaving, second: await waitAll(await enqueueAll(names.slice(10))) };
    })();
    // Meanwhile the console changes another field a few times.
    let outside = 0;
    let console409 = 0;
    const consoleWrites = (async () => {
      for (const capacity of [21, 22, 23, 24, 25]) {
        await new Promise((r) => setTimeout(r, 40));
        // A console user racing our workers can lose the version race too; like a person in the
        // console, it re-reads and saves again. Its change must land exactly once either way.
        for (let attempt = 1; ; attempt += 1) {
          try {
            await h.consoleChange(campaign.id, { dialerSettings: { agentCapacity: capacity } });
            break;
          } catch (err) {
            if (attempt >= 20 || !/→ 409 /.test(String(err))) throw err;
            console409 += 1;
          }
        }
        outside += 1;
      }
    })();
    const { first, leaving, second } = await batches;
    await consoleWrites;
    const outcomes = [...first, ...second];

    expect(outcomes.filter((o) => o.status !== 'succeeded')).toEqual([]);
    const final = await h.ctx.cxone.getCampaign(campaign.id);
    expect(final.version).toBe(campaign.version + names.length + outside);
    expect(final.dialerSettings.agentCapacity).toBe(25);

    // Every name was written exactly once, each on its own version, in the order they were accepted.
    const history = [];
    for await (const page of h.ctx.cxone.history(campaign.id, { pageSize: 100 }))
      history.push(...page.records);
    const written = history
      .filter((r) => r.changes['name'])
      .sort((a, b) => a.version - b.version)
      .map((r) => r.changes['name']!.to as string);
    expect(written).toEqual(names);
    expect(final.name).toBe(names[names.length - 1]);

    // Our own workers never raced each other: the only 409s came from the console's writes, and
    // each was resolved by a rebase recorded on the command.
    const conflicts =
      ((await h.counters(CXONE_ENDPOINTS.updateCampaign))?.byStatus['409'] ?? 0) -
      patch409Before -
      console409;
    const rebases = outcomes.reduce((sum, o) => sum + (o.result?.rebases ?? 0), 0);
    expect(rebases).toBe(conflicts);
    expect(conflicts).toBeLessThanOrEqual(outside);

    // The work really spanned processes: the second batch ran on the two that stayed.
    expect(second.map((o) => o.worker)).not.toContain(leaving);
    expect(new Set(outcomes.map((o) => o.worker)).size).toBeGreaterThan(1);
  }, 90_000);
});
