/** The cache's rules on their own: what is cached, for how long, and what an event drops. */
import { describe, expect, it } from 'vitest';
import { DecisionCache } from '../../src/client/decision-cache.js';
import type { AuthorizeResponseMessage, InvalidationEventMessage } from '../../src/client/proto.js';
import { resultOf } from '../../src/client/result.js';

const ALICE = 'spiffe://personnel.acme.test/eid/1001';
const BOB = 'spiffe://personnel.acme.test/eid/1002';
const P100 = 'uon://payments/payment/p-100';

function response(over: Partial<AuthorizeResponseMessage> = {}): AuthorizeResponseMessage {
  return {
    decision: 'DECISION_ALLOW',
    policyIds: ['payments/payment-read'],
    reason: 'allowed by payments/payment-read',
    policyRevision: 'rev-a',
    attributeRevision: 10,
    cacheTtlMs: 60_000,
    dependsOnTime: false,
    entityIds: [ALICE, P100],
    dependsOnRelations: false,
    ...over,
  };
}

function event(over: Partial<InvalidationEventMessage> = {}): InvalidationEventMessage {
  return { policyRevision: 'rev-a', attributeRevision: 10, flushAll: false, entityIds: [], tuples: [], ...over };
}

const req = (actor = ALICE, action = 'read', resource = P100) => ({ actor, action, resource });
const keyOf = (r: ReturnType<typeof req>) => `${r.actor}\u0000${r.action}\u0000${r.resource}`;

function connectedCache(options: Partial<{ maxEntries: number; ttlMs: number; staleAllowMs: number }> = {}): DecisionCache {
  const cache = new DecisionCache({ maxEntries: 100, ttlMs: 600_000, staleAllowMs: 1_000, ...options });
  cache.apply(event({ flushAll: true }));
  cache.setConnected(true);
  return cache;
}

function put(cache: DecisionCache, r = req(), res = response(), sentAt = performance.now()): boolean {
  return cache.store(keyOf(r), r, res, resultOf(res, false), sentAt);
}

const get = (cache: DecisionCache, r = req()) => cache.lookup(keyOf(r), r.actor.length, r.action.length, r.resource.length);

