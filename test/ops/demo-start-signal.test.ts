import { describe, expect, it } from 'vitest';
import { spawnDemo } from '../support/demo-process.js';

/**
 * `npm run demo` stopped while its fleet is still starting: it must stop there — no launch, no
 * campaign — close what it started and exit 0 (its keys are deleted as in demo-signals.test.ts).
 */
describe('the demo stopped while its fleet starts', () => {
  it('launches nothing, cleans up and exits 0', async () => {
    // info: the embedded sandbox's "listening" log line marks the start of the fleet's start-up.
    const demo = spawnDemo('info');
    // The Redis connection, the workers and the API are started after the sandbox: the signal sent
    // as soon as the sandbox says it listens arrives while they are (the first of them takes far
    // longer than delivering a signal).
    await demo.waitFor((out) => (/embedded CXone sandbox listening/.test(out) ? true : undefined), 'start');
    demo.child.kill('SIGTERM');
    expect(await demo.exited, demo.out).toBe(0);
    expect(demo.out).toContain('SIGTERM: stopping the demo');
    expect(demo.out).toContain('Demo stopped before launching anything');
    expect(demo.out).not.toContain('POST /v1/campaigns');
  }, 90_000);
});
