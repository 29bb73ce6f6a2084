/** In-memory attributes and relations: policy test fixtures, and a reference for the store. */
import { DEFAULT_MAX_DEPTH, relatedThroughGroups } from '../relations/traverse.js';
import type { AttributeSource, Attributes, RelationSource } from './sources.js';

/**
 * The store freezes what it caches the same way; `store` and `policy` share no code
 * (ARCHITECTURE.md), hence a second copy of these few lines.
 */
function frozenCopy(attributes: Attributes): Attributes {
  const freezeAll = (value: unknown): unknown => {
    if (typeof value === 'object' && value !== null) {
      for (const child of Object.values(value)) freezeAll(child);
      Object.freeze(value);
    }
    return value;
  };
  return freezeAll(structuredClone(attributes)) as Attributes;
}

export class MemorySources implements AttributeSource, RelationSource {
  private readonly entities = new Map<string, Attributes>();
  private readonly subjects = new Map<string, Set<string>>();

  constructor(private readonly maxDepth: number = DEFAULT_MAX_DEPTH) {}

  /** Keeps a deeply frozen copy, as the store's cache does: the caller's object stays its own. */
  setEntity(id: string, attributes: Attributes): this {
    this.entities.set(id, frozenCopy(attributes));
    return this;
  }

  deleteEntity(id: string): this {
    this.entities.delete(id);
    return this;
  }

  addTuple(object: string, relation: string, subject: string): this {
    const key = `${object}\0${relation}`;
    let set = this.subjects.get(key);
    if (set === undefined) this.subjects.set(key, (set = new Set()));
    set.add(subject);
    return this;
  }

  deleteTuple(object: string, relation: string, subject: string): this {
    this.subjects.get(`${object}\0${relation}`)?.delete(subject);
    return this;
  }

  getAttributes(id: string): Attributes | undefined {
    return this.entities.get(id);
  }

  related(object: string, relation: string, subject: string): boolean {
    return relatedThroughGroups((o, r) => this.subjects.get(`${o}\0${r}`) ?? [], object, relation, subject, this.maxDepth);
  }

  hasTuple(object: string, relation: string, subject: string): boolean {
    return this.subjects.get(`${object}\0${relation}`)?.has(subject) ?? false;
  }

  /** Applies one NDJSON record in the import format (ARCHITECTURE.md). */
  applyRecord(record: Record<string, unknown>): void {
    const remove = record.op === 'delete';
    if (record.kind === 'entity' && typeof record.id === 'string') {
      if (remove) this.deleteEntity(record.id);
      else this.setEntity(record.id, (record.attributes ?? {}) as Attributes);
    } else if (record.kind === 'relation' && typeof record.object === 'string' && typeof record.relation === 'string' && typeof record.subject === 'string') {
      if (remove) this.deleteTuple(record.object, record.relation, record.subject);
      else this.addTuple(record.object, record.relation, record.subject);
    } else {
      throw new Error(`not an entity or relation record: ${JSON.stringify(record).slice(0, 120)}`);
    }
  }
}
