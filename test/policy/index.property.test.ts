import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePattern, matchPattern, patternCovers } from '../../src/policy/patterns.js';
import { ResourceIndex } from '../../src/policy/resource-index.js';

const segment = fc.constantFrom('a', 'b', 'c', '');
const patternSegment = fc.constantFrom('a', 'b', 'c', '*', '**');
const id = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
const pattern = fc.array(patternSegment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
const action = fc.constantFrom('read', 'write', 'delete');
const ruleArb = fc.record({ patterns: fc.array(pattern, { minLength: 1, maxLength: 3 }), actions: fc.array(fc.constantFrom('read', 'write', '*'), { minLength: 1, maxLength: 2 }) });

/** An independent reference matcher: dynamic programming over (pattern prefix, id prefix). */
function naiveMatch(p: string, value: string): boolean {
  const ps = p.split('/');
  const vs = value.split('/');
  const dp = Array.from({ length: ps.length + 1 }, () => new Array<boolean>(vs.length + 1).fill(false));
  dp[0][0] = true;
  for (let i = 0; i < ps.length; i++) {
    for (let j = 0; j <= vs.length; j++) {
      if (ps[i] === '**') dp[i + 1][j] = dp[i][j] || (j > 0 && dp[i + 1][j - 1]);
      else if (j > 0) dp[i + 1][j] = dp[i][j - 1] && (ps[i] === '*' ? vs[j - 1] !== '' : ps[i] === vs[j - 1]);
    }
  }
  return dp[ps.length][vs.length];
}

describe('resource index', () => {
  it('returns exactly the rules a naive scan finds, in declaration order', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 25 }), fc.array(fc.tuple(id, action), { minLength: 1, maxLength: 20 }), (rules, queries) => {
        const index = new ResourceIndex<{ lookupStamp: number; order: number }>();
        const compiled = rules.map((r, order) => ({ ...r, ref: { lookupStamp: 0, order } }));
        for (const r of compiled) for (const p of r.patterns) index.add(compilePattern(p), r.actions, r.ref);
        for (const [resource, act] of queries) {
          const expected = compiled
            .filter((r) => ((r.actions as string[]).includes('*') || (r.actions as string[]).includes(act)) && r.patterns.some((p) => matchPattern(compilePattern(p), resource)))
            .map((r) => r.ref.order);
          expect(index.lookup(resource, act).map((r) => r.order)).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('matches patterns like an independent regular-expression matcher', () => {
    fc.assert(
      fc.property(pattern, id, (p, value) => {
        expect(matchPattern(compilePattern(p), value)).toBe(naiveMatch(p, value));
      }),
      { numRuns: 2000 },
    );
  });

  it('only claims coverage that holds', () => {
    fc.assert(
      fc.property(pattern, pattern, fc.array(id, { minLength: 10, maxLength: 30 }), (outer, inner, ids) => {
        if (!patternCovers(compilePattern(outer), compilePattern(inner))) return;
        for (const value of ids) {
          if (matchPattern(compilePattern(inner), value)) expect(matchPattern(compilePattern(outer), value)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
