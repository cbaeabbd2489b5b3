import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/shared/canonical-json.js';

/** The original definition, whose bytes stored audit hashes depend on. */
function reference(value: unknown): string {
  const sortDeep = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortDeep);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) out[key] = sortDeep((v as Record<string, unknown>)[key]);
      return out;
    }
    return v;
  };
  return JSON.stringify(sortDeep(JSON.parse(JSON.stringify(value ?? null)) as unknown));
}

/** A small deterministic PRNG so failures reproduce. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const KEYS = [
  'b',
  'a',
  'aa',
  'A',
  '10',
  '9',
  '0',
  '01',
  '-1',
  '1.5',
  'é',
  'z',
  '__proto__',
  '4294967295',
  '4294967294',
  '',
];

function randomValue(rand: () => number, depth: number): unknown {
  const pick = rand();
  if (depth > 3 || pick < 0.35) {
    const leaves: unknown[] = [
      'text',
      '',
      'é"\\\n',
      0,
      -0,
      1.5,
      -7,
      1e21,
      NaN,
      Infinity,
      true,
      false,
      null,
      undefined,
      new Date(Date.UTC(2026, 0, 2)),
    ];
    return leaves[Math.floor(rand() * leaves.length)];
  }
  if (pick < 0.55) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 6); i > 0; i--) {
    const key = KEYS[Math.floor(rand() * KEYS.length)] as string;
    Object.defineProperty(out, key, {
      value: randomValue(rand, depth + 1),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
  return out;
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"x":2,"y":1}]},"b":1}',
    );
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson([undefined, () => 1])).toBe('[null,null]');
    // Key order is not part of the value; array order is.
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: 'x' } })).toBe(
      canonicalJson({ a: { c: 'x', d: [1, 2] }, b: 1 }),
    );
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
  });

  it('writes exactly the bytes of the original stringify-sort-stringify definition', () => {
    const rand = prng(20261128);
    for (let i = 0; i < 3000; i++) {
      const value = randomValue(rand, 0);
      expect(canonicalJson(value)).toBe(reference(value));
    }
    // Array-index keys come first in numeric order, as JavaScript iterates a rebuilt object.
    expect(canonicalJson({ b: 1, 10: 1, 9: 1, a: 1, '01': 1 })).toBe('{"9":1,"10":1,"01":1,"a":1,"b":1}');
    expect(canonicalJson({ when: new Date(0), n: new Number(2), s: new String('x') })).toBe(
      reference({ when: new Date(0), n: new Number(2), s: new String('x') }),
    );
  });

  it('refuses what JSON refuses', () => {
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});
