/**
 * Decoded attributes of recently read entities, in front of LMDB. Every read first compares the
 * store revision (one small LMDB get from the same read snapshot as the data, or the revision
 * kept in memory with StoreOptions.trackRevision) and empties the cache — and what it learnt
 * about empty id prefixes — when it moved, so a hit is exactly what LMDB held at that revision,
 * also for commits made by other processes (which a tracked revision takes in at the next
 * refreshRevision()). Entries are frozen: one decision cannot alter what the next one reads.
 * Measured in bench/store.bench.mjs and docs/data.md (a hot-set hit is several times cheaper
 * than get + msgpack decode); `attributeCacheSize: 0` turns it off.
 *
 * An entity enters the cache on its second read, not its first: caching every read made a
 * random read over 1M entities ~1.5 µs dearer than no cache at all (LRU insert and eviction,
 * a deep freeze, and decoded objects living just long enough to be promoted by the GC), for
 * entries that were evicted before anyone asked again. Ids read once are remembered as 32-bit
 * hashes in a table of two-slot buckets, four slots per cache entry (a Set of the ids cost
 * 250–290 ns a read, the table ~80). Ids sharing a bucket or a hash only make an entity enter a
 * read early or late, never a wrong value: a third id in a full bucket evicts one mark.
 */
import { LRUCache } from 'lru-cache';
import type { AbsentPrefixes } from './absent-prefixes.js';
import type { Attributes } from './records.js';

// lru-cache cannot hold undefined, and unknown ids (unknown actors) are worth caching too.
const MISSING: Attributes = Object.freeze({});

/** FNV-1a over the UTF-16 code units; 0 is kept for "empty slot". */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h | 1) >>> 0;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export class AttributeCache {
  private readonly lru: LRUCache<string, Attributes>;
  /** Hashes of ids read once and not cached (yet), two per bucket: the next read of one caches it. */
  private readonly readOnce: Uint32Array;
  private readonly bucketMask: number;
  private fullAdmissions = 0;
  private revision = -1;

  constructor(
    private readonly max: number,
    private readonly currentRevision: () => number,
    private readonly load: (id: string) => Attributes | undefined,
    /** Prefixes known to hold no entity: ids under them are answered without a read or an entry. */
    private readonly absent?: AbsentPrefixes,
  ) {
    this.lru = new LRUCache<string, Attributes>({ max });
    const buckets = 2 ** Math.ceil(Math.log2(Math.max(2 * max, 64)));
    this.readOnce = new Uint32Array(2 * buckets);
    this.bucketMask = buckets - 1;
  }

  get(id: string): Attributes | undefined {
    const revision = this.currentRevision();
    if (revision !== this.revision) {
      this.clear();
      this.revision = revision;
    }
    const cached = this.lru.get(id);
    if (cached !== undefined) return cached === MISSING ? undefined : cached;
    if (this.absent?.covers(id) === true) return undefined;
    const loaded = this.load(id);
    if (!this.secondRead(hashId(id))) return loaded; // the caller's own copy: nothing to freeze or keep
    // Full, and read twice: most likely a working set larger than the cache, where every entry
    // would push out one that is about to be read again. Taking one in eight keeps most of
    // the cache as it is and the churn an eighth; a hot set that fits is cached before it fills.
    if (this.lru.size >= this.max && (++this.fullAdmissions & 7) !== 0) return loaded;
    if (loaded === undefined) {
      this.lru.set(id, MISSING);
      return undefined;
    }
    this.lru.set(id, deepFreeze(loaded));
    return loaded;
  }

  /** Whether an id of this hash was read once before (and forgets it), else remembers it. */
  private secondRead(hash: number): boolean {
    const marks = this.readOnce;
    const first = ((hash >>> 1) & this.bucketMask) << 1;
    if (marks[first] === hash) {
      marks[first] = 0;
      return true;
    }
    if (marks[first + 1] === hash) {
      marks[first + 1] = 0;
      return true;
    }
    // An empty slot if there is one, else either mark (the hash's top bit picks) gives way.
    marks[marks[first] === 0 ? first : marks[first + 1] === 0 ? first + 1 : first + (hash >>> 31)] = hash;
    return false;
  }

  /** Entities held (for tests and sizing). */
  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
    this.readOnce.fill(0);
    this.absent?.clear();
    this.revision = -1;
  }
}
