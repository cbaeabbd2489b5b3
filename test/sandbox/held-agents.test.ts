import { afterEach, describe, expect, it } from 'vitest';
import { SANDBOX_DIRECTORY } from '../../src/sandbox/directory.js';
import { AgentPool, DialerSimulation } from '../../src/sandbox/dialer/simulation.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import type { DialerStrategy } from '../../src/shared/campaign-config.js';
import { activeCampaign, campaignStats, createBody, start, tokenFor } from './helpers.js';

/**
 * Progressive and preview dialing place each call for one agent, who is held for it (previewing the
 * record, then waiting on the line) until it is answered or given up: a live answer always has its
 * agent, so these modes never abandon — also on a skill group another campaign dials for. A model
 * that left the agent idle while the line rang let a predictive campaign of the same group take
 * that agent, and abandoned most of the progressive campaign's live answers, which no dialer does.
 */
const MINUTE = 60_000;
const COLLECTIONS = SANDBOX_DIRECTORY.skillGroups[2]!; // 40 agents

describe('dialer model: progressive and preview lines hold their agent', () => {
  const connected = (s: { answeredCalls: number; abandonedCalls: number }) =>
    s.answeredCalls - s.abandonedCalls;

  for (const strategy of ['progressive', 'preview'] as const) {
    for (const heldFirst of [true, false]) {
      it(`${strategy} never abandons beside a predictive campaign over-dialing the same group (${heldFirst ? 'joined first' : 'joined second'})`, () => {
        const pool = new AgentPool(20);
        const make = (mode: 'held' | 'greedy') =>
          mode === 'held'
            ? new DialerSimulation({
                agents: 20,
                pool,
                answerProb: 0.35,
                seed: 1,
                callRate: 0.1,
                strategy,
                startMs: 0,
              })
            : new DialerSimulation({
                agents: 20,
                pool,
                answerProb: 0.35,
                seed: 2,
                callRate: 1.0,
                strategy: 'predictive',
                startMs: 0,
              });
        const first = make(heldFirst ? 'held' : 'greedy');
        const second = make(heldFirst ? 'greedy' : 'held');
        const [held, greedy] = heldFirst ? [first, second] : [second, first];
        held.advanceTo(4 * 60 * MINUTE);
        const mine = held.snapshot();
        const theirs = greedy.snapshot();
        expect(mine.answeredCalls).toBeGreaterThan(100);
        expect(mine.abandonedCalls).toBe(0);
        // The predictive campaign still over-dials what is left of the group, and abandons.
        expect(theirs.abandonedCalls).toBeGreaterThan(0);
        // Neither starves the other: holding an agent is bounded by the campaign's share of the group.
        const both = connected(mine) + connected(theirs);
        expect(connected(mine)).toBeGreaterThan(both * 0.25);
        expect(connected(theirs)).toBeGreaterThan(both * 0.25);
        expect(pool.busyAgents).toBeLessThanOrEqual(pool.agents);
      });
    }
  }

  it('holds no agent once a line gives up: a campaign alone keeps its one line per idle agent', () => {
    const run = (strategy: DialerStrategy['strategy']) => {
      const sim = new DialerSimulation({
        agents: 10,
        answerProb: 0.35,
        seed: 5,
        callRate: 0.1,
        strategy,
        startMs: 0,
      });
      sim.advanceTo(120 * MINUTE);
      return sim.snapshot();
    };
    // At callRate 0.1 predictive dials one line per idle agent too; alone, the three place the
    // same dials (preview later, after each preview) and none abandons.
    const progressive = run('progressive');
    expect(progressive).toEqual({ ...run('predictive') });
    expect(progressive.abandonedCalls).toBe(0);
    expect(run('preview').abandonedCalls).toBe(0);
  });
});

describe('sandbox: a progressive campaign sharing a skill group with a predictive one', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  it('reports no abandoned calls for the progressive campaign over real HTTP', async () => {
    const clock = new ManualClock(Date.parse('2026-12-02T15:00:00Z')); // Wednesday 10:00 New York
    sandbox = await start({
      clock,
      tokenTtlSeconds: 86_400,
      rateLimit: { perWindow: 1000, windowMs: 60_000 },
    });
    const token = await tokenFor(sandbox);
    const campaign = async (strategy: DialerStrategy['strategy'], callRate: number) => {
      const body = createBody();
      body.type = strategy;
      body.dialerSettings.strategy = strategy;
      body.dialerSettings.skillGroupId = COLLECTIONS.id;
      body.dialerSettings.agentCapacity = 40;
      body.dialerSettings.callRate = callRate;
      return (await activeCampaign(sandbox!, token, body)).id;
    };
    const progressive = await campaign('progressive', 0.1);
    const predictive = await campaign('predictive', 1.0);
    clock.advance(90 * MINUTE);
    const held = await campaignStats(sandbox, token, progressive);
    const greedy = await campaignStats(sandbox, token, predictive);
    expect(held.answeredCalls).toBeGreaterThan(50);
    expect(held.abandonedCalls).toBe(0);
    expect(greedy.abandonedCalls).toBeGreaterThan(0);
    expect(greedy.answeredCalls - greedy.abandonedCalls).toBeGreaterThan(50);
  });
});
