/**
 * `npm run bench -- sandbox [--json] [--days N] [--campaigns N]`: how fast the sandbox's dialer models
 * catch up on simulated time, over real HTTP.
 *
 * A sped-up sandbox (a large SANDBOX_TIME_SCALE), a stats read after an idle spell and
 * `POST /__sandbox/time/skip` all run every active campaign's model over the stretch, judging each
 * dial by its calling windows and the federal hours. This starts an embedded sandbox, activates
 * `--campaigns` campaigns (default 4: 20, 50, 100 and 200 agents, sharing a 500-agent skill group,
 * New York windows 08:00–21:00 under the TCPA), skips `--days` simulated days (default 2) while a probe
 * reads a campaign every 10 ms, then reads every campaign's stats. Figures:
 *   msPerCampaignDay  wall time of the skip and the reads ÷ (campaigns × days)
 *   dialsPerSec       dials simulated per second of it
 *   probeMaxMs        the slowest probe answered meanwhile (the sandbox kept answering)
 * With --json the last stdout line is {"msPerCampaignDay":..,"dialsPerSec":..,"probeMaxMs":..,"dials":..}.
 */
import { startSandbox } from '../src/sandbox/server.js';
import { CXONE_SCOPES, campaignStatsSchema, type CreateCampaignRequest } from '../src/shared/cxone/wire.js';
import { call, createBody, type Reply } from '../test/sandbox/requests.js';

const DAY_MS = 86_400_000;
const AGENTS = [20, 50, 100, 200];
const CLIENT = { clientId: 'bench-client', clientSecret: 'bench-secret' };

function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i === -1) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a whole number above 0`);
  return v;
}

/** The tests' create body (New York's 08:00–21:00 under the TCPA) with `agents` on the 500-agent group. */
function campaign(i: number, agents: number): CreateCampaignRequest {
  const body = createBody({ name: `Sandbox bench ${i}` });
  body.dialerSettings.agentCapacity = agents;
  return body;
}

async function expectOk(reply: Promise<Reply>, what: string) {
  const { status, body } = await reply;
  if (status < 200 || status > 299) throw new Error(`${what}: ${status} ${JSON.stringify(body)}`);
  return body;
}

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const days = numberArg(args, '--days', 2);
  const count = numberArg(args, '--campaigns', AGENTS.length);
  const sandbox = await startSandbox({
    port: 0,
    clients: [{ ...CLIENT, scopes: [...CXONE_SCOPES] }],
    rateLimit: { perWindow: 1_000_000, windowMs: 60_000 },
  });
  try {
    const token = (
      await expectOk(
        call(sandbox, 'POST', '/oauth2/token', {
          form: {
            grant_type: 'client_credentials',
            client_id: CLIENT.clientId,
            client_secret: CLIENT.clientSecret,
          },
        }),
        'token',
      )
    ).access_token as string;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const created = await expectOk(
        call(sandbox, 'POST', '/api/v2/campaigns', { token, body: campaign(i, AGENTS[i % AGENTS.length]!) }),
        'create',
      );
      const id = created.id as string;
      await expectOk(
        call(sandbox, 'PATCH', `/api/v2/campaigns/${id}`, {
          token,
          headers: { 'if-match': 'version=1' },
          body: { status: 'scheduled' },
        }),
        'schedule',
      );
      await expectOk(
        call(sandbox, 'PATCH', `/api/v2/campaigns/${id}`, {
          token,
          headers: { 'if-match': 'version=2' },
          body: { status: 'active' },
        }),
        'activate',
      );
      ids.push(id);
    }

    const probes: number[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t0 = performance.now();
        await expectOk(call(sandbox, 'GET', `/api/v2/campaigns/${ids[0]}`, { token }), 'probe');
        probes.push(performance.now() - t0);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    const began = performance.now();
    await expectOk(call(sandbox, 'POST', '/__sandbox/time/skip', { body: { ms: days * DAY_MS } }), 'skip');
    let dials = 0;
    for (const id of ids) {
      const stats = campaignStatsSchema.parse(
        await expectOk(call(sandbox, 'GET', `/api/v2/outbound/campaigns/${id}/stats`, { token }), 'stats'),
      );
      dials += stats.totalCalls;
    }
    const tookMs = performance.now() - began;
    probing = false;
    await probe;

    const result = {
      msPerCampaignDay: Math.round((tookMs / (count * days)) * 10) / 10,
      dialsPerSec: Math.round(dials / (tookMs / 1000)),
      probeMaxMs: Math.round(Math.max(0, ...probes)),
      dials,
    };
    console.log(
      `sandbox catch-up: ${count} campaigns (${ids.map((_, i) => AGENTS[i % AGENTS.length]).join(', ')} agents on one ` +
        `500-agent skill group), ${days} simulated days skipped and read in ${Math.round(tookMs)} ms\n` +
        `  ${result.msPerCampaignDay} ms per campaign-day, ${result.dials} dials (${result.dialsPerSec}/s); ` +
        `${probes.length} probes answered meanwhile, slowest ${result.probeMaxMs} ms`,
    );
    if (json) console.log(JSON.stringify(result));
  } finally {
    await sandbox.close();
  }
}
