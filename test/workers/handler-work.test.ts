import type { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { trackHandlerWork } from '../../src/workers/handler-work.js';
import { closeWorkers } from '../../src/workers/worker-options.js';

/**
 * Work a worker's event handlers start is waited for by its pause() and graceful close(), never
 * started once it has closed, and not waited for past the shutdown deadline.
 */

/** A worker whose own pause and close are done at once: only the handlers' work is left. */
function fakeWorker(): Worker {
  return {
    name: 'fake',
    pause: async () => undefined,
    close: async () => undefined,
  } as unknown as Worker;
}

function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** Whether `p` has settled once everything already queued has run. */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('trackHandlerWork', () => {
  it('makes pause() wait for the work, including work started while it waits', async () => {
    const worker = fakeWorker();
    const work = trackHandlerWork(worker);
    const first = gate();
    const second = gate();
    const done: string[] = [];
    work.run(async () => {
      await first.opened;
      done.push('first');
      // Another job failing meanwhile.
      work.run(async () => {
        await second.opened;
        done.push('second');
      });
    });
    const paused = worker.pause();
    expect(await isSettled(paused)).toBe(false);
    first.open();
    expect(await isSettled(paused)).toBe(false);
    second.open();
    await paused;
    expect(done).toEqual(['first', 'second']);
  });

  it('makes a graceful close() wait for the work, then starts none', async () => {
    const worker = fakeWorker();
    const work = trackHandlerWork(worker);
    const g = gate();
    let done = false;
    // A failing handler does not keep close() from resolving.
    expect(work.run(() => Promise.reject(new Error('Redis is gone')))).toBe(true);
    work.run(async () => {
      await g.opened;
      done = true;
    });
    const closed = worker.close();
    expect(await isSettled(closed)).toBe(false);
    g.open();
    await closed;
    expect(done).toBe(true);
    let started = false;
    expect(
      work.run(async () => {
        started = true;
      }),
    ).toBe(false);
    expect(started).toBe(false);
  });

  it('is not waited for by a forced close(), and none is started after it', async () => {
    const worker = fakeWorker();
    const work = trackHandlerWork(worker);
    const g = gate();
    work.run(() => g.opened);
    await worker.close(true);
    expect(work.run(async () => undefined)).toBe(false);
    g.open();
  });

  it('is waited for by closeWorkers within the deadline, and not past it', async () => {
    const inTime = fakeWorker();
    const inTimeWork = trackHandlerWork(inTime);
    let done = false;
    const quick = gate();
    inTimeWork.run(async () => {
      await quick.opened;
      done = true;
    });
    const closing = closeWorkers([inTime], 60_000);
    quick.open();
    expect(await closing).toEqual({ forced: false });
    expect(done).toBe(true);

    const stuck = fakeWorker();
    const stuckWork = trackHandlerWork(stuck);
    const never = gate();
    stuckWork.run(() => never.opened);
    expect(await closeWorkers([stuck], 20)).toEqual({ forced: true });
    expect(stuckWork.run(async () => undefined)).toBe(false);
    never.open();
  });
});
