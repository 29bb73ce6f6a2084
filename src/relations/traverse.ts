/**
 * Relationship traversal shared by every relation source (the LMDB store and the in-memory
 * source used by policy tests), so both answer `related()` identically.
 *
 * `related(object, relation, subject)` holds when a tuple (object, relation, subject) exists,
 * or when (object, relation, G) exists and `subject` belongs to group G through a chain of
 * `member` tuples (G member X, X member Y, ... subject). Breadth-first with a visited set, so a
 * cycle is walked once and can never grant by itself; at most `maxDepth` member hops.
 */
export const MEMBER_RELATION = 'member';
export const DEFAULT_MAX_DEPTH = 8;

/** Lists the subjects of tuples (object, relation, ·). */
export type SubjectLookup = (object: string, relation: string) => Iterable<string>;

export function relatedThroughGroups(
  subjectsOf: SubjectLookup,
  object: string,
  relation: string,
  subject: string,
  maxDepth: number = DEFAULT_MAX_DEPTH,
): boolean {
  let frontier: string[] = [];
  const visited = new Set<string>();
  for (const s of subjectsOf(object, relation)) {
    if (s === subject) return true;
    if (!visited.has(s)) {
      visited.add(s);
      frontier.push(s);
    }
  }
  for (let depth = 0; depth < maxDepth && frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const group of frontier) {
      for (const member of subjectsOf(group, MEMBER_RELATION)) {
        if (member === subject) return true;
        if (!visited.has(member)) {
          visited.add(member);
          next.push(member);
        }
      }
    }
    frontier = next;
  }
  return false;
}
