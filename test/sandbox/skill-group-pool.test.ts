import { afterEach, describe, expect, it } from 'vitest';
import { SANDBOX_DIRECTORY } from '../../src/sandbox/directory.js';
import type { RunningSandbox } from '../../src/sandbox/server.js';
import { ManualClock } from '../../src/shared/clock.js';
import { CXONE_SCOPES, type CampaignStats } from '../../src/shared/cxone/wire.js';
import { activeCampaign, campaignStats, createBody, FLEET, patch, start, tokenFor } from './helpers.js';

const MINUTE = 60_000;
const COLLECTIONS = SANDBOX_DIRECTORY.skillGroups[2]!; // 40 agents
const RETENTION = SANDBOX_DIRECTORY.skillGroups[1]!; // 500 agents

const connected = (s: { answeredCalls: number; abandonedCalls: number }) =>
  s.answeredCalls - s.abandonedCalls;
const abandonment = (s: { answeredCalls: number; abandonedCalls: number }) =>
  s.abandonedCalls / s.answeredCalls;

describe('sandbox: campaigns on one skill group share its logged-in agents', () => {
  let sandbox: RunningSandbox | undefined;
  afterEach(async () => {
    await sandbox?.close();
    sandbox = undefined;
  });

  async function activate(s: RunningSandbox, token: string, groupId = COLLECTIONS.id) {
    const body = createBody();
    body.dialerSettings.skillGroupId = groupId;
    body.dialerSettings.agentCapacity = 40;
    body.dialerSettings.callRate = 0.3;
    return activeCampaign(s, token, body);
  }

  const stats = campaignStats;

  /** A client of a tenant of its own with every scope: another CXone business unit. */
  const OTHER_TENANT = { clientId: 'other-unit', clientSecret: 'other-secret' } as const;

  /**
   * `campaigns` campaigns of 40 on the 40-agent Collections group, 90 simulated minutes; with
   * `tenants`, the i-th campaign is created by the i-th client (each its own tenant).
   */
  async function run(
    campaigns: number,
    tenants: readonly { clientId: string; clientSecret: string }[] = [FLEET],
  ): Promise<CampaignStats[]> {
    const clock = new ManualClock(Date.parse('2026-12-02T15:00:00Z')); // Wednesday 10:00 New York
    sandbox = await start({
      clock,
      tokenTtlSeconds: 86_400,
      rateLimit: { perWindow: 1000, windowMs: 60_000 },
      clients: [
        { ...FLEET, scopes: [...CXONE_SCOPES] },
        { ...OTHER_TENANT, scopes: [...CXONE_SCOPES] },
      ],
    });
    const tokens = await Promise.all(tenants.map((client) => tokenFor(sandbox!, client)));
    const tokenOf = (i: number) => tokens[Math.min(i, tokens.length - 1)]!;
    const ids: string[] = [];
    for (let i = 0; i < campaigns; i++) ids.push((await activate(sandbox, tokenOf(i))).id);
    clock.advance(90 * MINUTE);
    const out: CampaignStats[] = [];
    for (const [i, id] of ids.entries()) out.push(await stats(sandbox, tokenOf(i), id));
    await sandbox.close();
    sandbox = undefined;
    return out;
  }

  it('two campaigns of 40 on a 40-agent group dial for 40 agents between them, not 80', async () => {
    const [alone] = await run(1);
    const pair = await run(2);
    const [a, b] = pair as [CampaignStats, CampaignStats];
    expect(connected(alone!)).toBeGreaterThan(500);
    // Live answers connected to an agent: the group's 40 agents, shared.
    expect(connected(a) + connected(b)).toBeLessThan(connected(alone!) * 1.25);
    // Each dials on idle agents the other also counts on: abandonment rises for both.
    expect(abandonment(a)).toBeGreaterThan(abandonment(alone!) + 0.02);
    expect(abandonment(b)).toBeGreaterThan(abandonment(alone!) + 0.02);
  });

  it("another tenant's group of the same id has agents of its own: its campaign takes none of this tenant's", async () => {
    // One directory serves every tenant, so both name Collections by the same id; on CXone a
    // business unit's agents are its own, so the two campaigns dial exactly as each would alone.
    const [alone] = await run(1);
    const [ours, theirs] = (await run(2, [FLEET, OTHER_TENANT])) as [CampaignStats, CampaignStats];
    expect(ours).toEqual(alone);
    expect(connected(theirs)).toBeGreaterThan(connected(alone!) * 0.8);
    expect(abandonment(theirs)).toBeLessThan(abandonment(alone!) + 0.02);
  });

  it('a campaign moved to another skill group dials on that group from then on, its counters kept', async () => {
    const clock = new ManualClock(Date.parse('2026-12-02T15:00:00Z'));
    sandbox = await start({
      clock,
      tokenTtlSeconds: 86_400,
      rateLimit: { perWindow: 1000, windowMs: 60_000 },
    });
    const token = await tokenFor(sandbox);
    const a = await activate(sandbox, token);
    const b = await activate(sandbox, token);
    clock.advance(30 * MINUTE);
    const before = await stats(sandbox, token, a.id);
    const moved = await patch(sandbox, token, a.id, a.version, {
      dialerSettings: { skillGroupId: RETENTION.id },
    });
    expect(moved.status).toBe(200);
    const bAtMove = await stats(sandbox, token, b.id);
    clock.advance(60 * MINUTE);
    const after = await stats(sandbox, token, a.id);
    const bAfter = await stats(sandbox, token, b.id);
    for (const key of ['totalCalls', 'answeredCalls', 'abandonedCalls'] as const) {
      expect(after[key]).toBeGreaterThanOrEqual(before[key]);
    }
    expect(after.totalCalls).toBeGreaterThan(before.totalCalls);
    // b has the Collections group to itself from the move on: it abandons far less than while shared.
    const sharedRate = abandonment(bAtMove);
    const aloneRate =
      (bAfter.abandonedCalls - bAtMove.abandonedCalls) / (bAfter.answeredCalls - bAtMove.answeredCalls);
    expect(aloneRate).toBeLessThan(sharedRate / 2);
  });
});
