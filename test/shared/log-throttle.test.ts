import { describe, expect, it } from 'vitest';
import { createLogThrottle } from '../../src/shared/log-throttle.js';

describe('createLogThrottle', () => {
  it('logs a key once per interval and says how many repeats it left out', () => {
    let now = 0;
    const throttle = createLogThrottle(5_000, () => now);
    const logged: Array<[string, number]> = [];
    const log = (key: string) => throttle(key, (suppressed) => logged.push([key, suppressed]));

    log('launch:Connection is closed.');
    for (let i = 0; i < 40; i++) {
      now += 100;
      log('launch:Connection is closed.');
    }
    // Another worker's (or another message's) line is not held back by the first.
    log('poll:Connection is closed.');
    expect(logged).toEqual([
      ['launch:Connection is closed.', 0],
      ['poll:Connection is closed.', 0],
    ]);
    now += 1_000; // 5 s after the first line
    log('launch:Connection is closed.');
    expect(logged.at(-1)).toEqual(['launch:Connection is closed.', 40]);
  });
});
