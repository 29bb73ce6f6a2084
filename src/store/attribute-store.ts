/**
 * The policy information point: entity attributes and relationship tuples in one LMDB
 * environment, read synchronously on the decision hot path.
 *
 * Concurrency: LMDB allows one writer and any number of readers across processes; readers never
 * block and see the last committed transaction. lmdb-js keeps a read snapshot for the synchronous
 * run of code that took it and drops it in a setTimeout(0), so reads within one decision are
 * consistent, and `revision()` polled from a timer sees commits made by another process (e.g. a
 * `charter import` running beside `charter serve`); with `trackRevision`, `refreshRevision()`
 * does (the server's store poll).
 */
import { mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { relatedThroughGroups, DEFAULT_MAX_DEPTH } from '../relations/traverse.js';
import { ChangeLog, DEFAULT_CHANGE_LOG_MAX_ITEMS, DEFAULT_CHANGE_LOG_SIZE, type ChangeSet } from './changelog.js';
import { AbsentPrefixes } from './absent-prefixes.js';
import { AttributeCache } from './attribute-cache.js';
import { GroupClosures } from './group-closures.js';
import { EntityTable } from './entities.js';
import { ReadOnlyStoreError, StoreFullError, isStoreFull } from './errors.js';
import { RelationIndex } from './relations.js';
import { RecordError, checkRecord, type Attributes, type DataRecord, type Tuple } from './records.js';

export interface StoreOptions {
  /** Member hops `related()` follows through nested groups (default 8). */
  maxDepth?: number;
  /** Initial LMDB map size in bytes; lmdb grows it as needed. */
  mapSize?: number;
  /** Open without write access (the directory must already hold a store). */
  readOnly?: boolean;
  /** How many recent revisions `changesSince` can list (default 1024). */
  changeLogSize?: number;
  /** A revision changing more ids + tuples than this is logged as "flush all" (default 1000). */
  changeLogMaxItems?: number;
  /** Entities whose decoded attributes are kept in memory (default 10,000; 0 = none). */
  attributeCacheSize?: number;
  /**
   * Keep the revision in memory instead of reading it from LMDB on every `revision()`: this
   * instance's own commits advance it at once, commits by other processes when
   * `refreshRevision()` runs (the server does so every --store-poll-ms, as it looks for changes
   * to push to clients). Cached attributes follow the same revision. Saves a read transaction
   * (and lmdb-js's timer that ends it) per decision. Default false: exact on every call.
   */
  trackRevision?: boolean;
  /** Where a throwing onCommit listener is reported (pino-compatible); else a process warning. */
  logger?: { error(obj: object, msg?: string): void };
}

export const DEFAULT_ATTRIBUTE_CACHE_SIZE = 10_000;
/** Id prefixes remembered as empty (or not) per revision, beside the attribute cache. */
const MAX_ABSENT_PREFIXES = 1024;

export interface WriteResult {
  revision: number;
  /** Records in the write; deleting what does not exist is still applied (idempotent). */
  applied: number;
}

export type CommitListener = (change: ChangeSet) => void;

/** The distinct entity ids and tuples a write touches, in first-seen order. */
function collectChanges(records: readonly DataRecord[]): ChangeSet {
  const entityIds = new Set<string>();
  const tuples = new Map<string, Tuple>();
  for (const r of records) {
    if (r.kind === 'entity') entityIds.add(r.id);
    else tuples.set(`${r.object}\0${r.relation}\0${r.subject}`, { object: r.object, relation: r.relation, subject: r.subject });
  }
  return { fromRevision: 0, toRevision: 0, entityIds: [...entityIds], tuples: [...tuples.values()] };
}

export class AttributeStore {
  readonly dir: string;
  readonly maxDepth: number;
  private readonly env: RootDatabase;
  private readonly entities: EntityTable;
  private readonly relations: RelationIndex;
  private readonly closures: GroupClosures;
  private readonly changes: ChangeLog;
  private readonly changeLogMaxItems: number;
  private readonly cache?: AttributeCache;
  private readonly readOnly: boolean;
  private readonly listeners = new Set<CommitListener>();
  private readonly logger?: StoreOptions['logger'];
  /** The revision kept in memory (trackRevision), else undefined. */
  private trackedRevision: number | undefined;
  private closed = false;

  private constructor(dir: string, options: StoreOptions) {
    this.dir = dir;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.readOnly = options.readOnly ?? false;
    this.logger = options.logger;
    if (this.readOnly && !existsSync(dir)) throw new Error(`no attribute store at ${dir}`);
    if (!this.readOnly) mkdirSync(dir, { recursive: true });
    this.env = open({
      path: dir,
      readOnly: this.readOnly,
      ...(options.mapSize !== undefined ? { mapSize: options.mapSize } : {}),
    });
    this.entities = new EntityTable(this.env);
    this.relations = new RelationIndex(this.env);
    this.closures = new GroupClosures(this.relations, this.maxDepth, (from) => {
      const changes = this.changes.since(from);
      return changes === undefined || changes.tuples.length > 0;
    });
    this.changeLogMaxItems = options.changeLogMaxItems ?? DEFAULT_CHANGE_LOG_MAX_ITEMS;
    this.changes = new ChangeLog(this.env, options.changeLogSize ?? DEFAULT_CHANGE_LOG_SIZE, this.changeLogMaxItems);
    const cacheSize = options.attributeCacheSize ?? DEFAULT_ATTRIBUTE_CACHE_SIZE;
    if (cacheSize > 0) {
      const entities = this.entities;
      this.cache = new AttributeCache(
        cacheSize,
        () => this.revision(),
        (id) => entities.get(id),
        new AbsentPrefixes(MAX_ABSENT_PREFIXES, (prefix) => entities.anyWithPrefix(prefix)),
      );
    }
    if (options.trackRevision === true) this.trackedRevision = this.changes.revision();
  }

  /** Opens (and creates, unless read-only) the store in `dir`. */
  static open(dir: string, options: StoreOptions = {}): AttributeStore {
    for (const name of ['maxDepth', 'changeLogSize', 'changeLogMaxItems', 'attributeCacheSize', 'mapSize'] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
        throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
      }
    }
    return new AttributeStore(dir, options);
  }

  /** The entity's attributes (frozen when served from the cache), or undefined when unknown. */
  getAttributes(id: string): Attributes | undefined {
    return this.cache ? this.cache.get(id) : this.entities.get(id);
  }

  related(object: string, relation: string, subject: string): boolean {
    const cached = this.closures.related(this.revision(), object, relation, subject);
    if (cached !== undefined) return cached;
    // No closure (first ask, or too large to keep): walk, probing for `subject` at each group.
    const relations = this.relations;
    return relatedThroughGroups(
      (o, r) => relations.subjectsLookingFor(o, r, subject),
      object,
      relation,
      subject,
      this.maxDepth,
    );
  }

  hasTuple(object: string, relation: string, subject: string): boolean {
    return this.relations.has(object, relation, subject);
  }

  /** Ids of stored entities starting with `prefix`, in id order, read lazily (AuthZEN search). */
  entityIds(prefix: string): Iterable<string> {
    return this.entities.idsWithPrefix(prefix);
  }

  subjectsOf(object: string, relation: string): string[] {
    return [...this.relations.subjects(object, relation)];
  }

  objectsOf(subject: string, relation: string): string[] {
    return [...this.relations.objects(subject, relation)];
  }

  tuplesOfObject(object: string): Tuple[] {
    return this.relations.tuplesOfObject(object);
  }

  tuplesOfSubject(subject: string): Tuple[] {
    return this.relations.tuplesOfSubject(subject);
  }

  /**
   * Last committed revision, 0 for an empty store; cheap enough to poll. With trackRevision,
   * the last one this instance committed or saw in `refreshRevision()`.
   */
  revision(): number {
    return this.trackedRevision ?? this.changes.revision();
  }

  /** Reads the committed revision from LMDB (with trackRevision: and remembers it). */
  refreshRevision(): number {
    const current = this.changes.revision();
    if (this.trackedRevision !== undefined) this.trackedRevision = current;
    return current;
  }

  /** Changes after `revision`; undefined when the log no longer reaches back that far (flush all). */
  changesSince(revision: number): ChangeSet | undefined {
    return this.changes.since(revision);
  }

  /** Entity and tuple counts (for the import summary and sizing). */
  stats(): { entities: number; tuples: number; revision: number } {
    return { entities: this.entities.count(), tuples: this.relations.count(), revision: this.revision() };
  }

  /**
   * Applies `records` in one transaction with a new revision: all of them or, on any error, none.
   * Invalid records are refused before anything is written (RecordError, `line` = 1-based position).
   */
  async write(records: readonly DataRecord[]): Promise<WriteResult> {
    if (this.closed) throw new Error('attribute store is closed');
    if (this.readOnly) throw new ReadOnlyStoreError(this.dir);
    for (let i = 0; i < records.length; i++) {
      const bad = checkRecord(records[i]);
      if (bad) throw new RecordError(i + 1, bad);
    }
    if (records.length === 0) return { revision: this.revision(), applied: 0 };

    const change = this.listeners.size === 0 && records.length > this.changeLogMaxItems
      ? // Logged as "too many to list" anyway and nobody to tell: skip collecting (bulk imports).
        undefined
      : collectChanges(records);

    let revision: number;
    try {
      // transactionSync, not transaction: lmdb-js only rolls back a throwing callback in a
      // synchronous transaction, and atomicity per write is the contract.
      revision = this.env.transactionSync(() => {
        // Read inside the write lock: another process may have committed since our snapshot.
        const next = this.changes.revision() + 1;
        for (const r of records) {
          if (r.kind === 'entity') {
            if (r.op === 'put') this.entities.put(r.id, r.attributes);
            else this.entities.remove(r.id);
          } else if (r.op === 'put') {
            this.relations.put(r.object, r.relation, r.subject);
          } else {
            this.relations.remove(r.object, r.relation, r.subject);
          }
        }
        if (change) this.changes.record(next, change.entityIds, change.tuples);
        else this.changes.recordUnlisted(next);
        return next;
      });
    } catch (err) {
      this.entities.forgetUncommittedShapes();
      if (isStoreFull(err, this.dir)) throw new StoreFullError(this.dir, err);
      throw err;
    }
    if (this.trackedRevision !== undefined && revision > this.trackedRevision) this.trackedRevision = revision;
    if (change === undefined) return { revision, applied: records.length };
    change.fromRevision = revision - 1;
    change.toRevision = revision;
    // The data is committed whatever a listener does: its failure must not turn into a failed write.
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        if (this.logger) this.logger.error({ err, revision }, 'attribute store: onCommit listener failed');
        else process.emitWarning(`attribute store: onCommit listener failed: ${(err as Error)?.message ?? err}`);
      }
    }
    return { revision, applied: records.length };
  }

  /** Called after each write made through this instance commits; returns an unsubscribe function. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * A consistent, compacted copy of the store into the directory `dir` (created if needed; it
   * must not already hold a store), which `AttributeStore.open(dir)` opens. Compaction drops free
   * pages, so backup-and-swap is also how to shrink a store. Runs from a read snapshot: readers and
   * writers carry on meanwhile, and the copy holds exactly the revision current when it started.
   */
  async backup(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    if (existsSync(join(dir, 'data.mdb'))) throw new Error(`${dir} already holds a store`);
    await this.env.backup(dir, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.cache?.clear();
    await this.env.close();
  }
}
