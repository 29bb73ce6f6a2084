/**
 * The decision cache: an LRU of answers keyed by request, the reverse index that lets an
 * invalidation find the answers it affects, and the rules for what may be cached and served.
 *
 * - TTL: the server's `cache_ttl_ms` (0 = do not cache) capped by the client's `ttlMs`.
 * - Invalidation: a flush (first stream message, new policy revision) drops everything; an
 *   entity change drops the answers that read that entity; a tuple change drops every answer
 *   that read relations (correctness first: the client cannot see group nesting).
 * - Races: an answer made at an older revision than the stream has already announced, or with
 *   another policy revision, is returned but not cached.
 * - Cut off from the stream: cached ALLOWs older than `staleAllowMs` are not served, and new
 *   ALLOWs are cached for at most `staleAllowMs`. DENYs stay (a stale DENY fails closed).
 */
import { LRUCache } from 'lru-cache';
import type { AuthorizeResponseMessage, InvalidationEventMessage } from './proto.js';
import { cachedCopy, type CheckResult } from './result.js';

export interface CacheEntry {
  /** The answer for a hit, already resolved: a hit allocates nothing. */
  readonly hit: Promise<CheckResult>;
  readonly allowed: boolean;
  /** performance.now() when the question was sent (the answer is at least this old). */
  readonly fetchedAt: number;
  readonly entityIds: readonly string[];
  readonly relations: boolean;
  /** Identifier lengths of the cached request: a hit needs them equal (see key.ts). */
  readonly actorLength: number;
  readonly actionLength: number;
  readonly resourceLength: number;
}

export interface DecisionCacheOptions {
  maxEntries: number;
  ttlMs: number;
  staleAllowMs: number;
}

export interface CacheCounters {
  hits: number;
  misses: number;
  evictions: number;
  /** Entries dropped by invalidation events. */
  invalidated: number;
  /** Cached ALLOWs refused because the stream was down and they were too old. */
  staleAllowsRefused: number;
}

export class DecisionCache {
  readonly counters: CacheCounters = { hits: 0, misses: 0, evictions: 0, invalidated: 0, staleAllowsRefused: 0 };
  private readonly lru: LRUCache<string, CacheEntry>;
  private readonly byEntity = new Map<string, Set<string>>();
  private readonly relationKeys = new Set<string>();
  private readonly ttlMs: number;
  private readonly staleAllowMs: number;
  /** The invalidation stream is delivering (its first message arrived and it has not ended). */
  private connected = false;
  /** What the stream has announced; answers older than this are not cached. */
  private policyRevision: string | undefined;
  private attributeRevision = 0;

  constructor(options: DecisionCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.staleAllowMs = options.staleAllowMs;
    this.lru = new LRUCache<string, CacheEntry>({
      max: options.maxEntries,
      ttl: options.ttlMs,
      updateAgeOnGet: false,
      allowStale: false,
      dispose: (entry, key, reason) => {
        if (reason === 'evict') this.counters.evictions++;
        this.unindex(key, entry);
      },
    });
  }

  get size(): number {
    return this.lru.size;
  }

  get streamConnected(): boolean {
    return this.connected;
  }

  /** The hot path: the entry to answer from, or undefined (a miss). */
  lookup(key: string, actorLength: number, actionLength: number, resourceLength: number): CacheEntry | undefined {
    const entry = this.lru.get(key);
    if (entry === undefined || entry.actorLength !== actorLength || entry.actionLength !== actionLength || entry.resourceLength !== resourceLength) {
      this.counters.misses++;
      return undefined;
    }
    if (!this.connected && entry.allowed && performance.now() - entry.fetchedAt > this.staleAllowMs) {
      this.counters.staleAllowsRefused++;
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return entry;
  }

  /**
   * Caches `result` (the answer to `res`) for `request` under `key` when the rules allow; true
   * if cached. The request must be `cacheable` (key.ts). `sentAt` is performance.now() when the
   * question was sent: the server's TTL started then at the latest, so the time the answer took
   * to come back is taken off it (a time-window decision must not outlive its window).
   */
  store(key: string, request: { actor: string; action: string; resource: string }, res: AuthorizeResponseMessage, result: CheckResult, sentAt: number): boolean {
    const now = performance.now();
    let ttl = Math.min(Math.floor((Number(res.cacheTtlMs) || 0) - (now - sentAt)), this.ttlMs);
    if (!(ttl > 0)) return false;
    if (this.connected) {
      if (res.policyRevision !== this.policyRevision) return false;
      if (Number(res.attributeRevision) < this.attributeRevision) return false;
    } else if (result.allowed) {
      ttl = Math.min(ttl, this.staleAllowMs);
      if (!(ttl > 0)) return false;
    }
    const entry: CacheEntry = {
      hit: Promise.resolve(cachedCopy(result)),
      allowed: result.allowed,
      fetchedAt: sentAt,
      entityIds: result.entityIds,
      relations: result.dependsOnRelations,
      actorLength: request.actor.length,
      actionLength: request.action.length,
      resourceLength: request.resource.length,
    };
    this.lru.set(key, entry, { ttl });
    // Index after set(): set() disposes (and unindexes) an entry it replaces.
    for (const id of entry.entityIds) {
      let keys = this.byEntity.get(id);
      if (keys === undefined) this.byEntity.set(id, (keys = new Set()));
      keys.add(key);
    }
    if (entry.relations) this.relationKeys.add(key);
    return true;
  }

  /** Applies one invalidation event from the server. */
  apply(event: InvalidationEventMessage): void {
    const policyChanged = this.policyRevision !== undefined && event.policyRevision !== this.policyRevision;
    this.policyRevision = event.policyRevision;
    const revision = Number(event.attributeRevision) || 0;
    if (revision > this.attributeRevision) this.attributeRevision = revision;
    if (event.flushAll || policyChanged) {
      this.flush();
      return;
    }
    for (const id of event.entityIds ?? []) {
      const keys = this.byEntity.get(id);
      if (keys === undefined) continue;
      for (const key of [...keys]) this.drop(key);
    }
    if ((event.tuples?.length ?? 0) > 0) {
      for (const key of [...this.relationKeys]) this.drop(key);
    }
  }

  /** The stream delivered its first message (connected) or ended / failed (cut off). */
  setConnected(connected: boolean): void {
    this.connected = connected;
    // While cut off, the announced revisions say nothing about what we may be missing; the
    // next subscription starts with a flush and new revisions.
    if (!connected) this.policyRevision = undefined;
  }

  flush(): void {
    this.counters.invalidated += this.lru.size;
    this.byEntity.clear();
    this.relationKeys.clear();
    this.lru.clear();
  }

  private drop(key: string): void {
    if (this.lru.delete(key)) this.counters.invalidated++;
  }

  private unindex(key: string, entry: CacheEntry): void {
    for (const id of entry.entityIds) {
      const keys = this.byEntity.get(id);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.byEntity.delete(id);
    }
    if (entry.relations) this.relationKeys.delete(key);
  }
}
