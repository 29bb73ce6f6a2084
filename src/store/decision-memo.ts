/**
 * Per-decision memo: one decision may ask the same relation question several times (several
 * candidate rules, `related()` in more than one condition). Cheap to create — two lazily made
 * Maps — and dropped with the decision, so it never serves stale data to the next one.
 * Attributes pass straight through: the evaluator reads the actor and the resource at most once
 * per decision itself, and the store caches decoded entities.
 */
import { relatedThroughGroups, DEFAULT_MAX_DEPTH } from '../relations/traverse.js';
import type { Attributes } from './records.js';

/** What the memo reads from; AttributeStore implements it. */
export interface MemoSource {
  readonly maxDepth?: number;
  getAttributes(id: string): Attributes | undefined;
  hasTuple(object: string, relation: string, subject: string): boolean;
  /** Subjects of tuples (object, relation, ·). */
  subjectsOf(object: string, relation: string): Iterable<string>;
  /** The source's own related() (the store's uses cached group closures); else the memo walks. */
  related?(object: string, relation: string, subject: string): boolean;
}

export interface DecisionSource {
  getAttributes(id: string): Attributes | undefined;
  related(object: string, relation: string, subject: string): boolean;
  hasTuple(object: string, relation: string, subject: string): boolean;
}

class DecisionMemo implements DecisionSource {
  private answers?: Map<string, boolean>;
  private subjects?: Map<string, string[]>;
  private readonly maxDepth: number;
  private readonly lookup = (object: string, relation: string): Iterable<string> => {
    const key = object + '\0' + relation;
    const map = (this.subjects ??= new Map());
    let list = map.get(key);
    if (list === undefined) {
      list = [...this.source.subjectsOf(object, relation)];
      map.set(key, list);
    }
    return list;
  };

  constructor(private readonly source: MemoSource) {
    this.maxDepth = source.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  getAttributes(id: string): Attributes | undefined {
    return this.source.getAttributes(id);
  }

  related(object: string, relation: string, subject: string): boolean {
    const key = 'r\0' + object + '\0' + relation + '\0' + subject;
    const map = (this.answers ??= new Map());
    let answer = map.get(key);
    if (answer === undefined) {
      // Without the source's own related(), subject lists are memoized so that several
      // related() calls of one decision share group expansions.
      answer = this.source.related ? this.source.related(object, relation, subject) : relatedThroughGroups(this.lookup, object, relation, subject, this.maxDepth);
      map.set(key, answer);
    }
    return answer;
  }

  hasTuple(object: string, relation: string, subject: string): boolean {
    const key = 't\0' + object + '\0' + relation + '\0' + subject;
    const map = (this.answers ??= new Map());
    let answer = map.get(key);
    if (answer === undefined) {
      answer = this.source.hasTuple(object, relation, subject);
      map.set(key, answer);
    }
    return answer;
  }
}

/** A memoizing view of `source` for the duration of one decision. */
export function createDecisionMemo(source: MemoSource): DecisionSource {
  return new DecisionMemo(source);
}