describe('DecisionCache', () => {
  it('serves a stored answer as cached, with the same decision', async () => {
    const cache = connectedCache();
    expect(put(cache)).toBe(true);
    const hit = await get(cache)!.hit;
    expect(hit).toMatchObject({ allowed: true, decision: 'ALLOW', cached: true });
    expect(Object.isFrozen(hit)).toBe(true);
    expect(cache.counters).toMatchObject({ hits: 1, misses: 0 });
  });

  it('does not cache cache_ttl_ms 0, nor a TTL used up while the answer travelled', () => {
    const cache = connectedCache();
    expect(put(cache, req(), response({ cacheTtlMs: 0, dependsOnTime: true }))).toBe(false);
    expect(put(cache, req(), response({ cacheTtlMs: 50, dependsOnTime: true }), performance.now() - 80)).toBe(false);
    expect(get(cache)).toBeUndefined();
  });

  it('does not cache an answer older than what the stream announced, or of another policy revision', () => {
    const cache = connectedCache();
    cache.apply(event({ attributeRevision: 12, entityIds: ['someone-else'] }));
    expect(put(cache, req(), response({ attributeRevision: 11 }))).toBe(false);
    expect(put(cache, req(), response({ attributeRevision: 12, policyRevision: 'rev-old' }))).toBe(false);
    expect(put(cache, req(), response({ attributeRevision: 12 }))).toBe(true);
  });

  it('drops only the answers that read a changed entity', () => {
    const cache = connectedCache();
    put(cache, req(ALICE));
    put(cache, req(BOB, 'read', 'uon://payments/payment/p-200'), response({ entityIds: [BOB, 'uon://payments/payment/p-200'] }));
    cache.apply(event({ attributeRevision: 11, entityIds: [ALICE] }));
    expect(get(cache, req(ALICE))).toBeUndefined();
    expect(get(cache, req(BOB, 'read', 'uon://payments/payment/p-200'))).toBeDefined();
    expect(cache.counters.invalidated).toBe(1);
  });

  it('a resource change drops every answer that read the resource', () => {
    const cache = connectedCache();
    put(cache, req(ALICE));
    put(cache, req(BOB), response({ entityIds: [BOB, P100] }));
    cache.apply(event({ attributeRevision: 11, entityIds: [P100] }));
    expect(cache.size).toBe(0);
  });

  it('a tuple change drops the answers that read relations, and only those', () => {
    const cache = connectedCache();
    put(cache, req(ALICE, 'publish', 'uon://kafka/topic/t'), response({ entityIds: [], dependsOnRelations: true }));
    put(cache, req(ALICE));
    cache.apply(event({ attributeRevision: 11, tuples: [{ object: 'team:x', relation: 'member', subject: BOB }] }));
    expect(get(cache, req(ALICE, 'publish', 'uon://kafka/topic/t'))).toBeUndefined();
    expect(get(cache, req(ALICE))).toBeDefined();
  });

  it('flushes everything on flush_all and on a new policy revision', () => {
    const cache = connectedCache();
    put(cache);
    cache.apply(event({ flushAll: true, attributeRevision: 11 }));
    expect(cache.size).toBe(0);
    put(cache, req(), response({ attributeRevision: 11 }));
    cache.apply(event({ policyRevision: 'rev-b', attributeRevision: 11 }));
    expect(cache.size).toBe(0);
  });

  it('cut off from the stream: old ALLOWs are not served, DENYs are, new ALLOWs live at most staleAllowMs', async () => {
    const cache = connectedCache({ staleAllowMs: 30 });
    const deny = response({ decision: 'DECISION_DENY', policyIds: [], reason: 'default deny' });
    put(cache, req(ALICE));
    put(cache, req(BOB), deny);
    cache.setConnected(false);
    expect(get(cache, req(ALICE))).toBeDefined(); // younger than the bound
    await new Promise((r) => setTimeout(r, 60));
    expect(get(cache, req(ALICE))).toBeUndefined();
    expect(cache.counters.staleAllowsRefused).toBe(1);
    expect(get(cache, req(BOB))).toBeDefined();
    // Fetched while cut off: cached, but only up to the bound.
    put(cache, req(ALICE, 'read', 'uon://payments/payment/p-300'));
    await new Promise((r) => setTimeout(r, 60));
    expect(get(cache, req(ALICE, 'read', 'uon://payments/payment/p-300'))).toBeUndefined();
    // Reconnected: the first event flushes, full TTLs again.
    cache.apply(event({ flushAll: true, attributeRevision: 20 }));
    cache.setConnected(true);
    expect(cache.size).toBe(0);
    put(cache, req(), response({ attributeRevision: 20 }));
    await new Promise((r) => setTimeout(r, 60));
    expect(get(cache)).toBeDefined();
  });

  it('never treats anything but DECISION_ALLOW as allowed', () => {
    for (const decision of ['DECISION_UNSPECIFIED', 'DECISION_DENY', 0, 2, '', 'ALLOW']) {
      expect(resultOf(response({ decision: decision as string }), false).allowed).toBe(false);
    }
    expect(resultOf(response({ decision: 1 }), false).allowed).toBe(true);
  });

  it('keeps within maxEntries, counts evictions, and unindexes what it evicts', () => {
    const cache = connectedCache({ maxEntries: 2 });
    for (const id of ['a', 'b', 'c']) put(cache, req(ALICE, 'read', `uon://x/y/${id}`), response({ entityIds: [`uon://x/y/${id}`] }));
    expect(cache.size).toBe(2);
    expect(cache.counters.evictions).toBe(1);
    cache.apply(event({ attributeRevision: 11, entityIds: ['uon://x/y/a'] }));
    expect(cache.counters.invalidated).toBe(0);
  });

  it('refuses a hit whose identifier lengths differ (a NUL collision)', () => {
    const cache = connectedCache();
    put(cache);
    expect(cache.lookup(keyOf(req()), ALICE.length + 1, 4, P100.length)).toBeUndefined();
  });
});
