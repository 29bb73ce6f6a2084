import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { open } from 'lmdb';
import { AttributeStore, RecordError, ReadOnlyStoreError, type DataRecord } from '../../src/store/index.js';
import { seededRandom } from '../random.js';
import { tempStore } from './helpers.js';

const ALICE = 'spiffe://personnel.acme.test/eid/1001';
const PAYMENT = 'uon://payments/payment/p-100';

describe('entities', () => {
  let store: AttributeStore;
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(() => {
    ({ store, dir, cleanup } = tempStore());
  });
  afterEach(async () => cleanup());

  it('creates, reads, replaces and deletes an entity', async () => {
    expect(store.getAttributes(ALICE)).toBeUndefined();
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { region: 'emea', groups: ['payment-support'], n: 1.5 } }]);
    expect(store.getAttributes(ALICE)).toEqual({ region: 'emea', groups: ['payment-support'], n: 1.5 });

    // A put replaces the whole attribute set, it does not merge.
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { country: 'GB' } }]);
    expect(store.getAttributes(ALICE)).toEqual({ country: 'GB' });

    await store.write([{ kind: 'entity', op: 'delete', id: ALICE }]);
    expect(store.getAttributes(ALICE)).toBeUndefined();
  });

  it('keeps values of every JSON type, nested', async () => {
    const attributes = { s: 'x', i: 42, f: 0.25, b: false, nil: null, list: [1, 'two', { three: 3 }], obj: { deep: { er: [true] } }, empty: {} };
    await store.write([{ kind: 'entity', op: 'put', id: PAYMENT, attributes }]);
    expect(store.getAttributes(PAYMENT)).toEqual(attributes);
  });

  it('accepts ids of every documented form and unicode', async () => {
    const ids = [ALICE, PAYMENT, 'team:payments', 'uon://ünïcödé/Ω/☃'];
    await store.write(ids.map((id, i) => ({ kind: 'entity', op: 'put', id, attributes: { i } })));
    ids.forEach((id, i) => expect(store.getAttributes(id)).toEqual({ i }));
  });

  it('deleting an unknown entity is a harmless no-op that still commits a revision', async () => {
    const { revision, applied } = await store.write([{ kind: 'entity', op: 'delete', id: 'team:nobody' }]);
    expect(revision).toBe(1);
    expect(applied).toBe(1);
    expect(store.getAttributes('team:nobody')).toBeUndefined();
  });

  it('lists entity ids by prefix, in id order', async () => {
    const ids = ['uon://payments/payment/p-2', 'uon://payments/payment/p-1', 'uon://payments/refund/r-1', 'uon://paymentsx/a', ALICE];
    await store.write(ids.map((id) => ({ kind: 'entity', op: 'put', id, attributes: {} })));
    expect([...store.entityIds('uon://payments/')]).toEqual(['uon://payments/payment/p-1', 'uon://payments/payment/p-2', 'uon://payments/refund/r-1']);
    expect([...store.entityIds('uon://payments/payment/')]).toHaveLength(2);
    expect([...store.entityIds('nothing:')]).toEqual([]);
    expect([...store.entityIds('')]).toHaveLength(5);
  });

  it('persists across close and reopen', async () => {
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { region: 'emea' } }]);
    await store.close();
    const again = AttributeStore.open(join(dir, 'data'));
    try {
      expect(again.getAttributes(ALICE)).toEqual({ region: 'emea' });
      expect(again.revision()).toBe(1);
    } finally {
      await again.close();
    }
  });

  it.each<[string, unknown, RegExp]>([
    ['empty id', { kind: 'entity', op: 'put', id: '', attributes: {} }, /"id" must not be empty/],
    ['non-string id', { kind: 'entity', op: 'put', id: 7, attributes: {} }, /"id" must be a string/],
    ['id over 1024 bytes', { kind: 'entity', op: 'put', id: 'x'.repeat(1025), attributes: {} }, /longer than 1024 bytes/],
    ['multi-byte id over 1024 bytes', { kind: 'entity', op: 'put', id: 'é'.repeat(513), attributes: {} }, /longer than 1024 bytes/],
    ['NUL in id', { kind: 'entity', op: 'put', id: 'a\u0000b', attributes: {} }, /control characters/],
    ['array attributes', { kind: 'entity', op: 'put', id: 'a', attributes: [] }, /"attributes" must be an object/],
    ['missing attributes', { kind: 'entity', op: 'put', id: 'a' }, /"attributes" must be an object/],
    ['unknown op', { kind: 'entity', op: 'upsert', id: 'a', attributes: {} }, /unknown op "upsert"/],
    ['unknown kind', { kind: 'thing', op: 'put', id: 'a' }, /unknown kind "thing"/],
  ])('rejects a write with %s and stores nothing of it', async (_name, bad, message) => {
    const good: DataRecord = { kind: 'entity', op: 'put', id: ALICE, attributes: { region: 'emea' } };
    const attempt = store.write([good, bad as DataRecord]);
    await expect(attempt).rejects.toThrow(RecordError);
    await expect(store.write([good, bad as DataRecord])).rejects.toThrow(message);
    await attempt.catch((err: RecordError) => expect(err.line).toBe(2));
    expect(store.getAttributes(ALICE)).toBeUndefined();
    expect(store.revision()).toBe(0);
  });

  it('accepts an id of exactly 1024 bytes', async () => {
    const id = 'x'.repeat(1024);
    await store.write([{ kind: 'entity', op: 'put', id, attributes: { ok: true } }]);
    expect(store.getAttributes(id)).toEqual({ ok: true });
  });

  it('a read-only instance reads what a writer committed and refuses writes', async () => {
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { region: 'emea' } }]);
    const reader = AttributeStore.open(join(dir, 'data'), { readOnly: true });
    try {
      expect(reader.getAttributes(ALICE)).toEqual({ region: 'emea' });
      await expect(reader.write([{ kind: 'entity', op: 'delete', id: ALICE }])).rejects.toThrow(ReadOnlyStoreError);
    } finally {
      await reader.close();
    }
  });

  it('serves repeated reads from the cache, frozen, and never a stale value after a write', async () => {
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { region: 'emea', groups: ['a'] } }]);
    expect(store.getAttributes(ALICE)).toEqual({ region: 'emea', groups: ['a'] }); // first read: not kept
    const cached = store.getAttributes(ALICE)!; // second read: kept
    expect(store.getAttributes(ALICE)).toBe(cached); // the same decoded object: a cache hit
    expect(Object.isFrozen(cached)).toBe(true);
    expect(Object.isFrozen(cached.groups)).toBe(true);
    expect(store.getAttributes('spiffe://unknown')).toBeUndefined();
    expect(store.getAttributes('spiffe://unknown')).toBeUndefined();
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { region: 'amer' } }]);
    expect(store.getAttributes(ALICE)).toEqual({ region: 'amer' });
    await store.write([{ kind: 'entity', op: 'put', id: 'spiffe://unknown', attributes: { now: 'known' } }]);
    expect(store.getAttributes('spiffe://unknown')).toEqual({ now: 'known' });
  });

  it("another instance's cache follows commits it did not make", async () => {
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { v: 1 } }]);
    const reader = AttributeStore.open(join(dir, 'data'), { readOnly: true });
    try {
      expect(reader.getAttributes(ALICE)).toEqual({ v: 1 });
      await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { v: 2 } }]);
      // lmdb-js drops a reader's snapshot in a setTimeout(0) after it was taken.
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(reader.getAttributes(ALICE)).toEqual({ v: 2 });
    } finally {
      await reader.close();
    }
  });

  it('with trackRevision, sees its own commits at once and other processes\' at refreshRevision()', async () => {
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { v: 1 } }]);
    const server = AttributeStore.open(join(dir, 'data'), { trackRevision: true });
    try {
      const start = server.revision();
      expect(start).toBe(store.revision());
      expect(server.getAttributes(ALICE)).toEqual({ v: 1 });
      expect(server.getAttributes(ALICE)).toEqual({ v: 1 }); // read twice: now cached

      // Another writer (here another instance, as an import process would be).
      await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { v: 2 } }]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(server.revision()).toBe(start); // not read from LMDB until refreshed
      expect(server.getAttributes(ALICE)).toEqual({ v: 1 }); // the cached entity, at `start`
      expect(server.getAttributes(PAYMENT)).toBeUndefined(); // uncached ids are read as they are

      expect(server.refreshRevision()).toBe(start + 1);
      expect(server.revision()).toBe(start + 1);
      expect(server.getAttributes(ALICE)).toEqual({ v: 2 });

      // Its own write: visible to the very next read, no refresh needed.
      const { revision } = await server.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { v: 3 } }]);
      expect(revision).toBe(start + 2);
      expect(server.revision()).toBe(start + 2);
      expect(server.getAttributes(ALICE)).toEqual({ v: 3 });
    } finally {
      await server.close();
    }
  });

  it('with attributeCacheSize 0 every read decodes afresh', async () => {
    const plain = AttributeStore.open(join(dir, 'data'), { attributeCacheSize: 0 });
    await store.write([{ kind: 'entity', op: 'put', id: ALICE, attributes: { v: 1 } }]);
    try {
      const a = plain.getAttributes(ALICE);
      expect(a).toEqual({ v: 1 });
      expect(plain.getAttributes(ALICE)).not.toBe(a);
    } finally {
      await plain.close();
    }
  });

  // Values are msgpack records whose key lists (shapes) are stored once per store; these check
  // that every reader finds the shapes a value names, whoever wrote them and whatever failed.
  describe('attribute shapes', () => {
    const shaped = (i: number): Record<string, unknown> => ({
      [`k${i}`]: i,
      common: 'x',
      nested: { [`n${i % 7}`]: [i, { deep: i % 3 }] },
    });

    it('an instance opened before the writes decodes more shapes than are shared', async () => {
      const reader = AttributeStore.open(join(dir, 'data'), { readOnly: true, attributeCacheSize: 0 });
      try {
        await store.write([{ kind: 'entity', op: 'put', id: 'e-first', attributes: shaped(0) }]);
        expect(reader.getAttributes('e-first')).toEqual(shaped(0)); // the reader now holds one shape
        // More distinct shapes than the store shares (512): the rest travel inside their values.
        const records: DataRecord[] = Array.from({ length: 700 }, (_, i) => ({ kind: 'entity', op: 'put', id: `e${i}`, attributes: shaped(i) }));
        for (let i = 0; i < records.length; i += 100) await store.write(records.slice(i, i + 100));
        await new Promise((resolve) => setTimeout(resolve, 5)); // a fresh read snapshot
        for (let i = 0; i < 700; i++) expect(reader.getAttributes(`e${i}`)).toEqual(shaped(i));
      } finally {
        await reader.close();
      }
    });

    it('reads values written before shapes were shared (plain msgpack maps)', async () => {
      const old = join(dir, 'old');
      const env = open({ path: old });
      await env.openDB({ name: 'entities' }).put(ALICE, { region: 'emea', groups: ['a'] });
      await env.close();
      const upgraded = AttributeStore.open(old, { attributeCacheSize: 0 });
      try {
        expect(upgraded.getAttributes(ALICE)).toEqual({ region: 'emea', groups: ['a'] });
        await upgraded.write([{ kind: 'entity', op: 'put', id: PAYMENT, attributes: { region: 'amer' } }]);
        expect(upgraded.getAttributes(PAYMENT)).toEqual({ region: 'amer' });
        expect(upgraded.getAttributes(ALICE)).toEqual({ region: 'emea', groups: ['a'] });
      } finally {
        await upgraded.close();
      }
    });

    // The entities table compares keys with memcmp (a custom key codec) where lmdb's default key
    // handling uses its own comparator: both must see one order, or ids go missing on upgrade.
    it('reads and lists in byte order ids written with lmdb\'s default key handling, which in turn reads what it adds', async () => {
      const random = seededRandom(7);
      const ids: string[] = [];
      for (let i = 0; i < 400; i++) ids.push(`spiffe://personnel.acme.test/eid/${random(100_000)}`);
      for (const p of ['1', '10', '100', '1000', '2', '20']) ids.push(`uon://p/x/${p}`, `uon://p/x/${p}/child`);
      ids.push('uon://ünïcödé/Ω/☃', 'uon://ünïcödé/Ω/𝒳', 'uon://ünïcödé/Ω', 'team:~', 'team: ', 'team:\u00ff', 'team:\u0100');
      for (let i = 0; i < 20; i++) ids.push(`uon://long/${'x'.repeat(50 + i)}/${i}`); // ≥ 64 chars: another encoding path
      const unique = [...new Set(ids)];
      const shuffled = [...unique];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = random(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

      const old = join(dir, 'old');
      let env = open({ path: old });
      let table = env.openDB<{ i: number }, string>({ name: 'entities' });
      await env.transaction(() => shuffled.forEach((id, i) => table.put(id, { i })));
      await env.close();

      const upgraded = AttributeStore.open(old, { attributeCacheSize: 0 });
      const added = unique.map((id) => `${id}/new`);
      try {
        shuffled.forEach((id, i) => expect(upgraded.getAttributes(id), id).toEqual({ i }));
        expect([...upgraded.entityIds('')]).toEqual([...unique].sort(byBytes));
        await upgraded.write(added.map((id, i) => ({ kind: 'entity', op: 'put', id, attributes: { added: i } })));
        expect([...upgraded.entityIds('')]).toEqual([...unique, ...added].sort(byBytes));
      } finally {
        await upgraded.close();
      }

      env = open({ path: old });
      table = env.openDB<{ i: number }, string>({ name: 'entities', sharedStructuresKey: Symbol.for('structures') });
      try {
        shuffled.forEach((id, i) => expect(table.get(id), id).toEqual({ i }));
        added.forEach((id, i) => expect(table.get(id), id).toEqual({ added: i }));
      } finally {
        await env.close();
      }
    });

    it('a failed write forgets the shapes it introduced, so later values never name a lost one', async () => {
      const loop: Record<string, unknown> = { a: 1 };
      loop.self = loop; // cannot be encoded: the write fails after the first record was put
      await expect(
        store.write([
          { kind: 'entity', op: 'put', id: 'e-lost', attributes: { brand: 'new', shape: 1 } },
          { kind: 'entity', op: 'put', id: 'e-loop', attributes: loop },
        ]),
      ).rejects.toThrow();
      await store.write([{ kind: 'entity', op: 'put', id: 'e-kept', attributes: { brand: 'new', shape: 2 } }]);

      const other = AttributeStore.open(join(dir, 'data'), { readOnly: true, attributeCacheSize: 0 });
      try {
        expect(other.getAttributes('e-lost')).toBeUndefined();
        expect(other.getAttributes('e-kept')).toEqual({ brand: 'new', shape: 2 });
      } finally {
        await other.close();
      }
      expect(store.getAttributes('e-kept')).toEqual({ brand: 'new', shape: 2 });
    });
  });

  describe('ids under prefixes the store holds nothing under (AbsentPrefixes)', () => {
    it('answer like an uncached read while entities come and go under them', async () => {
      const plain = AttributeStore.open(join(dir, 'data'), { attributeCacheSize: 0 });
      const ids = ['todo/1', 'todo/2', 'uon://a/x/1', 'uon://a/x/2', 'uon://a/y/1', 'team:t', 'todo/', 'uon://a/x/1/c/1'];
      const next = seededRandom(11);
      try {
        for (let step = 0; step < 200; step++) {
          for (const id of ids) expect(store.getAttributes(id), `step ${step}: ${id}`).toEqual(plain.getAttributes(id));
          const id = ids[next(ids.length)];
          const record: DataRecord = next(3) === 0 ? { kind: 'entity', op: 'delete', id } : { kind: 'entity', op: 'put', id, attributes: { step } };
          await store.write([record]);
          // lmdb-js drops a reader's snapshot in a setTimeout(0) after it was taken.
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      } finally {
        await plain.close();
      }
    });

    it('with trackRevision, see an entity another process wrote under such a prefix at the next refresh', async () => {
      const server = AttributeStore.open(join(dir, 'data'), { trackRevision: true });
      try {
        expect(server.getAttributes('todo/1')).toBeUndefined();
        await store.write([{ kind: 'entity', op: 'put', id: 'todo/1', attributes: { owner: 'a' } }]);
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(server.getAttributes('todo/1')).toBeUndefined(); // the revision it serves
        server.refreshRevision();
        expect(server.getAttributes('todo/1')).toEqual({ owner: 'a' });
      } finally {
        await server.close();
      }
    });
  });

  it('refuses to open a missing directory read-only', () => {
    expect(() => AttributeStore.open(join(dir, 'nope'), { readOnly: true })).toThrow(/no attribute store/);
  });
});
