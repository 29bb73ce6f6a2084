/**
 * Prometheus metrics of one server, on its own registry (several servers may share a process
 * in tests). The request path records decisions in a DecisionTally (an array store); the tally
 * hands them to prom-client in batches and before every scrape.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DecisionTally } from './decision-tally.js';

export interface ServerMetrics {
  readonly registry: Registry;
  readonly decisions: Counter<'effect' | 'transport'>;
  readonly decisionSeconds: Histogram<'rpc'>;
  readonly reloads: Counter;
  readonly reloadFailures: Counter;
  readonly revisionInfo: Gauge<'policy_revision'>;
  readonly attributeRevision: Gauge;
  readonly policyRules: Gauge;
  readonly invalidationSubscribers: Gauge;
  readonly invalidationEvents: Counter<'kind'>;
  readonly rejectedRequests: Counter<'reason'>;
  /** Marks `revision` as the current policy revision (value 1; the previous one is removed). */
  setPolicyRevision(revision: string, ruleCount: number): void;
  /** Batched decision counts and latencies for `rpc` over `transport` (see DecisionTally). */
  tally(rpc: string, transport: string): DecisionTally;
}

export function createServerMetrics(options: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  // Tallies hold decisions not yet handed to prom-client: a scrape flushes them first.
  const tallies = new Map<string, DecisionTally>();
  const flushTallies = (): void => {
    for (const t of tallies.values()) t.flush();
  };
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'charter_' });
  const decisions = new Counter({
    name: 'charter_decisions_total',
    help: 'Decisions made, by effect (ALLOW, DENY) and transport (grpc, http)',
    labelNames: ['effect', 'transport'] as const,
    registers: [registry],
    collect: flushTallies,
  });
  const decisionSeconds = new Histogram({
    name: 'charter_decision_duration_seconds',
    help: 'Time to answer one Authorize (or a whole BatchAuthorize) call, from request decoded to answer handed to the transport',
    labelNames: ['rpc'] as const,
    buckets: [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [registry],
    collect: flushTallies,
  });
  const reloads = new Counter({ name: 'charter_policy_reloads_total', help: 'Policy sets loaded and swapped in', registers: [registry] });
  const reloadFailures = new Counter({
    name: 'charter_policy_reload_failures_total',
    help: 'Policy reloads rejected (the last good set kept serving)',
    registers: [registry],
  });
  // Aggregators say how --workers combines one series from several workers (default: sum).
  const revisionInfo = new Gauge({
    name: 'charter_policy_revision_info',
    help: 'The policy revision being served (value 1)',
    aggregator: 'max',
    labelNames: ['policy_revision'] as const,
    registers: [registry],
  });
  const attributeRevision = new Gauge({ name: 'charter_attribute_revision', help: 'Latest attribute store revision seen', aggregator: 'max', registers: [registry] });
  const policyRules = new Gauge({ name: 'charter_policy_rules', help: 'Rules in the policy set being served', aggregator: 'max', registers: [registry] });
  const invalidationSubscribers = new Gauge({
    name: 'charter_invalidation_subscribers',
    help: 'Open Invalidation.Subscribe streams',
    registers: [registry],
  });
  const invalidationEvents = new Counter({
    name: 'charter_invalidation_events_total',
    help: 'Invalidation events published, by kind (policy, attributes, flush)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const rejectedRequests = new Counter({
    name: 'charter_rejected_requests_total',
    help: 'Calls refused before deciding, by reason (invalid_argument, deadline_exceeded, unauthenticated, permission_denied, overloaded)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  return {
    registry,
    decisions,
    decisionSeconds,
    reloads,
    reloadFailures,
    revisionInfo,
    attributeRevision,
    policyRules,
    invalidationSubscribers,
    invalidationEvents,
    rejectedRequests,
    setPolicyRevision(revision, ruleCount) {
      revisionInfo.reset();
      revisionInfo.set({ policy_revision: revision }, 1);
      policyRules.set(ruleCount);
    },
    tally(rpc, transport) {
      const key = `${rpc}\0${transport}`;
      let t = tallies.get(key);
      if (t === undefined) {
        t = new DecisionTally(decisions.labels('ALLOW', transport), decisions.labels('DENY', transport), decisionSeconds.labels(rpc));
        tallies.set(key, t);
      }
      return t;
    },
  };
}
