import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { alertBrokenChains } from '../../src/shared/audit/alerts.js';
import type { VerifyResult } from '../../src/shared/audit/trail.js';
import type { EventPublisher } from '../../src/shared/events/types.js';
import { createKeys, type Keys } from '../../src/shared/keys.js';
import { silentLogger } from '../../src/shared/logger.js';
import { connect, deletePrefix, testPrefix } from './redis-helpers.js';

let redis: Redis;
let keys: Keys;
let prefix: string;

beforeAll(() => {
  prefix = testPrefix();
  keys = createKeys(prefix);
  redis = connect();
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

function brokenChain(campaignId: string): VerifyResult {
  const broken = { campaignId, auditId: 'a-1', index: 1, reason: 'missing_previous' as const };
  return { ok: false, checked: 2, campaigns: 1, firstBroken: broken, broken: [broken] };
}

/** An event publisher that records what it was asked to publish, failing while `failing` is set. */
function recordingPublisher() {
  const published: string[] = [];
  const publisher: EventPublisher & { failing: boolean } = {
    failing: false,
    async publish(type, campaignId) {
      if (publisher.failing) throw new Error('Redis went away');
      published.push(`${type}:${campaignId}`);
      return { id: 'evt', type, version: 1, campaignId, occurredAt: '', data: {} } as never;
    },
  };
  return { publisher, published };
}

describe('alertBrokenChains', () => {
  it('leaves the once-a-day claim to a run that can deliver the alert', async () => {
    const { publisher, published } = recordingPublisher();
    const deps = { redis, keys, events: publisher, logger: silentLogger };
    // An operator's CLI run without WEBHOOK_URL: recorded, nothing claimed.
    expect(await alertBrokenChains({ ...deps, webhooksEnabled: false }, brokenChain('c-1'))).toBe(1);
    expect(await alertBrokenChains({ ...deps, webhooksEnabled: false }, brokenChain('c-1'))).toBe(1);
    // The fleet, which delivers webhooks, still alerts — once.
    expect(await alertBrokenChains({ ...deps, webhooksEnabled: true }, brokenChain('c-1'))).toBe(1);
    expect(await alertBrokenChains({ ...deps, webhooksEnabled: true }, brokenChain('c-1'))).toBe(0);
    expect(published).toEqual(['audit.chain.alert:c-1', 'audit.chain.alert:c-1', 'audit.chain.alert:c-1']);
  });

  it('gives the claim back when the alert could not be published', async () => {
    const { publisher, published } = recordingPublisher();
    const deps = { redis, keys, events: publisher, logger: silentLogger, webhooksEnabled: true };
    publisher.failing = true;
    expect(await alertBrokenChains(deps, brokenChain('c-2'))).toBe(0);
    publisher.failing = false;
    expect(await alertBrokenChains(deps, brokenChain('c-2'))).toBe(1);
    expect(published).toEqual(['audit.chain.alert:c-2']);
  });

  it('a claim Redis refuses skips that alert, tells onFailure, and still alerts the other chains', async () => {
    const { publisher, published } = recordingPublisher();
    const failing = new Proxy(redis, {
      get(target, prop, receiver) {
        if (prop === 'set') {
          return (key: string, ...rest: unknown[]) =>
            // Matched on the whole key: a bare 'c-3' can turn up in the random test prefix itself
            // (a run name ending in c, a prefix starting with 3), which failed c-4's claim too.
            key.startsWith(keys.custom('audit-alerted', 'c-3', ''))
              ? Promise.reject(new Error('READONLY'))
              : (target.set as (...a: unknown[]) => unknown).call(target, key, ...rest);
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const failures: string[] = [];
    const three = brokenChain('c-3');
    const four = brokenChain('c-4');
    const both: VerifyResult = { ...three, broken: [...three.broken, ...four.broken] };
    const deps = {
      redis: failing,
      keys,
      events: publisher,
      logger: silentLogger,
      webhooksEnabled: true,
      onFailure: (b: { campaignId: string }, err: unknown) =>
        failures.push(`${b.campaignId}: ${(err as Error).message}`),
    };
    expect(await alertBrokenChains(deps, both)).toBe(1);
    expect(failures).toEqual(['c-3: READONLY']);
    expect(published).toEqual(['audit.chain.alert:c-4']);
  });
});
