/**
 * Relationship tuples, indexed both ways in two dupSort databases:
 *   forward  `object\0relation`  → subjects   (related(), "who can")
 *   reverse  `subject\0relation` → objects    ("what can")
 * One key per (node, relation) with sorted duplicates keeps a lookup to a single cursor seek, and
 * the composite key lets a prefix range list every tuple of one node. Ids never contain NUL
 * (records.ts refuses control characters), so the split is unambiguous.
 */
import type { Database, RootDatabase } from 'lmdb';
import type { Tuple } from './records.js';

const SEP = '\u0000';
// The first key after every `node\0...` key: same prefix with the separator bumped by one.
const AFTER_SEP = '\u0001';

function indexKey(node: string, relation: string): string {
  return node + SEP + relation;
}

export class RelationIndex {
  private readonly forward: Database<string, string>;
  private readonly reverse: Database<string, string>;

  constructor(env: RootDatabase) {
    const options = { dupSort: true, encoding: 'ordered-binary' as const };
    this.forward = env.openDB<string, string>({ name: 'tuples-by-object', ...options });
    this.reverse = env.openDB<string, string>({ name: 'tuples-by-subject', ...options });
  }

  has(object: string, relation: string, subject: string): boolean {
    return this.forward.doesExist(indexKey(object, relation), subject);
  }

  /** Lazy: traversal stops reading as soon as it finds the subject. */
  subjects(object: string, relation: string): Iterable<string> {
    return this.forward.getValues(indexKey(object, relation));
  }

  objects(subject: string, relation: string): Iterable<string> {
    return this.reverse.getValues(indexKey(subject, relation));
  }

  tuplesOfObject(object: string): Tuple[] {
    const tuples: Tuple[] = [];
    for (const { key, value } of this.forward.getRange({ start: object + SEP, end: object + AFTER_SEP })) {
      tuples.push({ object, relation: key.slice(object.length + 1), subject: value });
    }
    return tuples;
  }

  tuplesOfSubject(subject: string): Tuple[] {
    const tuples: Tuple[] = [];
    for (const { key, value } of this.reverse.getRange({ start: subject + SEP, end: subject + AFTER_SEP })) {
      tuples.push({ object: value, relation: key.slice(subject.length + 1), subject });
    }
    return tuples;
  }

  /** Only inside a write transaction. Returns whether the tuple was new. */
  put(object: string, relation: string, subject: string): boolean {
    // lmdb's typings say void, but putSync reports whether it wrote (false for an existing dup).
    const added = this.forward.putSync(indexKey(object, relation), subject, { noDupData: true }) as unknown as boolean;
    if (added) this.reverse.putSync(indexKey(subject, relation), object);
    return added;
  }

  /** Only inside a write transaction. Returns whether the tuple existed. */
  remove(object: string, relation: string, subject: string): boolean {
    const removed = this.forward.removeSync(indexKey(object, relation), subject);
    if (removed) this.reverse.removeSync(indexKey(subject, relation), object);
    return removed;
  }

  count(): number {
    return this.forward.getCount();
  }
}
