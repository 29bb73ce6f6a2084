import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AttributeStore, RecordError, type DataRecord } from '../../src/store/index.js';
import { tempStore } from './helpers.js';

const rel = (object: string, relation: string, subject: string, op: 'put' | 'delete' = 'put'): DataRecord => ({
  kind: 'relation',
  op,
  object,
  relation,
  subject,
});

const TOPIC = 'uon://kafka/topic/payments.settled';
const LEDGER = 'uon://kafka/topic/ledger.entries';
const ALICE = 'spiffe://personnel.acme.test/eid/1001';

describe('relationship tuples', () => {
  let store: AttributeStore;
  let cleanup: () => Promise<void>;
  beforeEach(() => {
    ({ store, cleanup } = tempStore());
  });
  afterEach(async () => cleanup());

  it('indexes a tuple both ways', async () => {
    await store.write([
      rel(TOPIC, 'owner', 'team:payments'),
      rel(TOPIC, 'owner', 'team:platform'),
      rel(LEDGER, 'owner', 'team:payments'),
      rel(TOPIC, 'reader', ALICE),
    ]);
    expect(store.hasTuple(TOPIC, 'owner', 'team:payments')).toBe(true);
    expect(store.hasTuple(TOPIC, 'owner', ALICE)).toBe(false);
    expect(store.hasTuple(TOPIC, 'reader', 'team:payments')).toBe(false);
    expect(store.subjectsOf(TOPIC, 'owner').sort()).toEqual(['team:payments', 'team:platform']);
    expect(store.objectsOf('team:payments', 'owner').sort()).toEqual([LEDGER, TOPIC].sort());
    expect(store.objectsOf(ALICE, 'reader')).toEqual([TOPIC]);
    expect(store.subjectsOf('uon://nothing', 'owner')).toEqual([]);
  });

  it('lists every tuple of an object and of a subject, and nothing of ids sharing a prefix', async () => {
    await store.write([
      rel('team:a', 'member', 'u1'),
      rel('team:a', 'admin', 'u2'),
      rel('team:ab', 'member', 'u1'),
      rel('team:a:sub', 'member', 'u1'),
    ]);
    const byObject = store.tuplesOfObject('team:a').map((t) => `${t.relation} ${t.subject}`).sort();
    expect(byObject).toEqual(['admin u2', 'member u1']);
    const bySubject = store.tuplesOfSubject('u1').map((t) => `${t.object} ${t.relation}`).sort();
    expect(bySubject).toEqual(['team:a member', 'team:a:sub member', 'team:ab member']);
    expect(store.tuplesOfSubject('u1')[0]).toHaveProperty('subject', 'u1');
    expect(store.tuplesOfObject('team')).toEqual([]);
  });

  it('putting an existing tuple twice keeps one; deleting removes it from both indexes', async () => {
    await store.write([rel(TOPIC, 'owner', 'team:payments'), rel(TOPIC, 'owner', 'team:payments')]);
    await store.write([rel(TOPIC, 'owner', 'team:payments')]);
    expect(store.subjectsOf(TOPIC, 'owner')).toEqual(['team:payments']);
    expect(store.objectsOf('team:payments', 'owner')).toEqual([TOPIC]);

    await store.write([rel(TOPIC, 'owner', 'team:payments', 'delete')]);
    expect(store.hasTuple(TOPIC, 'owner', 'team:payments')).toBe(false);
    expect(store.subjectsOf(TOPIC, 'owner')).toEqual([]);
    expect(store.objectsOf('team:payments', 'owner')).toEqual([]);
    expect(store.tuplesOfSubject('team:payments')).toEqual([]);
  });

  it('deleting a missing tuple leaves the others alone', async () => {
    await store.write([rel(TOPIC, 'owner', 'team:payments')]);
    await store.write([rel(TOPIC, 'owner', 'team:nobody', 'delete')]);
    expect(store.subjectsOf(TOPIC, 'owner')).toEqual(['team:payments']);
  });

  it('applies puts and deletes in record order within one write', async () => {
    await store.write([rel(TOPIC, 'owner', 'team:x'), rel(TOPIC, 'owner', 'team:x', 'delete'), rel(TOPIC, 'owner', 'team:y')]);
    expect(store.subjectsOf(TOPIC, 'owner')).toEqual(['team:y']);
  });

  it('an entity delete does not remove its tuples (they are separate records)', async () => {
    await store.write([{ kind: 'entity', op: 'put', id: 'team:x', attributes: {} }, rel(TOPIC, 'owner', 'team:x')]);
    await store.write([{ kind: 'entity', op: 'delete', id: 'team:x' }]);
    expect(store.hasTuple(TOPIC, 'owner', 'team:x')).toBe(true);
  });

  it.each<[string, DataRecord, RegExp]>([
    ['an empty subject', rel(TOPIC, 'owner', ''), /"subject" must not be empty/],
    ['an empty relation', rel(TOPIC, '', 'x'), /"relation" must not be empty/],
    ['a relation over 256 bytes', rel(TOPIC, 'r'.repeat(257), 'x'), /"relation" is longer than 256 bytes/],
    ['an object over 1024 bytes', rel('o'.repeat(1025), 'owner', 'x'), /"object" is longer than 1024 bytes/],
    ['a NUL in the object', rel('a\u0000b', 'owner', 'x'), /control characters/],
  ])('rejects %s', async (_name, bad, message) => {
    await expect(store.write([rel(TOPIC, 'owner', 'ok'), bad])).rejects.toThrow(RecordError);
    await expect(store.write([bad])).rejects.toThrow(message);
    expect(store.hasTuple(TOPIC, 'owner', 'ok')).toBe(false);
  });

  it('stores tuples with the longest allowed ids and relation', async () => {
    const object = 'o'.repeat(1024);
    const subject = 's'.repeat(1024);
    const relation = 'r'.repeat(256);
    await store.write([rel(object, relation, subject)]);
    expect(store.hasTuple(object, relation, subject)).toBe(true);
    expect(store.objectsOf(subject, relation)).toEqual([object]);
    expect(store.tuplesOfObject(object)).toEqual([{ object, relation, subject }]);
  });
});
