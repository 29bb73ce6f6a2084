/**
 * The sidecar's Prometheus metrics. Cache and upstream figures are read from the client's
 * counters when /metrics is scraped, so the request path pays nothing for them.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CharterClient, ClientStats } from '../client/index.js';

export interface SidecarMetrics {
  readonly registry: Registry;
  /** Answers given, by rpc (Authorize, BatchAuthorize) and effect (ALLOW, DENY). */
  readonly decisions: Counter<'rpc' | 'effect'>;
}

export function createSidecarMetrics(client: CharterClient, options: { defaultMetrics?: boolean } = {}): SidecarMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'charter_sidecar_' });
  // One stats() snapshot per scrape, shared by every metric below.
  let snapshot: ClientStats | undefined;
  let takenAt = -1;
  const stats = (): ClientStats => {
    const now = Date.now();
    if (snapshot === undefined || now - takenAt > 100) {
      snapshot = client.stats();
      takenAt = now;
    }
    return snapshot;
  };
  const counter = (name: string, help: string, read: (s: ClientStats) => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  };
  counter('charter_sidecar_cache_hits_total', 'Checks answered from the decision cache', (s) => s.hits);
  counter('charter_sidecar_cache_misses_total', 'Checks the cache could not answer', (s) => s.misses);
  counter('charter_sidecar_cache_evictions_total', 'Decisions evicted to keep the cache within its size', (s) => s.evictions);
  counter('charter_sidecar_cache_invalidated_total', 'Cached decisions dropped by invalidation events', (s) => s.invalidated);
  counter('charter_sidecar_stale_allows_refused_total', 'Cached ALLOWs not served because the invalidation stream was down', (s) => s.staleAllowsRefused);
  counter('charter_sidecar_coalesced_total', 'Checks that joined an identical call already in flight', (s) => s.coalesced);
  counter('charter_sidecar_upstream_calls_total', 'Authorize and BatchAuthorize calls made to the upstream server', (s) => s.rpcs);
  counter('charter_sidecar_failed_closed_total', 'Checks answered DENY because the upstream did not decide', (s) => s.failedClosed);
  counter('charter_sidecar_invalidation_events_total', 'Invalidation events received', (s) => s.invalidationEvents);
  counter('charter_sidecar_stream_reconnects_total', 'Invalidation stream resubscriptions', (s) => s.streamReconnects);
  new Counter({
    name: 'charter_sidecar_upstream_errors_total',
    help: 'Failed calls to the upstream server, by gRPC status',
    labelNames: ['code'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, n] of Object.entries(stats().errorsByCode)) this.inc({ code }, n);
    },
  });
  new Gauge({
    name: 'charter_sidecar_stream_connected',
    help: '1 while the invalidation stream from the upstream is delivering, else 0',
    registers: [registry],
    collect() {
      this.set(stats().streamConnected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'charter_sidecar_cache_entries',
    help: 'Decisions in the cache',
    registers: [registry],
    collect() {
      this.set(stats().size);
    },
  });
  const decisions = new Counter({
    name: 'charter_sidecar_decisions_total',
    help: 'Answers given to local callers, by rpc and effect',
    labelNames: ['rpc', 'effect'] as const,
    registers: [registry],
  });
  return { registry, decisions };
}
