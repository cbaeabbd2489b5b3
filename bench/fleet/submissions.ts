import { forEachConcurrent } from './stats.js';

/** One accepted submission: the campaign's name (how the sandbox reports it) and when it was sent. */
export interface Sent {
  name: string;
  sentAt: number;
}

/** How a path's submissions are driven: closed loop (saturated) or open loop (paced). */
export interface Submitter<S extends Sent = Sent> {
  /** `count` submissions numbered from `offset`, `concurrency` in flight; resolves once all were accepted. */
  saturate(offset: number, count: number, concurrency: number): Promise<S[]>;
  /**
   * `count` submissions at `rate` per second, each sent on time whether or not the earlier ones were
   * answered (as independent upstream requests arrive), so latency measures the pipeline rather than
   * a backlog; resolves once all were accepted.
   */
  pace(offset: number, count: number, rate: number): Promise<S[]>;
}

/** Drives one-at-a-time `submit` calls in this process, in either loop. */
export function submitterOf<S extends Sent>(submit: (index: number) => Promise<S>): Submitter<S> {
  return {
    async saturate(offset, count, concurrency) {
      const sent: S[] = new Array<S>(count);
      await forEachConcurrent([...Array(count).keys()], concurrency, async (i) => {
        sent[i] = await submit(offset + i);
      });
      return sent;
    },
    async pace(offset, count, rate) {
      const gapMs = 1000 / rate;
      const start = Date.now();
      const pending: Promise<S>[] = [];
      for (let i = 0; i < count; i++) {
        const wait = start + i * gapMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        pending.push(submit(offset + i));
      }
      return Promise.all(pending);
    },
  };
}
