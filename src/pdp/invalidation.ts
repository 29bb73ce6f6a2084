/**
 * Invalidations for client caches: a new policy revision (flush everything), or the entities
 * and tuples a store commit changed. Commits are noticed from this process (`onCommit`) and by
 * polling the store revision, so writes from another process (an import, another worker) are
 * pushed too.
 */
import type { Logger } from 'pino';

export interface TupleKey {
  object: string;
  relation: string;
  subject: string;
}

/** The shape of `charter.v1.InvalidationEvent` (camelCase, as the gRPC layer sends it). */
export interface InvalidationEvent {
  policyRevision: string;
  attributeRevision: number;
  /** Drop every cached decision (first event, new policy revision, unenumerable changes). */
  flushAll: boolean;
  entityIds: string[];
  tuples: TupleKey[];
  /** Nothing changed: keeps an idle stream visibly alive. */
  heartbeat?: boolean;
}

export type InvalidationListener = (event: InvalidationEvent) => void;

/** What the hub needs from the store. */
export interface ChangeFeed {
  revision(): number;
  /** The committed revision read afresh, for stores that keep theirs in memory. */
  refreshRevision?(): number;
  /** Changes after `revision` up to now; undefined when they can no longer be listed. */
  changesSince(revision: number): { fromRevision: number; toRevision: number; entityIds: string[]; tuples: TupleKey[] } | undefined;
  onCommit?(listener: (...args: unknown[]) => void): unknown;
}

export interface InvalidationHubOptions {
  store: ChangeFeed;
  policyRevision: () => string;
  logger: Logger;
  /** How often to look for commits made by other processes; 0 disables polling. */
  pollIntervalMs?: number;
  /** Called after each published event (metrics). */
  onPublish?: (event: InvalidationEvent, kind: 'policy' | 'attributes' | 'flush') => void;
}

export class InvalidationHub {
  private readonly listeners = new Set<InvalidationListener>();
  private lastRevision: number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribeStore: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: InvalidationHubOptions) {
    this.lastRevision = safeRevision(options.store, options.logger) ?? 0;
  }

  start(): void {
    const { store, pollIntervalMs = 150 } = this.options;
    if (typeof store.onCommit === 'function') {
      const off = store.onCommit(() => this.checkStore());
      if (typeof off === 'function') this.unsubscribeStore = off as () => void;
    }
    if (pollIntervalMs > 0) {
      this.timer = setInterval(() => this.checkStore(), pollIntervalMs);
      this.timer.unref();
    }
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** The revision invalidations have been published up to. */
  get attributeRevision(): number {
    return this.lastRevision;
  }

  /** The first event of a subscription: current revisions, flush everything. */
  snapshot(): InvalidationEvent {
    return { policyRevision: this.options.policyRevision(), attributeRevision: this.lastRevision, flushAll: true, entityIds: [], tuples: [] };
  }

  subscribe(listener: InvalidationListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** A new policy revision is being served: every cached decision is stale. */
  publishPolicyRevision(): void {
    this.publish({ ...this.snapshot() }, 'policy');
  }

  /** Publishes what changed in the store since the last check (cheap when nothing did). */
  checkStore(): void {
    if (this.closed) return;
    const { store, logger } = this.options;
    const current = safeRevision(store, logger);
    if (current === undefined || current <= this.lastRevision) return;
    const from = this.lastRevision;
    let changes: ReturnType<ChangeFeed['changesSince']>;
    try {
      changes = store.changesSince(from);
    } catch (err) {
      logger.warn({ err, fromRevision: from }, 'cannot list store changes; telling clients to flush');
      changes = undefined;
    }
    const to = changes ? Math.max(changes.toRevision, current) : current;
    this.lastRevision = to;
    if (!changes) {
      this.publish({ policyRevision: this.options.policyRevision(), attributeRevision: to, flushAll: true, entityIds: [], tuples: [] }, 'flush');
      return;
    }
    this.publish(
      {
        policyRevision: this.options.policyRevision(),
        attributeRevision: to,
        flushAll: false,
        entityIds: changes.entityIds,
        tuples: changes.tuples.map((t) => ({ object: t.object, relation: t.relation, subject: t.subject })),
      },
      'attributes',
    );
  }

  private publish(event: InvalidationEvent, kind: 'policy' | 'attributes' | 'flush'): void {
    if (this.closed) return;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.options.logger.warn({ err }, 'invalidation subscriber failed; dropping it');
        this.listeners.delete(listener);
      }
    }
    this.options.onPublish?.(event, kind);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.unsubscribeStore?.();
    this.listeners.clear();
  }
}

function safeRevision(store: ChangeFeed, logger: Logger): number | undefined {
  try {
    return Number(store.refreshRevision ? store.refreshRevision() : store.revision());
  } catch (err) {
    logger.warn({ err }, 'cannot read the store revision');
    return undefined;
  }
}
