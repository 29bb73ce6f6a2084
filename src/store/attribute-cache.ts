/**
 * Decoded attributes of recently read entities, in front of LMDB. Every read first compares the
 * store revision (one small LMDB get from the same read snapshot as the data, or the revision
 * kept in memory with StoreOptions.trackRevision) and empties the cache — and what it learnt
 * about empty id prefixes — when it moved, so a hit is exactly what LMDB held at that revision,
 * also for commits made by other processes (which a tracked revision takes in at the next
 * refreshRevision()). Entries are frozen: one decision cannot alter what the next one reads.
 * Measured in bench/store.bench.mjs and docs/data.md (a hot-set hit is several times cheaper
 * than get + msgpack decode); `attributeCacheSize: 0` turns it off.
 */
import { LRUCache } from 'lru-cache';
import type { AbsentPrefixes } from './absent-prefixes.js';
import type { Attributes } from './records.js';

// lru-cache cannot hold undefined, and unknown ids (unknown actors) are worth caching too.
const MISSING: Attributes = Object.freeze({});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export class AttributeCache {
  private readonly lru: LRUCache<string, Attributes>;
  private revision = -1;

  constructor(
    max: number,
    private readonly currentRevision: () => number,
    private readonly load: (id: string) => Attributes | undefined,
    /** Prefixes known to hold no entity: ids under them are answered without a read or an entry. */
    private readonly absent?: AbsentPrefixes,
  ) {
    this.lru = new LRUCache<string, Attributes>({ max });
  }

  get(id: string): Attributes | undefined {
    const revision = this.currentRevision();
    if (revision !== this.revision) {
      this.lru.clear();
      this.absent?.clear();
      this.revision = revision;
    }
    let value = this.lru.get(id);
    if (value === undefined) {
      if (this.absent?.covers(id) === true) return undefined;
      value = this.load(id);
      value = value === undefined ? MISSING : deepFreeze(value);
      this.lru.set(id, value);
    }
    return value === MISSING ? undefined : value;
  }

  clear(): void {
    this.lru.clear();
    this.absent?.clear();
    this.revision = -1;
  }
}
