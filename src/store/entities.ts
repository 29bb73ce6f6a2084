/** Entity attributes: one LMDB entry per id, the value msgpack-encoded by lmdb. */
import type { Database, RootDatabase } from 'lmdb';
import type { Attributes } from './records.js';

export class EntityTable {
  private readonly db: Database<Attributes, string>;

  constructor(env: RootDatabase) {
    this.db = env.openDB<Attributes, string>({ name: 'entities' });
  }

  get(id: string): Attributes | undefined {
    return this.db.get(id);
  }

  /** Only inside a write transaction. */
  put(id: string, attributes: Attributes): void {
    this.db.putSync(id, attributes);
  }

  /** Only inside a write transaction. */
  remove(id: string): void {
    this.db.removeSync(id);
  }

  /** Ids starting with `prefix`, in key order (lazily; stop iterating to stop reading). */
  *idsWithPrefix(prefix: string): Iterable<string> {
    for (const id of this.db.getKeys(prefix === '' ? {} : { start: prefix })) {
      if (!id.startsWith(prefix)) return;
      yield id;
    }
  }

  count(): number {
    return this.db.getKeysCount();
  }
}
