import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DecisionLog, DecisionPoint, InvalidationHub, PolicyReloader, REDACTED, loadInitialPolicies, type ChangeFeed, type InvalidationEvent } from '../../src/pdp/index.js';
import type { PolicySet } from '../../src/policy/index.js';
import { AttributeStore, importNdjson } from '../../src/store/index.js';

const POLICIES = new URL('../../policies/payments/', import.meta.url).pathname;
const silent = pino({ level: 'silent' });

const stores: { store: AttributeStore; dir: string }[] = [];
/** A real LMDB store in a temp dir with the payments data. */
async function paymentsStore(): Promise<AttributeStore> {
  const dir = mkdtempSync(join(tmpdir(), 'charter-pdp-'));
  const store = AttributeStore.open(dir);
  await importNdjson(store, [join(POLICIES, 'data.ndjson')]);
  stores.push({ store, dir });
  return store;
}
afterAll(async () => {
  for (const { store, dir } of stores.splice(0)) {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

let set: PolicySet;
beforeAll(async () => {
  set = (await loadInitialPolicies(POLICIES)).set;
});

describe('DecisionPoint', () => {
  it('decides with store attributes and reports the attribute revision it read at', async () => {
    const store = await paymentsStore();
    const pdp = new DecisionPoint({ store, policies: set });
    const d = pdp.decide({ actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100' });
    expect(d.effect).toBe('ALLOW');
    expect(d.attributeRevision).toBe(store.revision());
    expect(d.attributeRevision).toBeGreaterThan(0);
    expect(d.policyRevision).toBe(set.revision);
    expect(d.policyIds).toEqual(['payments/payment-read']);
    expect(d.entityIds).toEqual(expect.arrayContaining(['spiffe://personnel.acme.test/eid/1001', 'uon://payments/payment/p-100']));
  });

  it('uses the server clock and relations through nested teams', async () => {
    const store = await paymentsStore();
    const pdp = new DecisionPoint({ store, policies: set, clock: () => new Date('2026-11-25T10:30:00Z') });
    const refund = pdp.decide({ actor: 'spiffe://personnel.acme.test/eid/1001', action: 'refund', resource: 'uon://payments/payment/p-100', context: { ip: '10.2.3.4' } });
    expect(refund.effect).toBe('ALLOW');
    expect(refund.dependsOnTime).toBe(true);
    const publish = pdp.decide({ actor: 'spiffe://personnel.acme.test/eid/1007', action: 'publish', resource: 'uon://kafka/topic/payments.settled' });
    expect(publish.effect).toBe('ALLOW');
    expect(publish.dependsOnRelations).toBe(true);
  });

  it('reads the clock once for a decision that looks at the time, and not at all otherwise', async () => {
    const store = await paymentsStore();
    let reads = 0;
    const pdp = new DecisionPoint({ store, policies: set, clock: () => (reads++, new Date('2026-11-25T10:30:00Z')) });
    const read = pdp.decide({ actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100', context: { ip: '10.2.3.4', country: 'GB' } });
    expect(read.effect).toBe('ALLOW');
    expect(read.dependsOnTime).toBe(false);
    expect(reads).toBe(0);
    const refund = pdp.decide({ actor: 'spiffe://personnel.acme.test/eid/1001', action: 'refund', resource: 'uon://payments/payment/p-100', context: { ip: '10.2.3.4' } });
    expect(refund.dependsOnTime).toBe(true);
    expect(refund.cacheTtlMs).toBeLessThanOrEqual(15 * 60_000);
    expect(reads).toBe(1);
  });

  it('fails closed: an exception in the store is a DENY with the reason', () => {
    const store = {
      revision: () => 1,
      getAttributes: () => {
        throw new Error('disk on fire');
      },
      related: () => false,
      hasTuple: () => false,
      subjectsOf: () => [],
    };
    const pdp = new DecisionPoint({ store, policies: set });
    const d = pdp.decide({ actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100' });
    expect(d.effect).toBe('DENY');
    expect(d.reason).toContain('disk on fire');
    expect(d.cacheTtlMs).toBe(0);
  });

  it('swaps policy sets atomically', async () => {
    const pdp = new DecisionPoint({ store: await paymentsStore(), policies: set });
    const other = (await loadInitialPolicies(POLICIES, { defaultCacheTtlMs: 1234 })).set;
    const previous = pdp.replacePolicies(other);
    expect(previous).toBe(set);
    expect(pdp.policies).toBe(other);
  });
});

describe('DecisionLog', () => {
  function capture(): { logger: Logger; lines: Record<string, unknown>[] } {
    const lines: Record<string, unknown>[] = [];
    // The log writes batches of whole lines.
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(...s.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)) });
    return { logger, lines };
  }
  const decision = { effect: 'DENY' as const, policyIds: ['p/x'], reason: 'r', policyRevision: 'rev', cacheTtlMs: 0, dependsOnTime: false, entityIds: [], dependsOnRelations: false, errors: [], attributeRevision: 3 };
  const request = { actor: 'spiffe://a/b', action: 'read', resource: 'uon://s/t/1', context: { ip: '10.0.0.1', token: 'secret', country: 'GB' } };

  it('redacts configured context keys and keeps the rest', () => {
    const { logger, lines } = capture();
    const log = new DecisionLog({ logger, redactContextKeys: ['ip', 'token'] });
    log.record({ request, decision, latencyMs: 0.1234, transport: 'grpc', requestId: 'req-1' });
    log.flush();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ requestId: 'req-1', actor: 'spiffe://a/b', decision: 'DENY', policyIds: ['p/x'], policyRevision: 'rev', attributeRevision: 3 });
    expect(lines[0].context).toEqual({ ip: REDACTED, token: REDACTED, country: 'GB' });
    expect(request.context.ip).toBe('10.0.0.1'); // the request itself is untouched
  });

  it('samples, but always logs decisions with condition errors', () => {
    const { logger, lines } = capture();
    let r = 0;
    const values = [0.05, 0.5, 0.9, 0.2];
    const log = new DecisionLog({ logger, sampleRate: 0.25, random: () => values[r++ % values.length] });
    for (let i = 0; i < 4; i++) log.record({ request, decision, latencyMs: 1, transport: 'grpc' });
    log.flush();
    expect(lines).toHaveLength(2);
    log.record({ request, decision: { ...decision, errors: ['p/x: no such key'] }, latencyMs: 1, transport: 'grpc' });
    log.flush();
    expect(lines).toHaveLength(3);
    expect(lines[2].errors).toEqual(['p/x: no such key']);
  });

  it('writes the lines of one turn to a pino destination together, each a whole JSON line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'charter-dlog-'));
    try {
      const file = join(dir, 'decisions.log');
      const dest = pino.destination({ dest: file, sync: false, mkdir: true });
      await new Promise((r) => dest.once('ready', r));
      const log = new DecisionLog({ logger: pino({ base: { pid: 7 } }, dest) });
      for (let i = 0; i < 3; i++) log.record({ request, decision, latencyMs: 1, transport: 'grpc', requestId: `r${i}` });
      log.flush();
      // The destination writes asynchronously: wait until the three lines are in the file.
      const read = () => readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
      await expect.poll(() => read().length, { timeout: 5_000 }).toBe(3);
      const lines = read().map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.requestId)).toEqual(['r0', 'r1', 'r2']);
      expect(lines[0]).toMatchObject({ level: 30, pid: 7, msg: 'decision', decision: 'DENY' });
      expect(typeof lines[0].time).toBe('number');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes queued entries within its flush interval, stamped with the time they were made', async () => {
    const { logger, lines } = capture();
    const log = new DecisionLog({ logger });
    const before = Date.now();
    log.record({ request, decision, latencyMs: 1, transport: 'grpc', requestId: 'a' });
    log.record({ request, decision, latencyMs: 1, transport: 'grpc', requestId: 'b' });
    expect(lines).toHaveLength(0); // nothing serialized on the decision's path
    await new Promise((r) => setTimeout(r, 25));
    await expect.poll(() => lines.length).toBe(2);
    expect(lines.map((l) => l.requestId)).toEqual(['a', 'b']);
    expect(lines[0].time as number).toBeGreaterThanOrEqual(before);
    expect(lines[0].time as number).toBeLessThanOrEqual(lines[1].time as number);
  });

  it('writes a full queue at once', () => {
    const { logger, lines } = capture();
    const log = new DecisionLog({ logger });
    for (let i = 0; i < 512; i++) log.record({ request, decision, latencyMs: 1, transport: 'grpc', requestId: `r${i}` });
    expect(lines).toHaveLength(512);
    expect(lines[511].requestId).toBe('r511');
  });

  it('never fails the decision that fills the queue when the destination throws', () => {
    const logger = pino({ level: 'info' }, { write: () => { throw new Error('disk on fire'); } });
    const log = new DecisionLog({ logger });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expect(() => {
        for (let i = 0; i < 1024; i++) log.record({ request, decision, latencyMs: 1, transport: 'grpc' });
      }).not.toThrow();
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('logs nothing at rate 0 and when disabled', () => {
    const { logger, lines } = capture();
    const zero = new DecisionLog({ logger, sampleRate: 0 });
    zero.record({ request, decision, latencyMs: 1, transport: 'grpc' });
    zero.flush();
    new DecisionLog({ logger: undefined }).record({ request, decision, latencyMs: 1, transport: 'grpc' });
    expect(lines).toHaveLength(0);
  });
});

describe('InvalidationHub', () => {
  class Feed implements ChangeFeed {
    rev = 0;
    log: { rev: number; entityIds: string[]; tuples: { object: string; relation: string; subject: string }[] }[] = [];
    forgetBefore = 0;
    revision() {
      return this.rev;
    }
    commit(entityIds: string[], tuples: { object: string; relation: string; subject: string }[] = []) {
      this.rev++;
      this.log.push({ rev: this.rev, entityIds, tuples });
    }
    changesSince(from: number) {
      if (from < this.forgetBefore) return undefined;
      const after = this.log.filter((c) => c.rev > from);
      return { fromRevision: from, toRevision: this.rev, entityIds: after.flatMap((c) => c.entityIds), tuples: after.flatMap((c) => c.tuples) };
    }
  }

  it('publishes the entities and tuples of each commit, then flushes when changes cannot be listed', () => {
    const feed = new Feed();
    let policy = 'p1';
    const hub = new InvalidationHub({ store: feed, policyRevision: () => policy, logger: silent, pollIntervalMs: 0 });
    const events: InvalidationEvent[] = [];
    const off = hub.subscribe((e) => events.push(e));
    expect(hub.snapshot()).toEqual({ policyRevision: 'p1', attributeRevision: 0, flushAll: true, entityIds: [], tuples: [] });
    hub.checkStore();
    expect(events).toHaveLength(0);
    feed.commit(['a', 'b'], [{ object: 'o', relation: 'r', subject: 's' }]);
    feed.commit(['c']);
    hub.checkStore();
    expect(events).toEqual([{ policyRevision: 'p1', attributeRevision: 2, flushAll: false, entityIds: ['a', 'b', 'c'], tuples: [{ object: 'o', relation: 'r', subject: 's' }] }]);
    feed.commit(['d']);
    feed.forgetBefore = 3;
    hub.checkStore();
    expect(events[1]).toMatchObject({ attributeRevision: 3, flushAll: true });
    policy = 'p2';
    hub.publishPolicyRevision();
    expect(events[2]).toMatchObject({ policyRevision: 'p2', flushAll: true });
    off();
    feed.commit(['e']);
    hub.checkStore();
    expect(events).toHaveLength(3);
    hub.close();
  });
});

describe('PolicyReloader', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('swaps in a good set, rejects a broken one and keeps serving the last good set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'charter-reload-'));
    dirs.push(dir);
    cpSync(POLICIES, join(dir, 'payments'), { recursive: true });
    const initial = (await loadInitialPolicies(dir)).set;
    const pdp = new DecisionPoint({ store: await paymentsStore(), policies: initial });
    const outcomes: boolean[] = [];
    const reloader = new PolicyReloader({ dir, decisionPoint: pdp, logger: silent, onOutcome: (o) => outcomes.push(o.ok) });

    const unchanged = await reloader.reload('test');
    expect(unchanged).toMatchObject({ ok: true, changed: false });

    const file = join(dir, 'payments', 'payments.yaml');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, good.replace('description: Payment support (rules 1 and 2).', 'description: Payment support, edited.'));
    const edited = await reloader.reload('edit');
    expect(edited.ok).toBe(true);
    // A comment-level edit may or may not change the content hash; a rule change must.
    writeFileSync(file, `${good}\n  - id: extra-rule\n    effect: allow\n    actors: { ids: ["spiffe://x.test/y"] }\n    actions: [noop]\n    resources: ["uon://x/y/*"]\n`);
    const changed = await reloader.reload('rule added');
    expect(changed.ok, JSON.stringify(changed.diagnostics)).toBe(true);
    expect(changed.changed).toBe(true);
    expect(pdp.policyRevision).toBe(changed.revision);
    expect(pdp.policyRevision).not.toBe(initial.revision);

    writeFileSync(file, 'rules: [ this is : not yaml');
    const broken = await reloader.reload('broken');
    expect(broken.ok).toBe(false);
    expect(broken.diagnostics.length).toBeGreaterThan(0);
    expect(pdp.policyRevision).toBe(changed.revision);
    expect(outcomes).toEqual([true, true, true, false]);
    reloader.close();
  });
});
