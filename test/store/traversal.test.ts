import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { relatedThroughGroups } from '../../src/relations/traverse.js';
import { AttributeStore, createDecisionMemo, type DataRecord } from '../../src/store/index.js';
import { tempStore } from './helpers.js';

const rel = (object: string, relation: string, subject: string): DataRecord => ({ kind: 'relation', op: 'put', object, relation, subject });
const TOPIC = 'uon://kafka/topic/payments.settled';
const GRACE = 'spiffe://personnel.acme.test/eid/1007';

/** team:t0 member team:t1 member ... team:t{n-1} member user */
function chain(n: number, user: string): DataRecord[] {
  const records = [rel(TOPIC, 'owner', 'team:t0')];
  for (let i = 0; i < n - 1; i++) records.push(rel(`team:t${i}`, 'member', `team:t${i + 1}`));
  records.push(rel(`team:t${n - 1}`, 'member', user));
  return records;
}

describe('related()', () => {
  let store: AttributeStore;
  let cleanup: () => Promise<void>;
  afterEach(async () => cleanup());

  describe('with the default depth', () => {
    beforeEach(() => {
      ({ store, cleanup } = tempStore());
    });

    it('holds on a direct tuple', async () => {
      await store.write([rel(TOPIC, 'develop', GRACE)]);
      expect(store.related(TOPIC, 'develop', GRACE)).toBe(true);
      expect(store.related(TOPIC, 'owner', GRACE)).toBe(false);
    });

    it('holds through nested member tuples (the payments scenario)', async () => {
      await store.write([
        rel(TOPIC, 'owner', 'team:payments'),
        rel('team:payments', 'member', 'team:payments-oncall'),
        rel('team:payments-oncall', 'member', GRACE),
      ]);
      expect(store.related(TOPIC, 'owner', GRACE)).toBe(true);
      expect(store.related(TOPIC, 'owner', 'team:payments-oncall')).toBe(true);
      // Only `member` tuples are followed; hasTuple sees direct tuples only.
      expect(store.hasTuple(TOPIC, 'owner', GRACE)).toBe(false);
      expect(store.related(TOPIC, 'develop', GRACE)).toBe(false);
    });

    it('does not follow relations other than member', async () => {
      await store.write([rel(TOPIC, 'owner', 'team:a'), rel('team:a', 'admin', GRACE)]);
      expect(store.related(TOPIC, 'owner', GRACE)).toBe(false);
    });

    it('a cycle terminates and grants nothing by itself', async () => {
      await store.write([
        rel(TOPIC, 'owner', 'team:a'),
        rel('team:a', 'member', 'team:b'),
        rel('team:b', 'member', 'team:c'),
        rel('team:c', 'member', 'team:a'),
        rel('team:b', 'member', 'team:b'),
      ]);
      expect(store.related(TOPIC, 'owner', GRACE)).toBe(false);
      expect(store.related(TOPIC, 'owner', 'team:c')).toBe(true);
      // Members of the cycle are still found once someone is really in it.
      await store.write([rel('team:c', 'member', GRACE)]);
      expect(store.related(TOPIC, 'owner', GRACE)).toBe(true);
    });

    it('follows at most 8 member hops', async () => {
      // chain(n): the user is n member hops below the owner team.
      await store.write(chain(8, GRACE));
      expect(store.related(TOPIC, 'owner', GRACE)).toBe(true);
      await store.write(chain(9, 'spiffe://x/eid/deep'));
      expect(store.related(TOPIC, 'owner', 'spiffe://x/eid/deep')).toBe(false);
    });

    it('reflects deletes at once', async () => {
      await store.write(chain(3, GRACE));
      expect(store.related(TOPIC, 'owner', GRACE)).toBe(true);
      await store.write([{ kind: 'relation', op: 'delete', object: 'team:t1', relation: 'member', subject: 'team:t2' }]);
      expect(store.related(TOPIC, 'owner', GRACE)).toBe(false);
    });
  });

  it('honours a configured depth limit', async () => {
    ({ store, cleanup } = tempStore({ maxDepth: 2 }));
    await store.write(chain(2, 'u:two'));
    await store.write(chain(3, 'u:three'));
    expect(store.related(TOPIC, 'owner', 'u:two')).toBe(true);
    expect(store.related(TOPIC, 'owner', 'u:three')).toBe(false);
  });

  it('maxDepth 0 means direct tuples only', async () => {
    ({ store, cleanup } = tempStore({ maxDepth: 0 }));
    await store.write(chain(1, 'u:one'));
    expect(store.related(TOPIC, 'owner', 'team:t0')).toBe(true);
    expect(store.related(TOPIC, 'owner', 'u:one')).toBe(false);
  });

  it('refuses a negative or fractional depth and other bad options', () => {
    expect(() => AttributeStore.open('/nonexistent/never-created', { maxDepth: -1 })).toThrow(RangeError);
    expect(() => AttributeStore.open('/nonexistent/never-created', { maxDepth: 1.5 })).toThrow(/maxDepth must be/);
    expect(() => AttributeStore.open('/nonexistent/never-created', { changeLogSize: -3 })).toThrow(/changeLogSize must be/);
    cleanup = async () => {};
  });
});

