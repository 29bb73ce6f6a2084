/**
 * The store revision and a bounded log of what each revision changed, both written in the
 * same LMDB transaction as the data, so a reader (this process or another) never sees data
 * without its revision or a revision without its changes.
 *
 * A revision that touched more than `maxItems` ids/tuples (a bulk import batch) is logged as
 * "too many to list": any `changesSince` spanning it answers undefined and callers flush
 * everything, which is cheaper for them than matching ten thousand keys anyway.
 */
import type { Database, RootDatabase } from 'lmdb';
import type { Tuple } from './records.js';

export interface ChangeSet {
  fromRevision: number;
  toRevision: number;
  entityIds: string[];
  tuples: Tuple[];
}

/** What one revision changed, as stored (short names: there are many of these). */
interface LogEntry {
  e?: string[];
  t?: [string, string, string][];
  /** Too many changes to list. */
  x?: true;
}

const REVISION_KEY = 'revision';
export const DEFAULT_CHANGE_LOG_SIZE = 1024;
export const DEFAULT_CHANGE_LOG_MAX_ITEMS = 1000;

export class ChangeLog {
  private readonly meta: Database<number, string>;
  private readonly log: Database<LogEntry, number>;

  constructor(
    env: RootDatabase,
    private readonly size: number,
    private readonly maxItems: number,
  ) {
    this.meta = env.openDB<number, string>({ name: 'meta' });
    this.log = env.openDB<LogEntry, number>({ name: 'changes' });
  }

  revision(): number {
    return this.meta.get(REVISION_KEY) ?? 0;
  }

  /** Only inside a write transaction: stores `revision` and its changes, drops the oldest. */
  record(revision: number, entityIds: string[], tuples: Tuple[], unlisted = false): void {
    this.meta.putSync(REVISION_KEY, revision);
    if (this.size <= 0) return;
    const entry: LogEntry =
      unlisted || entityIds.length + tuples.length > this.maxItems
        ? { x: true }
        : { e: entityIds, t: tuples.map((t) => [t.object, t.relation, t.subject]) };
    this.log.putSync(revision, entry);
    // Usually removes one key; a loop because the configured size may have shrunk since the last open.
    const expired = [...this.log.getKeys({ end: revision - this.size + 1 })];
    for (const old of expired) this.log.removeSync(old);
  }

  /** Only inside a write transaction: stores `revision` as changing too much to list. */
  recordUnlisted(revision: number): void {
    this.record(revision, [], [], true);
  }

  /** Changes in (revision, current]; undefined when the log no longer covers them all. */
  since(revision: number): ChangeSet | undefined {
    const current = this.revision();
    if (!Number.isInteger(revision) || revision < 0 || revision > current) return undefined;
    const change: ChangeSet = { fromRevision: revision, toRevision: current, entityIds: [], tuples: [] };
    if (revision === current) return change;
    const ids = new Set<string>();
    const tupleKeys = new Set<string>();
    let expected = revision + 1;
    for (const { key, value } of this.log.getRange({ start: revision + 1, end: current + 1 })) {
      if (key !== expected || value.x) return undefined;
      expected++;
      for (const id of value.e ?? []) {
        if (!ids.has(id)) {
          ids.add(id);
          change.entityIds.push(id);
        }
      }
      for (const [object, relation, subject] of value.t ?? []) {
        const k = `${object}\0${relation}\0${subject}`;
        if (!tupleKeys.has(k)) {
          tupleKeys.add(k);
          change.tuples.push({ object, relation, subject });
        }
      }
    }
    return expected === current + 1 ? change : undefined;
  }
}
