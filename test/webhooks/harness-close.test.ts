import { describe, expect, it } from 'vitest';
import { keysStartingWith } from '../../src/shared/private-prefix.js';
import { connect } from '../audit/redis-helpers.js';
import { Receiver, startHarness, waitFor } from './harness.js';

/**
 * The harness force-closes its webhook worker, which leaves a delivery under way running: whenever
 * its receiver answers — before, during or after close() — the run's verdict must not outlive the
 * keys close() deleted (a `webhook:delivered` set and an event hash without a TTL, found after full
 * runs of this directory).
 */
describe('webhook harness close()', () => {
  // Close takes a few milliseconds; answers spread over it and past it land in each of its steps.
  for (const answerAfterMs of [0, 1, 2, 3, 4, 6, 8, 12, 50]) {
    it(`leaves no key behind when a send is answered ${answerAfterMs} ms into close()`, async () => {
      const receiver = await new Receiver().start();
      const admin = connect();
      try {
        let answer: (() => void) | undefined;
        receiver.respond = (_req, _body, res) => {
          answer = () => res.writeHead(200).end();
          return 'hang';
        };
        const h = await startHarness(receiver.url, { sweepIntervalMs: 0 });
        const prefix = h.keys.prefix;
        await h.events.publish('campaign.state.changed', 'camp-close', { to: 'paused' });
        await waitFor(() => answer !== undefined, 10_000, 'the send');
        const answered = new Promise<void>((resolve) =>
          setTimeout(() => {
            answer!();
            resolve();
          }, answerAfterMs),
        );
        await h.close();
        await answered;
        // Long enough for the run to record its verdict, had it a connection to do so.
        const until = Date.now() + 300;
        await waitFor(() => Date.now() >= until, 1_000, 'a late write');
        expect([
          ...(await keysStartingWith(admin, prefix)),
          ...(await keysStartingWith(admin, `b_${prefix}`)),
        ]).toEqual([]);
      } finally {
        await receiver.stop();
        admin.disconnect();
      }
    });
  }
});
