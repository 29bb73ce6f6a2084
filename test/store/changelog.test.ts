import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { AttributeStore, type ChangeSet, type DataRecord } from '../../src/store/index.js';
import { tempStore } from './helpers.js';

const entity = (id: string, n = 0): DataRecord => ({ kind: 'entity', op: 'put', id, attributes: { n } });
const rel = (object: string, relation: string, subject: string, op: 'put' | 'delete' = 'put'): DataRecord => ({
  kind: 'relation',
  op,
  object,
  relation,
  subject,
});

describe('revisions and the change log', () => {
  let cleanup: () => Promise<void> = async () => {};
  afterEach(async () => cleanup());

  it('starts at 0 and grows by one per committed write', async () => {
    const t = tempStore();
    cleanup = t.cleanup;
    expect(t.store.revision()).toBe(0);
    expect((await t.store.write([entity('a')])).revision).toBe(1);
    expect((await t.store.write([entity('b'), rel('o', 'r', 's')])).revision).toBe(2);
    expect(t.store.revision()).toBe(2);
    // An empty write commits nothing and keeps the revision.
    expect(await t.store.write([])).toEqual({ revision: 2, applied: 0 });
    // A refused write keeps it too.
    await expect(t.store.write([entity('')])).rejects.toThrow();
    expect(t.store.revision()).toBe(2);
  });

  it('lists the entity ids and tuples changed since a revision, deduplicated', async () => {
    const t = tempStore();
    cleanup = t.cleanup;
    await t.store.write([entity('a'), entity('b')]);
    await t.store.write([rel('o', 'owner', 'team:x'), entity('a', 2)]);
    await t.store.write([rel('o', 'owner', 'team:x', 'delete'), { kind: 'entity', op: 'delete', id: 'c' }]);

    expect(t.store.changesSince(3)).toEqual({ fromRevision: 3, toRevision: 3, entityIds: [], tuples: [] });
    expect(t.store.changesSince(2)).toEqual({
      fromRevision: 2,
      toRevision: 3,
      entityIds: ['c'],
      tuples: [{ object: 'o', relation: 'owner', subject: 'team:x' }],
    });
    const all = t.store.changesSince(0)!;
    expect(all.fromRevision).toBe(0);
    expect(all.toRevision).toBe(3);
    expect(all.entityIds.sort()).toEqual(['a', 'b', 'c']);
    expect(all.tuples).toEqual([{ object: 'o', relation: 'owner', subject: 'team:x' }]);
    // A revision from the future (e.g. a store replaced under a client) cannot be listed.
    expect(t.store.changesSince(4)).toBeUndefined();
    expect(t.store.changesSince(-1)).toBeUndefined();
  });

  it('keeps only the last changeLogSize revisions; older ones answer undefined (flush all)', async () => {
    const t = tempStore({ changeLogSize: 3 });
    cleanup = t.cleanup;
    for (let i = 1; i <= 6; i++) await t.store.write([entity(`e${i}`)]);
    expect(t.store.changesSince(3)?.entityIds).toEqual(['e4', 'e5', 'e6']);
    expect(t.store.changesSince(2)).toBeUndefined();
    expect(t.store.changesSince(0)).toBeUndefined();
  });

  it('logs a revision with too many changes as unlistable', async () => {
    const t = tempStore({ changeLogMaxItems: 5 });
    cleanup = t.cleanup;
    await t.store.write([entity('small')]);
    await t.store.write(Array.from({ length: 6 }, (_, i) => entity(`bulk${i}`)));
    await t.store.write([entity('after')]);
    expect(t.store.changesSince(2)?.entityIds).toEqual(['after']);
    expect(t.store.changesSince(1)).toBeUndefined();
    expect(t.store.changesSince(0)).toBeUndefined();
  });

  it('notifies onCommit listeners with each write, until unsubscribed', async () => {
    const t = tempStore();
    cleanup = t.cleanup;
    const seen: ChangeSet[] = [];
    const off = t.store.onCommit((c) => seen.push(c));
    await t.store.write([entity('a'), rel('o', 'r', 's')]);
    off();
    await t.store.write([entity('b')]);
    expect(seen).toEqual([
      { fromRevision: 0, toRevision: 1, entityIds: ['a'], tuples: [{ object: 'o', relation: 'r', subject: 's' }] },
    ]);
  });

  it('a throwing listener does not fail the committed write nor starve the other listeners', async () => {
    const errors: unknown[] = [];
    const t = tempStore({ logger: { error: (obj) => errors.push(obj) } });
    cleanup = t.cleanup;
    const seen: number[] = [];
    t.store.onCommit(() => {
      throw new Error('listener bug');
    });
    t.store.onCommit((c) => seen.push(c.toRevision));
    expect((await t.store.write([entity('a')])).revision).toBe(1);
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ revision: 1 });
  });

  it('persists the revision and the log, and a second instance sees commits of the first', async () => {
    const t = tempStore();
    cleanup = t.cleanup;
    const path = join(t.dir, 'data');
    const reader = AttributeStore.open(path, { readOnly: true });
    try {
      await t.store.write([entity('a')]);
      await t.store.write([rel('o', 'r', 's')]);
      // lmdb-js drops a reader's snapshot in a setTimeout(0) after it was taken; a poller's
      // timer fires after that.
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(reader.revision()).toBe(2);
      expect(reader.changesSince(1)?.tuples).toEqual([{ object: 'o', relation: 'r', subject: 's' }]);
      expect(reader.hasTuple('o', 'r', 's')).toBe(true);
    } finally {
      await reader.close();
    }
    await t.store.close();
    const reopened = AttributeStore.open(path);
    try {
      expect(reopened.revision()).toBe(2);
      expect(reopened.changesSince(0)?.entityIds).toEqual(['a']);
      expect((await reopened.write([entity('b')])).revision).toBe(3);
    } finally {
      await reopened.close();
    }
  });

  it('a write that throws midway commits nothing: no data, no revision, no log entry', async () => {
    const t = tempStore();
    cleanup = t.cleanup;
    await t.store.write([entity('a')]);
    // A BigInt beyond 64 bits passes validation but makes msgpack throw inside the transaction,
    // after the first two records were already put.
    const poison = { kind: 'entity', op: 'put', id: 'p', attributes: { big: 1n << 70n } } as unknown as DataRecord;
    await expect(t.store.write([entity('b'), rel('o', 'r', 's'), poison])).rejects.toThrow(/too large/);
    expect(t.store.revision()).toBe(1);
    expect(t.store.getAttributes('b')).toBeUndefined();
    expect(t.store.hasTuple('o', 'r', 's')).toBe(false);
    expect(t.store.objectsOf('s', 'r')).toEqual([]);
    expect(t.store.changesSince(1)).toEqual({ fromRevision: 1, toRevision: 1, entityIds: [], tuples: [] });
    // And the store keeps working.
    expect((await t.store.write([entity('b')])).revision).toBe(2);
  });

  it('backup writes a compacted copy that opens as a store', async () => {
    const t = tempStore();
    cleanup = t.cleanup;
    await t.store.write([entity('a', 1), rel('o', 'r', 's')]);
    const copy = join(t.dir, 'backup');
    await t.store.backup(copy);
    await expect(t.store.backup(copy)).rejects.toThrow(/already holds a store/);
    const restored = AttributeStore.open(copy, { readOnly: true });
    try {
      expect(restored.getAttributes('a')).toEqual({ n: 1 });
      expect(restored.related('o', 'r', 's')).toBe(true);
      expect(restored.revision()).toBe(1);
    } finally {
      await restored.close();
    }
  });
});
