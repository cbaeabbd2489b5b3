import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { withTimeout } from './with-timeout.js';

/**
 * The process's Prometheus registry and every metric the orchestrator exports. Modules import the
 * metric they feed from here, so names and labels are defined once.
 */
export const registry = new Registry();
// Default metric names already start with process_ or nodejs_; the cxo_ prefix keeps them apart from other apps'.
collectDefaultMetrics({ register: registry, prefix: 'cxo_' });

export const cxoneCalls = new Counter({
  name: 'cxo_cxone_calls_total',
  help: 'CXone HTTP calls by endpoint (route template) and status (HTTP code or error kind)',
  labelNames: ['endpoint', 'status'] as const,
  registers: [registry],
});
export const cxoneCallDuration = new Histogram({
  name: 'cxo_cxone_call_duration_seconds',
  help: 'CXone HTTP call latency by endpoint',
  labelNames: ['endpoint'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
export const cxoneRateLimited = new Counter({
  name: 'cxo_cxone_429_total',
  help: 'CXone 429 responses by endpoint',
  labelNames: ['endpoint'] as const,
  registers: [registry],
});
/** Reads one endpoint's budget left from Redis; registered by each live endpoint limiter. */
export type BudgetReader = () => Promise<{ endpoint: string; left: number }>;
const budgetReaders = new Set<BudgetReader>();

/** Registers a reader for scrape time; returns its removal. */
export function registerBudgetReader(reader: BudgetReader): () => void {
  budgetReaders.add(reader);
  return () => void budgetReaders.delete(reader);
}

export const limiterBudgetLeft = new Gauge({
  name: 'cxo_limiter_budget_left',
  help: 'Requests left in the current fleet-wide window, by endpoint (endpoints this process calls; read at scrape time)',
  labelNames: ['endpoint'] as const,
  registers: [registry],
});

/**
 * Sets `cxo_limiter_budget_left` from the fleet's call log, for a scrape: a value kept from this
 * process's last permit goes stale as the window slides and other processes spend the budget. An
 * endpoint that does not answer within `timeoutMs` has no value for this scrape (see below).
 */
export async function refreshLimiterBudgets(timeoutMs: number): Promise<void> {
  const budgets = await Promise.all(
    [...budgetReaders].map((read) =>
      withTimeout(read(), timeoutMs, 'Redis (limiter budget)').catch(() => null),
    ),
  );
  // An endpoint whose budget could not be read this scrape has no value rather than its last one:
  // a budget frozen at a healthy figure during a Redis outage would read as all is well.
  limiterBudgetLeft.reset();
  for (const budget of budgets) if (budget) limiterBudgetLeft.set({ endpoint: budget.endpoint }, budget.left);
}

/**
 * Operators' calls (bounded control calls: an HTTP client waits; docs/limiter.md, "Operators' calls
 * before jobs"). Fed by src/shared/limiter/operator-metrics.ts, in process, without a Redis command.
 * `path`: `ahead_of_jobs` (taken from the hard window ahead of the fleet's jobs) or `share_spent`
 * (the operators' share of the window was used up: it queued for a permit with the jobs).
 */
export const limiterOperatorWait = new Histogram({
  name: 'cxo_limiter_operator_wait_seconds',
  help: "Wait of an operator's call (a bounded control call: an HTTP client waits) for its CXone slot, by endpoint and path (ahead_of_jobs, share_spent); calls that got no slot are in cxo_limiter_operator_gave_up_total",
  labelNames: ['endpoint', 'path'] as const,
  // The API's bound is 3 s (API_LIMITER_MAX_WAIT_MS); a turn is about one spacing (606 ms at 100/min).
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3],
  registers: [registry],
});
export const limiterOperatorYields = new Counter({
  name: 'cxo_limiter_operator_yields_total',
  help: "Slots a call gave up at the limiter's hard check to an operator's call waiting anywhere in the fleet (the call asks for its next permit), by endpoint; counted by the process whose call yielded",
  labelNames: ['endpoint'] as const,
  registers: [registry],
});
export const limiterOperatorGaveUp = new Counter({
  name: 'cxo_limiter_operator_gave_up_total',
  help: "Operators' calls that ended without a CXone slot, by endpoint and reason (budget, penalty, redis_unavailable, aborted, closed, error)",
  labelNames: ['endpoint', 'reason'] as const,
  registers: [registry],
});
/** Fed by src/producers/auth-throttle.ts. */
export const authThrottled = new Counter({
  name: 'cxo_api_auth_throttled_total',
  help: 'API requests answered 429 too_many_failed_auth: a missing or wrong credential from a client address past its failed-authentication limit',
  registers: [registry],
});
export const tokenRefreshes = new Counter({
  name: 'cxo_token_refreshes_total',
  help: 'OAuth token acquisitions by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const cxoneCredentialsRefused = new Gauge({
  name: 'cxo_cxone_credentials_refused',
  help: "1 while CXone's token endpoint refuses this process's OAuth client credentials (its last answer was 400/401), else 0",
  registers: [registry],
});
export const cxoneScopeMissing = new Gauge({
  name: 'cxo_cxone_scope_missing',
  help: '1 for each OAuth scope this process asked for that its current CXone access token was not granted (its endpoints answer 403), else 0',
  labelNames: ['scope'] as const,
  registers: [registry],
});
export const jobDuration = new Histogram({
  name: 'cxo_job_duration_seconds',
  help: 'Job processing time by queue and outcome',
  labelNames: ['queue', 'outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [registry],
});
export const pacingDecisions = new Counter({
  name: 'cxo_pacing_decisions_total',
  help: 'Pacing decisions by strategy and direction',
  labelNames: ['strategy', 'direction'] as const,
  registers: [registry],
});
export const pacingDeferrals = new Counter({
  name: 'cxo_pacing_deferrals_total',
  help: 'Poll pacing steps that did not run, by reason (command_running, changed_since_read, command_queued, command_accepted_ahead, turn_lapsed, own_change_pending): see src/shared/pacing/deferrals.ts',
  labelNames: ['reason'] as const,
  registers: [registry],
});
export const complianceActions = new Counter({
  name: 'cxo_compliance_actions_total',
  help: 'Compliance actions by kind (window_pause, window_resume, guard_throttle, guard_pause, refused_resume, outside_change_noncompliant, …)',
  labelNames: ['kind'] as const,
  registers: [registry],
});
export const webhookOutcomes = new Counter({
  name: 'cxo_webhook_deliveries_total',
  help: 'Webhook delivery job runs by outcome, each run counted once',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const webhookDestinationBackoffs = new Counter({
  name: 'cxo_webhook_destination_backoffs_total',
  help: 'Holds of every webhook delivery the receiver asked for (408/429/503), by status; each hold counted once, by the process whose answer began it',
  labelNames: ['status'] as const,
  registers: [registry],
});

/** Reads the hold left on webhook deliveries from Redis (ms); registered by each live webhook worker. */
export type WebhookHoldReader = () => Promise<number>;
const webhookHoldReaders = new Set<WebhookHoldReader>();

const WEBHOOK_HOLD_GAUGE = 'cxo_webhook_destination_backoff_seconds';
export const webhookDestinationBackoff = new Gauge({
  name: WEBHOOK_HOLD_GAUGE,
  help: 'Seconds left of the fleet-wide hold on webhook deliveries (0 when they flow), read from Redis at scrape time by processes running a webhook worker; NaN when Redis did not answer',
  // In the registry only while a webhook worker lives in the process (registerWebhookHoldReader): a
  // process without one (the api role) cannot read the hold, and a 0 from it would outvote the NaN of
  // every worker in a fleet-wide `max` while Redis is down — PromQL's max takes a number over NaN.
  registers: [],
});

/**
 * Registers a reader for scrape time; returns its removal. The gauge is exported from the first
 * reader's registration to the last one's removal, so only processes that can read the hold report it.
 */
export function registerWebhookHoldReader(reader: WebhookHoldReader): () => void {
  webhookHoldReaders.add(reader);
  if (!registry.getSingleMetric(WEBHOOK_HOLD_GAUGE)) {
    registry.registerMetric(webhookDestinationBackoff);
  }
  return () => {
    webhookHoldReaders.delete(reader);
    if (webhookHoldReaders.size === 0) {
      registry.removeSingleMetric(WEBHOOK_HOLD_GAUGE);
      // A later worker in the same process starts from "unknown", not from the last one's reading.
      webhookDestinationBackoff.reset();
    }
  };
}

/**
 * Sets `cxo_webhook_destination_backoff_seconds` for a scrape, within the scrape's own deadline and
 * beside its other Redis reads: read in the gauge's collect(), after them, it added up to a second
 * of its own to a scrape promised to take at most that deadline. Redis not answering reads as NaN,
 * not as "no hold"; a process without a webhook worker does not export the gauge at all.
 */
export async function refreshWebhookHold(timeoutMs: number): Promise<void> {
  // Every worker reads the same fleet-wide key: one reader is enough.
  const [read] = webhookHoldReaders;
  if (!read) return;
  try {
    const ms = await withTimeout(read(), timeoutMs, 'Redis (webhook hold)');
    webhookDestinationBackoff.set(ms / 1000);
  } catch {
    webhookDestinationBackoff.set(Number.NaN);
  }
}
export const auditWrites = new Counter({
  name: 'cxo_audit_writes_total',
  help: 'Audit records appended by action',
  labelNames: ['action'] as const,
  registers: [registry],
});
export const queueJobs = new Gauge({
  name: 'cxo_queue_jobs',
  help: 'Jobs per BullMQ queue and state, read from Redis at scrape time',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});
export const queueScrapeOk = new Gauge({
  name: 'cxo_queue_scrape_ok',
  help: '1 when the last scrape could read the queue depths from Redis, 0 when Redis did not answer in time',
  registers: [registry],
});
export const lifecycleCommands = new Counter({
  name: 'cxo_lifecycle_commands_total',
  help: 'Campaign commands by kind (pause, resume, stop, patch) and outcome (queued, succeeded, failed, conflict, rejected)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});
export const lifecycleRebases = new Counter({
  name: 'cxo_lifecycle_rebases_total',
  help: 'CXone 409 version conflicts resolved by re-reading and rebasing a command',
  registers: [registry],
});
export const lifecycleRollbacks = new Counter({
  name: 'cxo_lifecycle_rollbacks_total',
  help: 'Rollbacks of partly applied commands by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const lifecycleLockWaits = new Counter({
  name: 'cxo_lifecycle_lock_waits_total',
  help: 'Adjust jobs delayed because another worker held the campaign lock',
  registers: [registry],
});
export const launchOutcomes = new Counter({
  name: 'cxo_launches_total',
  help: 'Finished launches by outcome (activated, scheduled, failed)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const polledCampaigns = new Gauge({
  name: 'cxo_polled_campaigns',
  help: 'Campaigns with a statistics poll scheduler, fleet-wide, read from Redis at scrape time (NaN when Redis did not answer)',
  registers: [registry],
});
export const pollIntervalFloor = new Gauge({
  name: 'cxo_poll_interval_floor_seconds',
  help: 'Shortest poll interval the stats endpoint budget allows each campaign (intervals below it are stretched); NaN when Redis did not answer',
  registers: [registry],
});
