/**
 * In-process cases shared by bench:ci (interleaved rounds, medians) and bench:micro (benny):
 * the decision cost with the bundled rules vs with 10,000 more, one rule family at a time,
 * and the floor a cached client check is compared with.
 */
import { LRUCache } from 'lru-cache';
import { decide } from '../../dist/policy/index.js';
import { ALICE, P100, PUBLISH_REQUEST, READ_REQUEST, REFUND_REQUEST, paymentsMemorySources, paymentsPolicySets, singleRuleSet } from './payments.mjs';

/** A Wednesday 11:00 in London: inside Alice's business hours, so the refund rule can allow. */
export const BUSINESS_HOURS = new Date('2026-11-25T11:00:00Z');

export function decisionCases({ extraRules = 10_000 } = {}) {
  const src = paymentsMemorySources();
  const sets = paymentsPolicySets(extraRules);
  const sources = { attributes: src, relations: src, now: BUSINESS_HOURS };
  const check = (set, req, expect) => {
    const d = decide(set, req, sources);
    if (d.effect !== expect) throw new Error(`benchmark fixture broken: ${req.action} ${req.resource} gave ${d.effect} (${d.reason}), expected ${expect}`);
  };
  check(sets.small, READ_REQUEST, 'ALLOW');
  check(sets.large, READ_REQUEST, 'ALLOW');
  const families = {
    region: { set: singleRuleSet('payment-read'), req: READ_REQUEST },
    time_window: { set: singleRuleSet('payment-refund'), req: REFUND_REQUEST },
    relationship: { set: singleRuleSet('topic-produce-consume'), req: PUBLISH_REQUEST },
  };
  for (const f of Object.values(families)) check(f.set, f.req, 'ALLOW');
  return {
    sets,
    src,
    cases: {
      decide_inprocess: () => decide(sets.small, READ_REQUEST, sources).effect === 'ALLOW',
      decide_inprocess_10k_policies: () => decide(sets.large, READ_REQUEST, sources).effect === 'ALLOW',
    },
    familyCases: Object.fromEntries(Object.entries(families).map(([name, f]) => [`cel_${name}`, () => decide(f.set, f.req, sources).effect === 'ALLOW'])),
  };
}

/**
 * The floor for a cached client check: a bare lru-cache get with a template-string key built
 * from the three request fields — the least any decision cache keyed on the request can do.
 */
export function lruFloorCase() {
  const lru = new LRUCache({ max: 10_000 });
  const actors = [ALICE, 'spiffe://personnel.acme.test/eid/1002', 'spiffe://personnel.acme.test/eid/1003', 'spiffe://personnel.acme.test/eid/1004'];
  for (const a of actors) lru.set(`${a}\u0000read\u0000${P100}`, { effect: 'ALLOW' });
  const reqs = hotRequests();
  return (i) => {
    const req = reqs[i & 3];
    return lru.get(`${req.actor}\u0000${req.action}\u0000${req.resource}`) !== undefined;
  };
}

/**
 * The cached request as four equal but separate objects, picked by the loop index. With one
 * constant (frozen) object the JIT can fold the key into a compile-time constant string, and
 * the "key build" of the floor would not happen at all; here both the floor and the client
 * build their key at run time, as they do in a real caller.
 */
export function hotRequests() {
  return Array.from({ length: 4 }, () => ({ actor: ALICE, action: 'read', resource: P100 }));
}
