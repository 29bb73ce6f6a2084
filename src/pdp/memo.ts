/**
 * A per-decision view of the store: the evaluator may ask for the same entity or tuple more
 * than once (several candidate rules, nested group checks); each is read from LMDB once.
 * Created per decision and dropped with it, so it can never serve a stale answer to a later
 * decision.
 */
import type { Attributes, AttributeSource, RelationSource } from '../policy/sources.js';

export type StoreSource = AttributeSource & RelationSource;

const SEP = '\u0000';

export class DecisionMemo implements AttributeSource, RelationSource {
  private attributes: Map<string, Attributes | undefined> | undefined;
  private relations: Map<string, boolean> | undefined;
  /** Ids whose stored attributes were read, in first-read order. */
  readonly readIds: string[] = [];
  relationReads = 0;

  constructor(private readonly store: StoreSource) {}

  getAttributes(id: string): Attributes | undefined {
    const map = (this.attributes ??= new Map());
    if (map.has(id)) return map.get(id);
    const value = this.store.getAttributes(id);
    map.set(id, value);
    this.readIds.push(id);
    return value;
  }

  related(object: string, relation: string, subject: string): boolean {
    return this.relation('r', object, relation, subject);
  }

  hasTuple(object: string, relation: string, subject: string): boolean {
    return this.relation('t', object, relation, subject);
  }

  private relation(kind: 'r' | 't', object: string, relation: string, subject: string): boolean {
    const key = kind + SEP + object + SEP + relation + SEP + subject;
    const map = (this.relations ??= new Map());
    const known = map.get(key);
    if (known !== undefined) return known;
    this.relationReads++;
    const value = kind === 'r' ? this.store.related(object, relation, subject) : this.store.hasTuple(object, relation, subject);
    map.set(key, value);
    return value;
  }
}
