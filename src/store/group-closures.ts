/**
 * `related()` from cached group closures. For (object, relation) the store keeps, per store
 * revision, every node within maxDepth - 1 member hops of the tuple's subjects (their BFS
 * distance). Then
 *
 *   related(object, relation, subject)  ⇔  subject is in the closure, or one of the groups
 *                                          `subject` is a direct member of is (maxDepth ≥ 1)
 *
 * which is what breadth-first search over member tuples answers (src/relations/traverse.ts),
 * at the cost of one reverse-index read (the subject's own groups) instead of a walk.
 *
 * A closure is built (by that same walk, expanding every node) the second time an
 * (object, relation) is asked about; the first ask, and any closure larger than MAX_CLOSURE
 * nodes, is answered by the store's probing walk instead (`related` returns undefined). A
 * commit that changed tuples, or whose changes cannot be listed, empties the cache; commits of
 * entity attributes only keep it. So an answer is never older than the revision the store
 * reports.
 */
import { LRUCache } from 'lru-cache';
import { MEMBER_RELATION } from '../relations/traverse.js';

/** What the closures read: the two tuple indexes. */
export interface TupleReader {
  /** Subjects of (object, relation, ·), or an empty list. */
  subjectList(object: string, relation: string): readonly string[];
  /** Objects of (·, relation, subject), lazily. */
  objects(subject: string, relation: string): Iterable<string>;
}

const MAX_CLOSURE = 10_000;
const MAX_CACHED_NODES = 500_000;
const TOO_BIG = new Map<string, number>();
/** Asked about once since the cache was emptied: build on the next ask. */
const SEEN_ONCE = new Map<string, number>();

export class GroupClosures {
  private readonly cache = new LRUCache<string, Map<string, number>>({
    maxSize: MAX_CACHED_NODES,
    sizeCalculation: (closure) => Math.max(1, closure.size),
  });
  private revision = -1;

  constructor(
    private readonly tuples: TupleReader,
    private readonly maxDepth: number,
    /** Whether any tuple changed after revision `from` (true when that cannot be told). */
    private readonly tuplesChangedSince: (from: number) => boolean,
  ) {}

  /**
   * The answer from a cached closure, or undefined when the caller must walk. `revision`: the
   * store's current revision.
   */
  related(revision: number, object: string, relation: string, subject: string): boolean | undefined {
    if (revision !== this.revision) {
      if (this.cache.size > 0 && (revision < this.revision || this.tuplesChangedSince(this.revision))) this.cache.clear();
      this.revision = revision;
    }
    const key = object + '\0' + relation;
    let closure = this.cache.get(key);
    if (closure === undefined) {
      this.cache.set(key, SEEN_ONCE);
      return undefined;
    }
    if (closure === SEEN_ONCE) {
      closure = this.build(object, relation);
      this.cache.set(key, closure);
    }
    if (closure === TOO_BIG) return undefined;
    if (closure.has(subject)) return true;
    if (this.maxDepth === 0) return false;
    for (const group of this.tuples.objects(subject, MEMBER_RELATION)) if (closure.has(group)) return true;
    return false;
  }

  /** Nodes within maxDepth - 1 member hops of (object, relation)'s subjects, by distance. */
  private build(object: string, relation: string): Map<string, number> {
    const closure = new Map<string, number>();
    let frontier: string[] = [];
    for (const s of this.tuples.subjectList(object, relation)) {
      if (!closure.has(s)) {
        closure.set(s, 0);
        frontier.push(s);
      }
    }
    for (let depth = 1; depth <= this.maxDepth - 1 && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const group of frontier) {
        for (const member of this.tuples.subjectList(group, MEMBER_RELATION)) {
          if (closure.has(member)) continue;
          closure.set(member, depth);
          next.push(member);
        }
      }
      if (closure.size > MAX_CLOSURE) return TOO_BIG;
      frontier = next;
    }
    return closure.size > MAX_CLOSURE ? TOO_BIG : closure;
  }
}
