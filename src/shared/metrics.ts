import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus registry and every metric the orchestrator exports. Modules import the
 * metric they feed from here, so names and labels are defined once.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'cxo_process_' });

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
export const limiterBudgetLeft = new Gauge({
  name: 'cxo_limiter_budget_left',
  help: 'Requests left in the current fleet-wide window, by endpoint',
  labelNames: ['endpoint'] as const,
  registers: [registry],
});
export const tokenRefreshes = new Counter({
  name: 'cxo_token_refreshes_total',
  help: 'OAuth token acquisitions by outcome',
  labelNames: ['outcome'] as const,
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
export const complianceActions = new Counter({
  name: 'cxo_compliance_actions_total',
  help: 'Compliance actions by kind (window_pause, window_resume, guard_throttle, guard_pause, refused_resume)',
  labelNames: ['kind'] as const,
  registers: [registry],
});
export const webhookOutcomes = new Counter({
  name: 'cxo_webhook_deliveries_total',
  help: 'Webhook delivery attempts by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
export const auditWrites = new Counter({
  name: 'cxo_audit_writes_total',
  help: 'Audit records appended by action',
  labelNames: ['action'] as const,
  registers: [registry],
});
