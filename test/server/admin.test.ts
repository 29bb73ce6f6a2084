/** Admin API over the store, its authorization, and the invalidation stream. */
import { status, type ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectToStruct } from '../../src/server/struct.js';
import { call, callError, metricValue, startHarness, waitFor, type Harness } from './helpers.js';

const TOKEN = 'test-admin-token-0123456789';
const alice = 'spiffe://personnel.acme.test/eid/1001';
const readP100 = { actor: alice, action: 'read', resource: 'uon://payments/payment/p-100' };

interface Event {
  policyRevision: string;
  attributeRevision: number;
  flushAll: boolean;
  entityIds: string[];
  tuples: { object: string; relation: string; subject: string }[];
}

function subscribe(h: Harness): { events: Event[]; stream: ClientReadableStream<Event> } {
  const c = h.client();
  const stream = (c.invalidation as unknown as { Subscribe(req: object): ClientReadableStream<Event> }).Subscribe({});
  const events: Event[] = [];
  stream.on('data', (e: Event) => events.push(e));
  stream.on('error', () => {});
  return { events, stream };
}

describe('Admin API with a bearer token', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ adminToken: TOKEN });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('refuses calls without the token, with a wrong token, and with a malformed header', async () => {
    const none = await callError(call(h.client(), 'admin', 'GetRevisions', {}));
    expect(none.code).toBe(status.UNAUTHENTICATED);
    const wrong = await callError(call(h.client({ token: 'not-the-token-at-all' }), 'admin', 'GetRevisions', {}));
    expect(wrong.code).toBe(status.PERMISSION_DENIED);
    expect(wrong.details).toMatch(/invalid token/);
    const c = h.client();
    const { Metadata } = await import('@grpc/grpc-js');
    const md = new Metadata();
    md.set('authorization', `Token ${TOKEN}`);
    const malformed = await new Promise<{ code: number; details: string }>((resolve) =>
      (c.admin as unknown as { GetRevisions: Function }).GetRevisions({}, md, (err: { code: number; details: string } | null) => resolve(err ?? { code: 0, details: '' })),
    );
    expect(malformed.code).toBe(status.UNAUTHENTICATED);
    expect(malformed.details).toMatch(/must be "Bearer <token>"/);
  });

  it('writes entities and tuples, answers after commit, and decisions see them at once', async () => {
    const admin = h.client({ token: TOKEN });
    const before = await call<{ decision: string }>(admin, 'authorization', 'Authorize', { ...readP100, resource: 'uon://payments/payment/p-new' });
    expect(before.decision).toBe('DECISION_DENY');
    const { events } = subscribe(h);
    await waitFor('first invalidation event', () => events.length >= 1);
    expect(events[0]).toMatchObject({ flushAll: true, policyRevision: h.server.decisionPoint.policyRevision });

    const res = await call<{ attributeRevision: number; applied: number }>(admin, 'admin', 'Write', {
      records: [
        { kind: 'KIND_ENTITY', op: 'OP_PUT', id: 'uon://payments/payment/p-new', attributes: objectToStruct({ customer_region: 'emea', amount: 10 }) },
        { kind: 'KIND_RELATION', op: 'OP_PUT', object: 'team:payments', relation: 'member', subject: 'spiffe://personnel.acme.test/eid/1004' },
      ],
    });
    expect(res.applied).toBe(2);
    expect(res.attributeRevision).toBeGreaterThan(events[0].attributeRevision);
    const after = await call<{ decision: string; attributeRevision: number }>(admin, 'authorization', 'Authorize', { ...readP100, resource: 'uon://payments/payment/p-new' });
    expect(after.decision).toBe('DECISION_ALLOW');
    expect(after.attributeRevision).toBeGreaterThanOrEqual(res.attributeRevision);

    const event = await waitFor('write invalidation', () => events.find((e) => !e.flushAll && e.entityIds.includes('uon://payments/payment/p-new')));
    expect(event.tuples).toContainEqual({ object: 'team:payments', relation: 'member', subject: 'spiffe://personnel.acme.test/eid/1004' });
    expect(event.attributeRevision).toBe(res.attributeRevision);

    const entity = await call<{ found: boolean; attributes: unknown; asObject: unknown[]; asSubject: unknown[] }>(admin, 'admin', 'GetEntity', { id: 'team:payments' });
    expect(entity.asObject).toContainEqual({ object: 'team:payments', relation: 'member', subject: 'spiffe://personnel.acme.test/eid/1004' });
    const payment = await call<{ found: boolean; attributes: { fields: Record<string, { stringValue?: string }> } }>(admin, 'admin', 'GetEntity', { id: 'uon://payments/payment/p-new' });
    expect(payment.found).toBe(true);
    expect(payment.attributes.fields.customer_region.stringValue).toBe('emea');
    const missing = await call<{ found: boolean }>(admin, 'admin', 'GetEntity', { id: 'uon://nothing/here/x' });
    expect(missing.found).toBe(false);

    const del = await call<{ applied: number }>(admin, 'admin', 'Write', { records: [{ kind: 'KIND_ENTITY', op: 'OP_DELETE', id: 'uon://payments/payment/p-new' }] });
    expect(del.applied).toBe(1);
    const gone = await call<{ decision: string }>(admin, 'authorization', 'Authorize', { ...readP100, resource: 'uon://payments/payment/p-new' });
    expect(gone.decision).toBe('DECISION_DENY');
    expect(await metricValue(h.http, 'charter_invalidation_subscribers')).toBe(1);
  });

  it('explains a decision rule by rule, for admins only', async () => {
    const admin = h.client({ token: TOKEN });
    const res = await call<{ response: { decision: string; policyIds: string[] }; trace: { ruleId: string; effect: string; outcome: string; detail: string }[] }>(admin, 'admin', 'Explain', {
      request: { ...readP100, context: objectToStruct({ country: 'FR' }) },
    });
    expect(res.response.decision).toBe('DECISION_DENY');
    const applied = res.trace.filter((t) => t.outcome === 'applied');
    expect(applied.length).toBeGreaterThan(0);
    expect(applied.every((t) => t.effect === 'deny')).toBe(true);
    expect(res.response.policyIds).toEqual(applied.map((t) => t.ruleId));
    const denied = await callError(call(h.client(), 'admin', 'Explain', { request: readP100 }));
    expect(denied.code).toBe(status.UNAUTHENTICATED);
    const invalid = await callError(call(admin, 'admin', 'Explain', { request: { ...readP100, actor: '' } }));
    expect(invalid.code).toBe(status.INVALID_ARGUMENT);
    expect(invalid.details).toBe('request.actor is required');
  });

  it('rejects a malformed record with its index and applies nothing', async () => {
    const admin = h.client({ token: TOKEN });
    const rev = await call<{ attributeRevision: number }>(admin, 'admin', 'GetRevisions', {});
    const err = await callError(
      call(admin, 'admin', 'Write', {
        records: [
          { kind: 'KIND_ENTITY', op: 'OP_PUT', id: 'uon://x/y/ok', attributes: objectToStruct({ a: 1 }) },
          { kind: 'KIND_RELATION', op: 'OP_PUT', object: 'team:x', relation: '', subject: 'y' },
        ],
      }),
    );
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe('records[1].relation is required');
    const after = await call<{ attributeRevision: number; policyRevision: string }>(admin, 'admin', 'GetRevisions', {});
    expect(after.attributeRevision).toBe(rev.attributeRevision);
    expect(after.policyRevision).toBe(h.server.decisionPoint.policyRevision);
  });
});

describe('Admin API defaults', () => {
  it('is disabled unless configured, and says how to enable it', async () => {
    const h = await startHarness();
    try {
      const err = await callError(call(h.client(), 'admin', 'Write', { records: [] }));
      expect(err.code).toBe(status.PERMISSION_DENIED);
      expect(err.details).toMatch(/Admin API is disabled/);
    } finally {
      await h.close();
    }
  });

  it('is open to anyone with --admin-insecure-loopback on a loopback host', async () => {
    const h = await startHarness({ adminInsecureLoopback: true });
    try {
      const res = await call<{ policyRevision: string }>(h.client(), 'admin', 'GetRevisions', {});
      expect(res.policyRevision).toBe(h.server.decisionPoint.policyRevision);
    } finally {
      await h.close();
    }
  });

  it('refuses --admin-insecure-loopback on a non-loopback host', async () => {
    await expect(startHarness({ adminInsecureLoopback: true, host: '0.0.0.0' })).rejects.toThrow(/only allowed when the server listens on loopback/);
  });
});
