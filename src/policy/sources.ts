/**
 * The seams between the evaluator and wherever attributes live. The LMDB store and the
 * in-memory fixtures of policy tests both implement these; the evaluator knows nothing else.
 */
export type Attributes = Record<string, unknown>;

export interface AttributeSource {
  /**
   * Stored attributes of an entity (actor, resource, team), or undefined when unknown. A source
   * may hand out the same object again while the entity is unchanged; the evaluator keeps
   * results per object only for frozen ones (deeply frozen, so they cannot change under it): the
   * store's cached entities and the in-memory fixtures are, a store's one-off reads are not.
   */
  getAttributes(id: string): Attributes | undefined;
}

export interface RelationSource {
  /** True on a direct tuple or through `member` tuples of nested groups (depth-limited). */
  related(object: string, relation: string, subject: string): boolean;
  /** True only on the direct tuple (object, relation, subject). */
  hasTuple(object: string, relation: string, subject: string): boolean;
}
