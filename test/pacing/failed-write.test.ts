import { describe, expect, it } from 'vitest';
import { ControllerLoop } from './controller-loop.js';

/**
 * A change the controller decided that never reached CXone (the command failed, or was rejected):
 * the next poll finds the campaign at the rate it decided from.
 */
describe('a change that did not land', () => {
  it('a back-off whose write failed is decided again at once, on the evidence that called for it', () => {
    const loop = new ControllerLoop(0.6, 2_000);
    const first = loop.poll(150_000, 100, 6);
    expect(first.direction).toBe('down');
    // The write failed: CXone still dials at 0.6.
    loop.callRate = 0.6;
    const next = loop.poll(15_000, 5, 0);
    expect(next.direction).toBe('down');
    expect(next.callRate).toBeLessThan(0.6);
  });

  it('across a reset of the counters, the restored window still counts the calls before it', () => {
    const loop = new ControllerLoop(0.6, 2_000);
    expect(loop.poll(150_000, 100, 6).direction).toBe('down');
    loop.callRate = 0.6;
    // CXone reset its counters meanwhile: still below a minute later, a reset.
    expect(loop.read(15_000, 10, 0).direction).toBe('hold');
    const next = loop.read(60_000, 30, 1);
    // The window holds the 100 answers and 6 abandons that called for the back-off, and the 30 and 1 since.
    expect(next.inputs).toMatchObject({ windowAnswered: 130, windowAbandoned: 7 });
    expect(next.direction).toBe('down');
  });

  it("an operator's rate set after a change landed is still theirs: judged on its own calls, after a cooldown", () => {
    const loop = new ControllerLoop(0.6, 2_000);
    const first = loop.poll(150_000, 100, 6);
    expect(first.direction).toBe('down');
    // Landed, then an operator set 0.7.
    loop.poll(15_000, 5, 0);
    loop.callRate = 0.7;
    expect(loop.poll(15_000, 5, 1)).toMatchObject({
      direction: 'hold',
      reason: 'cooldown after the last change',
    });
  });
});
