/** CharterClient against a real server: hits, misses, TTL, coalescing, batches, revocation. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CharterClient } from '../../src/client/index.js';
import { copyPolicies } from '../server/helpers.js';
import { ALICE, ALICE_ATTRIBUTES, BOB, P100, P200, TOPIC, serverCalls, sleep, startServer, waitFor, writeEntity, writeTuple, type Harness } from './helpers.js';

const READ_P100 = { actor: ALICE, action: 'read', resource: P100 };

describe('CharterClient with a real server', () => {
  let h: Harness;
  const clients: CharterClient[] = [];
  const newClient = async (options: Partial<ConstructorParameters<typeof CharterClient>[0]> = {}): Promise<CharterClient> => {
    const c = new CharterClient({ target: h.target, deadlineMs: 5_000, ...options });
    clients.push(c);
    if (options.invalidations !== false) expect(await c.ready(5_000)).toBe(true);
    return c;
  };

  beforeAll(async () => {
    h = await startServer();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    // Put Alice back as the payments data has her.
    await writeEntity(h, ALICE, ALICE_ATTRIBUTES);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers the first check from the server and the second from the cache', async () => {
    const c = await newClient();
    const before = await serverCalls(h);
    const first = await c.check(READ_P100);
    expect(first).toMatchObject({ allowed: true, decision: 'ALLOW', cached: false });
    expect(first.policyIds.length).toBeGreaterThan(0);
    expect(first.revision.policy).toBe(h.server.decisionPoint.policyRevision);
    const second = await c.check(READ_P100);
    expect(second).toMatchObject({ allowed: true, decision: 'ALLOW', cached: true, reason: first.reason });
    expect(await serverCalls(h)).toBe(before + 1);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, rpcs: 1, size: 1 });
  });

  it('caches DENYs too', async () => {
    const c = await newClient();
    const before = await serverCalls(h);
    const deny = { actor: ALICE, action: 'read', resource: P200 };
    expect(await c.check(deny)).toMatchObject({ allowed: false, decision: 'DENY', cached: false });
    expect(await c.check(deny)).toMatchObject({ allowed: false, decision: 'DENY', cached: true });
    expect(await serverCalls(h)).toBe(before + 1);
  });

  it('keys on context and attributes: a different context is a different question', async () => {
    const c = await newClient();
    await c.check({ ...READ_P100, context: { ip: '10.0.0.1', country: 'GB' } });
    expect((await c.check({ ...READ_P100, context: { country: 'GB', ip: '10.0.0.1' } })).cached).toBe(true);
    expect((await c.check({ ...READ_P100, context: { ip: '10.0.0.2', country: 'GB' } })).cached).toBe(false);
    expect((await c.check(READ_P100)).cached).toBe(false);
  });

  it('never answers a request holding NUL from another request\'s cache entry', async () => {
    const c = await newClient();
    expect((await c.check({ ...READ_P100, context: { x: 1 } })).allowed).toBe(true);
    // Same cache key as the request above; the server rejects the identifier.
    const sneaky = await c.check({ ...READ_P100, resource: `${P100}\u0000{1:xn1;}\u0000\u0000` });
    expect(sneaky).toMatchObject({ allowed: false, cached: false });
    expect(sneaky.error?.code).toBe('INVALID_ARGUMENT');
    expect(c.stats().size).toBe(1);
  });

  it('shares one call between identical concurrent checks', async () => {
    const c = await newClient();
    const before = await serverCalls(h);
    const results = await Promise.all(Array.from({ length: 25 }, () => c.check(READ_P100)));
    expect(results.every((r) => r.allowed)).toBe(true);
    expect(await serverCalls(h)).toBe(before + 1);
    expect(c.stats()).toMatchObject({ rpcs: 1, coalesced: 24 });
  });

  it('checkMany: one BatchAuthorize for the misses, answers in order, then cached', async () => {
    const c = await newClient();
    const beforeBatch = await serverCalls(h, 'BatchAuthorize');
    const beforeUnary = await serverCalls(h);
    const requests = [READ_P100, { actor: ALICE, action: 'read', resource: P200 }, { actor: BOB, action: 'read', resource: P200 }, READ_P100];
    const results = await c.checkMany(requests);
    expect(results.map((r) => r.decision)).toEqual(['ALLOW', 'DENY', 'ALLOW', 'ALLOW']);
    expect(await serverCalls(h, 'BatchAuthorize')).toBe(beforeBatch + 1);
    expect(c.stats().rpcs).toBe(1);
    const again = await c.checkMany(requests);
    expect(again.every((r) => r.cached)).toBe(true);
    expect((await c.check({ actor: BOB, action: 'read', resource: P200 })).cached).toBe(true);
    expect(await serverCalls(h, 'BatchAuthorize')).toBe(beforeBatch + 1);
    expect(await serverCalls(h)).toBe(beforeUnary);
  });

  it('caps the server TTL with the client ttlMs', async () => {
    const c = await newClient({ cache: { maxEntries: 100, ttlMs: 50 } });
    await c.check(READ_P100);
    expect((await c.check(READ_P100)).cached).toBe(true);
    await sleep(120);
    expect((await c.check(READ_P100)).cached).toBe(false);
    expect(c.stats().rpcs).toBe(2);
  });

  it('bounds the cache size and counts evictions', async () => {
    const c = await newClient({ cache: { maxEntries: 2, ttlMs: 60_000 } });
    for (const resource of [P100, P200, 'uon://payments/payment/p-300']) await c.check({ actor: ALICE, action: 'read', resource });
    expect(c.stats()).toMatchObject({ size: 2, evictions: 1 });
    expect((await c.check(READ_P100)).cached).toBe(false);
  });

  it('revokes a cached ALLOW when an Admin write changes the actor (no TTL involved)', async () => {
    const c = await newClient({ cache: { maxEntries: 100, ttlMs: 600_000 } });
    expect((await c.check(READ_P100)).allowed).toBe(true);
    expect((await c.check(READ_P100)).cached).toBe(true);
    const bobRead = { actor: BOB, action: 'read', resource: P200 };
    expect((await c.check(bobRead)).allowed).toBe(true);
    await writeEntity(h, ALICE, { ...ALICE_ATTRIBUTES, region: 'amer' });
    const denied = await waitFor('DENY after the write', async () => {
      const r = await c.check(READ_P100);
      return r.allowed ? undefined : r;
    });
    expect(denied).toMatchObject({ decision: 'DENY', cached: false });
    expect(denied.error).toBeUndefined();
    expect(c.stats().invalidated).toBeGreaterThanOrEqual(1);
    // Only what read Alice was dropped: Bob's answer is still cached.
    expect((await c.check(bobRead)).cached).toBe(true);
  });

  it('revokes decisions that read relations when a tuple changes', async () => {
    const c = await newClient({ cache: { maxEntries: 100, ttlMs: 600_000 } });
    const publish = { actor: ALICE, action: 'publish', resource: TOPIC };
    expect((await c.check(publish)).allowed).toBe(true);
    expect((await c.check(publish)).cached).toBe(true);
    await writeTuple(h, 'OP_DELETE', 'team:payments', 'member', ALICE);
    try {
      const denied = await waitFor('DENY after the tuple delete', async () => {
        const r = await c.check(publish);
        return r.allowed ? undefined : r;
      });
      expect(denied.decision).toBe('DENY');
    } finally {
      await writeTuple(h, 'OP_PUT', 'team:payments', 'member', ALICE);
    }
    await waitFor('ALLOW after the tuple is back', async () => (await c.check(publish)).allowed || undefined);
  });

  it('without the stream, caches ALLOWs only for staleAllowMs', async () => {
    const c = await newClient({ invalidations: false, staleAllowMs: 40, cache: { maxEntries: 100, ttlMs: 600_000 } });
    await c.check(READ_P100);
    await sleep(100);
    expect((await c.check(READ_P100)).cached).toBe(false);
    expect(c.stats().rpcs).toBe(2);
  });
});

describe('CharterClient with a server that says "do not cache"', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startServer({ defaultCacheTtlMs: 0 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('never caches a decision with cache_ttl_ms 0', async () => {
    const c = new CharterClient({ target: h.target, deadlineMs: 5_000 });
    try {
      expect(await c.ready()).toBe(true);
      const before = await serverCalls(h);
      await c.check(READ_P100);
      const again = await c.check(READ_P100);
      expect(again).toMatchObject({ allowed: true, cached: false });
      expect(await serverCalls(h)).toBe(before + 2);
      expect(c.stats().size).toBe(0);
    } finally {
      c.close();
    }
  });
});

describe('CharterClient across a policy reload', () => {
  let h: Harness;
  let dir: string;
  beforeAll(async () => {
    dir = copyPolicies();
    h = await startServer({ policiesDir: dir, watchPolicies: false });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops every cached decision when the server serves a new policy revision', async () => {
    const c = new CharterClient({ target: h.target, deadlineMs: 5_000, cache: { maxEntries: 100, ttlMs: 600_000 } });
    try {
      expect(await c.ready()).toBe(true);
      const before = await c.check(READ_P100);
      expect(before.allowed).toBe(true);
      expect((await c.check(READ_P100)).cached).toBe(true);
      // Take the read rule away.
      const file = join(dir, 'payments', 'payments.yaml');
      writeFileSync(file, readFileSync(file, 'utf8').replace('actions: [read]', 'actions: [read-archived]'));
      const outcome = await h.server.reload('test');
      expect(outcome.ok).toBe(true);
      const after = await waitFor('the new revision to reach the client', async () => {
        const r = await c.check(READ_P100);
        return r.revision.policy !== before.revision.policy ? r : undefined;
      });
      expect(after).toMatchObject({ allowed: false, cached: false });
      expect(after.revision.policy).toBe(h.server.decisionPoint.policyRevision);
    } finally {
      c.close();
    }
  });
});
