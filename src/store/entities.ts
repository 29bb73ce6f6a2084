/** Entity attributes: one LMDB entry per id, the value msgpack-encoded by lmdb. */
import type { Database, RootDatabase } from 'lmdb';
import { readKey, writeKey } from 'ordered-binary';
import type { Attributes } from './records.js';

/**
 * Where lmdb keeps the entities' shared msgpack structures (the key lists of attribute shapes).
 * A symbol key never collides with an id (ids are strings), and lmdb leaves it out of key
 * iteration and counts.
 */
const SHAPES_KEY = Symbol.for('structures');
/**
 * Shapes kept once in the store rather than in every value. Beyond this, a new shape is written
 * into each value that uses it (bigger, slower to decode, still correct). Fixed for the life of a
 * store: the record id width depends on it.
 */
const MAX_SHARED_SHAPES = 512;
/**
 * lmdb's own key codec, handed to it as a custom one. The bytes are the same as with lmdb's
 * default key handling, so stores written before read unchanged; what changes is the comparison.
 * For default keys lmdb installs its own comparator (four bytes at a time through ntohl), which
 * was half the CPU of a lookup: ids share long prefixes (`spiffe://personnel.acme.test/eid/`) and
 * a lookup compares ~20 of them. With a custom codec LMDB compares with memcmp — the same
 * unsigned byte order — and a lookup over 1M entities takes 0.45 instead of 1.05 µs when its
 * pages are in cache (docs/data.md). LMDB keeps one comparator per database and environment:
 * a handle on `entities` opened elsewhere in the process with default key handling would put
 * lmdb's back (same order, so still correct, only slower) — open it through this class.
 */
const SAME_BYTES_MEMCMP_ORDER = { writeKey, readKey };

/** The msgpackr encoder state lmdb keeps per database (not in lmdb's typings). */
interface ShapeState {
  encoder?: { structures?: unknown[] & { uninitialized?: boolean; sharedLength?: number } };
}

export class EntityTable {
  private readonly db: Database<Attributes, string>;

  constructor(env: RootDatabase) {
    // Values are msgpack records: each attribute shape's key names are stored once instead of in
    // every value, which makes values ~40% smaller and decoding them ~3× faster (0.25 vs 0.77 µs
    // for a scenario employee), about a quarter of a random get over 1M entities.
    // maxSharedStructures is passed on to msgpackr; lmdb's typings do not list it.
    const options = {
      name: 'entities',
      sharedStructuresKey: SHAPES_KEY,
      maxSharedStructures: MAX_SHARED_SHAPES,
      keyEncoder: SAME_BYTES_MEMCMP_ORDER,
    };
    this.db = env.openDB<Attributes, string>(options);
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

  /**
   * After a write transaction failed: a shape first seen in it was saved in that transaction and
   * rolled back with it, but the encoder still knows it, and a later value of that shape would be
   * written naming a shape the store does not have. Reload the shapes from the store instead.
   */
  forgetUncommittedShapes(): void {
    const encoder = (this.db as unknown as ShapeState).encoder;
    if (!encoder?.structures) return;
    const reloadOnNextUse: unknown[] & { uninitialized?: boolean; sharedLength?: number } = [];
    reloadOnNextUse.uninitialized = true;
    reloadOnNextUse.sharedLength = 0;
    encoder.structures = reloadOnNextUse;
  }

  /** Ids starting with `prefix`, in key order (lazily; stop iterating to stop reading). */
  *idsWithPrefix(prefix: string): Iterable<string> {
    for (const id of this.db.getKeys(prefix === '' ? {} : { start: prefix })) {
      if (!id.startsWith(prefix)) return;
      yield id;
    }
  }

  /** Whether any stored id starts with `prefix` (one cursor step). */
  anyWithPrefix(prefix: string): boolean {
    for (const id of this.db.getKeys({ start: prefix, limit: 1 })) return id.startsWith(prefix);
    return false;
  }

  count(): number {
    return this.db.getKeysCount();
  }
}
