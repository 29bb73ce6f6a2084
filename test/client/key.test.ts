import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cacheKey, canonical } from '../../src/client/key.js';

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
    const keys = [1, '1', true, 'true', null, 'null', [1], { a: 1 }, '#NaN', Number.NaN].map((v) => cacheKey(A, 'read', R, { v }, undefined, undefined));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('refuses identifiers holding the separator (never cached, never coalesced)', () => {
    expect(cacheKey(`${A}\u0000read`, 'x', R, undefined, undefined, undefined)).toBeUndefined();
    expect(cacheKey(A, 'read\u0000', R, undefined, undefined, undefined)).toBeUndefined();
    expect(cacheKey(A, 'read', `${R}\u0000{}`, undefined, undefined, undefined)).toBeUndefined();
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
        if (ka === undefined || kb === undefined || ka !== kb) return;
        // Same key: the requests must be the same once canonicalised.
        const norm = (r: typeof a) => r.map((p) => (p === undefined ? '' : typeof p === 'string' ? p : canonical(p) === '{}' ? '' : canonical(p)));
        expect(norm(a)).toEqual(norm(b));
      }),
      { numRuns: 5_000 },
    );
  });
});
