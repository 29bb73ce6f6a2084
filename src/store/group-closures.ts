/**
 * `related()` from cached group closures. For (object, relation) the store keeps, per tuple
 * revision, the tuple's subjects (S0) and every *group* — a node with member tuples — within
 * maxDepth - 1 member hops of them. Then
 *
 *   related(object, relation, subject)  ⇔  subject ∈ S0, or (maxDepth ≥ 1) one of the groups
 *                                          `subject` is a direct member of is in the closure
 *
 * which is what breadth-first search over member tuples answers (src/relations/traverse.ts),
 * at the cost of one reverse-index read (the subject's own groups) instead of a walk. Leaves
 * (the many members of a team) are not kept, so a closure is small: S0 plus the teams.
 *
 * A closure is built (by that same walk, probing every node for members) the second time an
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

interface Closure {
  /** Subjects of the (object, relation) tuples themselves. */
  readonly direct: ReadonlySet<string>;
  /** Nodes with member tuples within maxDepth - 1 hops of `direct`. */
  readonly groups: ReadonlySet<string>;
}

const NO_NODES: ReadonlySet<string> = new Set();
const TOO_BIG: Closure = { direct: NO_NODES, groups: NO_NODES };
/** Asked about once since the cache was emptied: build on the next ask. */
const SEEN_ONCE: Closure = { direct: NO_NODES, groups: NO_NODES };

export class GroupClosures {
  private readonly cache = new LRUCache<string, Closure>({
    maxSize: MAX_CACHED_NODES,
    sizeCalculation: (c) => Math.max(1, c.direct.size + c.groups.size),
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
    if (closure.direct.has(subject)) return true;
    if (this.maxDepth === 0 || closure.groups.size === 0) return false;
    for (const group of this.tuples.objects(subject, MEMBER_RELATION)) if (closure.groups.has(group)) return true;
    return false;
  }

  private build(object: string, relation: string): Closure {
    const direct = new Set(this.tuples.subjectList(object, relation));
    if (direct.size > MAX_CLOSURE) return TOO_BIG;
    const groups = new Set<string>();
    const visited = new Set<string>(direct);
    let frontier = [...direct];
    // Nodes at distance 0 .. maxDepth-1 are probed for members; those that have any are groups.
    for (let depth = 0; depth <= this.maxDepth - 1 && frontier.length > 0; depth++) {
      const next: string[] = [];
      for (const node of frontier) {
        const members = this.tuples.subjectList(node, MEMBER_RELATION);
        if (members.length === 0) continue;
        groups.add(node);
        for (const member of members) {
          if (visited.has(member)) continue;
          visited.add(member);
          next.push(member);
        }
      }
      if (visited.size > MAX_CLOSURE) return TOO_BIG;
      frontier = next;
    }
    return { direct, groups };
  }
}
