import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cacheKey, cacheable } from '../../src/client/key.js';

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = normalize(x);
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return v;
}

const A = 'spiffe://personnel.acme.test/eid/1001';
const R = 'uon://payments/payment/p-100';

describe('cache keys', () => {
  it('is the three identifiers when nothing else is given', () => {
    expect(cacheKey(A, 'read', R, undefined, undefined, undefined)).toBe(`${A}\u0000read\u0000${R}`);
  });

  it('treats an empty context like no context', () => {
    expect(cacheKey(A, 'read', R, {}, undefined, {})).toBe(cacheKey(A, 'read', R, undefined, undefined, undefined));
    expect(cacheKey(A, 'read', R, { ip: undefined }, undefined, undefined)).toBe(cacheKey(A, 'read', R, undefined, undefined, undefined));
  });

  it('does not depend on key order, at any depth', () => {
    const a = cacheKey(A, 'read', R, { ip: '10.0.0.1', geo: { lat: 1, lon: 2 } }, undefined, undefined);
    const b = cacheKey(A, 'read', R, { geo: { lon: 2, lat: 1 }, ip: '10.0.0.1' }, undefined, undefined);
    expect(a).toBe(b);
  });

  it('keeps context, resource attributes and actor claims apart', () => {
    const ctx = cacheKey(A, 'read', R, { x: 1 }, undefined, undefined);
    const attrs = cacheKey(A, 'read', R, undefined, { x: 1 }, undefined);
    const claims = cacheKey(A, 'read', R, undefined, undefined, { x: 1 });
    expect(new Set([ctx, attrs, claims]).size).toBe(3);
  });

  it('distinguishes values of different types', () => {
    const keys = [1, '1', true, 'true', 't', null, 'null', 'z', [1], ['1'], { a: 1 }, { a: '1' }, 'n1;', Number.NaN, 'a:b', { 'a:b': 1 }].map((v) => cacheKey(A, 'read', R, { v }, undefined, undefined));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('refuses identifiers holding the separator (never cached, never coalesced)', () => {
    expect(cacheable(A, 'read', R)).toBe(true);
    expect(cacheable(`${A}\u0000read`, 'x', R)).toBe(false);
    expect(cacheable(A, 'read\u0000', R)).toBe(false);
    expect(cacheable(A, 'read', `${R}\u0000{}`)).toBe(false);
  });

  it('shares a key only with the same identifier lengths when one holds a NUL', () => {
    // The collision the length check on a hit exists for.
    const plain = cacheKey(A, 'read', R, { x: 1 }, undefined, undefined);
    const sneaky = cacheKey(A, 'read', `${R}\u0000{1:xn1;}\u0000\u0000`, undefined, undefined, undefined);
    expect(sneaky).toBe(plain);
    expect(`${R}\u0000{1:xn1;}\u0000\u0000`.length).not.toBe(R.length);
  });

  it('is injective: different requests never share a key (property)', () => {
    // A tiny alphabet with the separator and JSON punctuation makes near-collisions likely.
    const char = fc.constantFrom('a', 'b', '\u0000', '"', ':', ',', '{', '}');
    const id = fc.string({ unit: char, maxLength: 3 });
    const json = fc.oneof(fc.string({ unit: char, maxLength: 2 }), fc.integer({ min: -1, max: 1 }), fc.boolean(), fc.constant(null));
    const obj = fc.option(fc.dictionary(fc.string({ unit: char, maxLength: 2 }), json, { maxKeys: 2 }), { nil: undefined });
    const request = fc.tuple(id, id, id, obj, obj, obj);
    fc.assert(
      fc.property(request, request, (a, b) => {
        const ka = cacheKey(...a);
        const kb = cacheKey(...b);
        // What a hit requires: equal keys and equal identifier lengths.
        if (ka !== kb || a[0].length !== b[0].length || a[1].length !== b[1].length || a[2].length !== b[2].length) return;
        // Same key: the requests must be the same question (undefined members dropped, an
        // empty object the same as none, key order irrelevant).
        expect(a.map(normalize)).toEqual(b.map(normalize));
      }),
      { numRuns: 5_000 },
    );
  });
});