describe('createDecisionMemo', () => {
  let store: AttributeStore;
  let cleanup: () => Promise<void>;
  beforeEach(() => {
    ({ store, cleanup } = tempStore());
  });
  afterEach(async () => cleanup());

  it('answers like the store and asks each relation question once per decision', async () => {
    await store.write([
      { kind: 'entity', op: 'put', id: GRACE, attributes: { region: 'amer' } },
      rel(TOPIC, 'owner', 'team:payments'),
      rel('team:payments', 'member', 'team:oncall'),
      rel('team:oncall', 'member', GRACE),
    ]);
    const reads = { attributes: 0, subjects: 0, tuples: 0 };
    const counting = {
      maxDepth: store.maxDepth,
      getAttributes: (id: string) => (reads.attributes++, store.getAttributes(id)),
      hasTuple: (o: string, r: string, s: string) => (reads.tuples++, store.hasTuple(o, r, s)),
      subjectsOf: (o: string, r: string) => (reads.subjects++, store.subjectsOf(o, r)),
    };
    const memo = createDecisionMemo(counting);
    for (let i = 0; i < 3; i++) {
      expect(memo.getAttributes(GRACE)).toEqual({ region: 'amer' });
      expect(memo.getAttributes('spiffe://unknown')).toBeUndefined();
      expect(memo.related(TOPIC, 'owner', GRACE)).toBe(true);
      expect(memo.hasTuple(TOPIC, 'owner', GRACE)).toBe(false);
    }
    // Attributes pass through (the evaluator reads each entity once per decision itself).
    expect(reads).toEqual({ attributes: 6, subjects: 3, tuples: 1 });
    // A second related() question over the same groups reuses the memoized subject lists.
    expect(memo.related(TOPIC, 'owner', 'spiffe://someone-else')).toBe(false);
    expect(reads.subjects).toBe(3 + 1); // only GRACE's own (empty) member list is new

    // A new memo (next decision) sees new data.
    await store.write([{ kind: 'relation', op: 'delete', object: 'team:oncall', relation: 'member', subject: GRACE }]);
    expect(memo.related(TOPIC, 'owner', GRACE)).toBe(true);
    expect(createDecisionMemo(store).related(TOPIC, 'owner', GRACE)).toBe(false);
  });

  it('memoized traversal stays cycle safe and depth limited', async () => {
    await store.write([rel(TOPIC, 'owner', 'team:a'), rel('team:a', 'member', 'team:b'), rel('team:b', 'member', 'team:a')]);
    expect(createDecisionMemo(store).related(TOPIC, 'owner', GRACE)).toBe(false);
    await store.write(chain(9, 'u:deep'));
    expect(createDecisionMemo(store).related(TOPIC, 'owner', 'u:deep')).toBe(false);
    expect(createDecisionMemo({ ...wrap(store), maxDepth: 9 }).related(TOPIC, 'owner', 'u:deep')).toBe(true);
  });
});

function wrap(store: AttributeStore) {
  return {
    getAttributes: (id: string) => store.getAttributes(id),
    hasTuple: (o: string, r: string, s: string) => store.hasTuple(o, r, s),
    subjectsOf: (o: string, r: string) => store.subjectsOf(o, r),
  };
}

describe('related() from cached group closures', () => {
  // The store answers from closures cached per revision; the reference is the plain walk the
  // in-memory source uses. Random graphs (cycles included), every depth from 0 to 4, the same
  // questions asked twice (the second time from the cache), then again after a write.
  const nodes = ['doc', 'team:a', 'team:b', 'team:c', 'team:d', 'u1', 'u2', 'u3'];
  const tuple = fc.record({
    object: fc.constantFrom(...nodes),
    relation: fc.constantFrom('owner', 'member', 'member', 'member'),
    subject: fc.constantFrom(...nodes),
  });

  it('agrees with breadth-first search, before and after writes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(tuple, { maxLength: 25 }), fc.array(tuple, { maxLength: 5 }), fc.integer({ min: 0, max: 4 }), async (first, second, maxDepth) => {
        const { store: s, cleanup: done } = tempStore({ maxDepth });
        try {
          const graph = new Map<string, Set<string>>();
          const apply = async (tuples: typeof first) => {
            if (tuples.length === 0) return;
            await s.write(tuples.map((t) => rel(t.object, t.relation, t.subject)));
            for (const t of tuples) {
              const key = `${t.object}\0${t.relation}`;
              if (!graph.has(key)) graph.set(key, new Set());
              graph.get(key)!.add(t.subject);
            }
          };
          const reference = (o: string, r: string, subj: string) => relatedThroughGroups((x, y) => graph.get(`${x}\0${y}`) ?? [], o, r, subj, maxDepth);
          const check = () => {
            for (const relation of ['owner', 'member']) {
              for (const subject of nodes) {
                expect(s.related('doc', relation, subject), `doc ${relation} ${subject} depth ${maxDepth}`).toBe(reference('doc', relation, subject));
                expect(s.related('team:a', relation, subject)).toBe(reference('team:a', relation, subject));
              }
            }
          };
          await apply(first);
          check(); // walks (first ask of each key)
          check(); // builds the closures
          check(); // answers from them
          await s.write([{ kind: 'entity', op: 'put', id: 'u1', attributes: { n: 1 } }]);
          check(); // an attribute-only commit keeps them
          await apply(second);
          check();
          check();
          check();
        } finally {
          await done();
        }
      }),
      { numRuns: 60 },
    );
  });
});
