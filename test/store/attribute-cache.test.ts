import { describe, expect, it } from 'vitest';
import { AttributeCache } from '../../src/store/attribute-cache.js';
import type { Attributes } from '../../src/store/records.js';
import { seededRandom } from '../random.js';

/** A cache over an in-memory table that counts its loads (what would be LMDB reads). */
function counted(table: Map<string, Attributes>, max = 100) {
  let revision = 1;
  const loads = new Map<string, number>();
  const cache = new AttributeCache(
    max,
    () => revision,
    (id) => {
      loads.set(id, (loads.get(id) ?? 0) + 1);
      const value = table.get(id);
      return value === undefined ? undefined : structuredClone(value);
    },
  );
  return { cache, loads: (id: string) => loads.get(id) ?? 0, bump: () => revision++ };
}

describe('AttributeCache admission', () => {
  it('keeps an entity from its second read on, frozen, and serves it without loading again', () => {
    const { cache, loads } = counted(new Map([['a', { groups: ['x'] }]]));
    const first = cache.get('a')!;
    expect(first).toEqual({ groups: ['x'] });
    expect(Object.isFrozen(first)).toBe(false); // the caller's own copy
    expect(cache.size).toBe(0);
    const second = cache.get('a')!;
    expect(cache.size).toBe(1);
    expect(Object.isFrozen(second)).toBe(true);
    expect(Object.isFrozen(second.groups)).toBe(true);
    expect(cache.get('a')).toBe(second);
    expect(cache.get('a')).toBe(second);
    expect(loads('a')).toBe(2);
  });

  it('remembers unknown ids the same way', () => {
    const { cache, loads } = counted(new Map());
    for (let i = 0; i < 5; i++) expect(cache.get('nobody')).toBeUndefined();
    expect(loads('nobody')).toBe(2);
    expect(cache.size).toBe(1);
  });

  it('never fills with ids read once, however many', () => {
    const table = new Map<string, Attributes>();
    for (let i = 0; i < 5000; i++) table.set(`e${i}`, { i });
    const { cache } = counted(table, 100);
    for (let i = 0; i < 5000; i++) expect(cache.get(`e${i}`)).toEqual({ i });
    expect(cache.size).toBe(0);
  });

  it('ends up holding a hot set smaller than its size, read in any order', () => {
    const table = new Map<string, Attributes>();
    for (let i = 0; i < 1000; i++) table.set(`spiffe://personnel.acme.test/eid/${i}`, { i });
    const ids = [...table.keys()];
    const { cache, loads } = counted(table, 2000);
    const random = seededRandom(11);
    for (let pass = 0; pass < 10; pass++) {
      for (let i = 0; i < 1000; i++) {
        const id = ids[random(1000)]!;
        expect(cache.get(id)).toEqual(table.get(id));
      }
    }
    for (const id of ids) cache.get(id);
    for (const id of ids) cache.get(id);
    expect(cache.size).toBe(1000);
    // A mark can give way to a third id in its bucket before the second read: then a third load.
    const thirdLoads = ids.reduce((sum, id) => sum + loads(id), 0) - 2 * ids.length;
    expect(thirdLoads).toBeGreaterThanOrEqual(0);
    expect(thirdLoads).toBeLessThanOrEqual(10);
  });

  it('admits any two ids read strictly in turn, including pairs that share a bucket', () => {
    // 200 ids over 128 buckets: ~155 of the 19,900 pairs share one, and each bucket holds two.
    const ids = Array.from({ length: 200 }, (_, i) => `uon://payments/payment/p-${i}`);
    const table = new Map(ids.map((id, i): [string, Attributes] => [id, { i }]));
    for (let a = 0; a < ids.length; a++) {
      for (let b = a + 1; b < ids.length; b++) {
        const { cache, loads } = counted(table, 64);
        for (let round = 0; round < 3; round++) {
          cache.get(ids[a]!);
          cache.get(ids[b]!);
        }
        if (loads(ids[a]!) !== 2 || loads(ids[b]!) !== 2) expect.fail(`${ids[a]} / ${ids[b]}: ${loads(ids[a]!)} and ${loads(ids[b]!)} loads`);
      }
    }
  });

  it('once full, takes one in eight of the ids read twice, so a larger working set churns it little', () => {
    const table = new Map<string, Attributes>();
    for (let i = 0; i < 10; i++) table.set(`hot${i}`, { i });
    for (let i = 0; i < 16; i++) table.set(`other${i}`, { i });
    const { cache, loads } = counted(table, 10);
    for (let round = 0; round < 2; round++) for (let i = 0; i < 10; i++) cache.get(`hot${i}`);
    expect(cache.size).toBe(10);
    for (let i = 0; i < 16; i++) {
      cache.get(`other${i}`);
      cache.get(`other${i}`);
    }
    const hotLoads = (): number => Array.from({ length: 10 }, (_, i) => loads(`hot${i}`)).reduce((a, b) => a + b);
    const before = hotLoads();
    for (let i = 0; i < 10; i++) cache.get(`hot${i}`);
    expect(hotLoads() - before).toBe(2); // two others got in, pushing out the two oldest
  });

  it('forgets both what it holds and what was read once when the revision moves', () => {
    const table = new Map<string, Attributes>([['a', { v: 1 }]]);
    const { cache, loads, bump } = counted(table);
    cache.get('a');
    cache.get('a');
    expect(cache.size).toBe(1);
    table.set('a', { v: 2 });
    bump();
    expect(cache.get('a')).toEqual({ v: 2 });
    expect(cache.size).toBe(0); // a first read again at the new revision
    cache.get('b');
    bump();
    cache.get('b');
    expect(cache.size).toBe(0);
    expect(loads('a')).toBe(3);
  });
});
