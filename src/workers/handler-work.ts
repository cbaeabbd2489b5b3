import type { Worker } from 'bullmq';

/**
 * Work a worker's event handlers start on Redis, such as a `failed` handler finishing what a job
 * that failed for good left undone (a dead letter, a launch record).
 *
 * BullMQ emits `failed` synchronously at the end of the job's run and does not wait for what a
 * listener starts: its pause() and close() resolve as soon as the run itself is done, and a
 * listener's writes would go on after close() returned, onto a connection about to be closed. The
 * worker's pause() and close() are wrapped here to wait for that work too.
 *
 * The wait is as bounded as the job's own: pause() (and a graceful close()) waits for it, and
 * closeWorkers races pause() against the shutdown deadline; a forced close() does not wait (Redis may
 * be what is not answering), and work the handlers would start after close() resolved is not
 * started at all, so that nothing writes after it. What is dropped that way is what a worker
 * process killed at that moment would drop too, and is recovered the same way.
 */
export interface HandlerWork {
  /**
   * Starts `work` as the worker's. False, without starting it, once the worker has closed. `work`
   * handles its own errors; a rejection is only kept from holding up close().
   */
  run(work: () => Promise<unknown>): boolean;
}

export function trackHandlerWork(worker: Worker): HandlerWork {
  const pending = new Set<Promise<unknown>>();
  let closed = false;

  async function settled(): Promise<void> {
    // Work started while this waits (another job failing meanwhile) is waited for as well.
    while (pending.size > 0) await Promise.allSettled([...pending]);
  }

  const pause = worker.pause.bind(worker);
  worker.pause = async (doNotWaitActive?: boolean) => {
    await pause(doNotWaitActive);
    if (!doNotWaitActive) await settled();
  };
  const close = worker.close.bind(worker);
  worker.close = async (force?: boolean) => {
    try {
      await close(force);
      if (!force) await settled();
    } finally {
      closed = true;
    }
  };

  return {
    run(work) {
      if (closed) return false;
      const running = work().then(
        () => undefined,
        () => undefined,
      );
      pending.add(running);
      void running.finally(() => pending.delete(running));
      return true;
    },
  };
}
