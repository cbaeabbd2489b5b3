import { describe, expect, it } from 'vitest';
import { newEventId } from '../../src/shared/events/publisher.js';

describe('newEventId', () => {
  it('gives evt_ and 128 random bits in hex, never the same id twice, across pool refills', () => {
    // 4 096-byte pool, 16 bytes per id: 3 000 ids span a dozen refills.
    const ids = Array.from({ length: 3_000 }, () => newEventId());
    for (const id of ids) expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // Random, not a counter: the ids do not share a prefix beyond chance.
    const firstChars = new Set(ids.map((id) => id.slice(4, 5)));
    expect(firstChars.size).toBe(16);
  });
});
