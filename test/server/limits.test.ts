/** Input limits and deadlines at the gRPC edge. */
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, callError, metricValue, startHarness, type Harness } from './helpers.js';
import { RawGrpcClient, loadContract } from './raw-grpc.js';

const ok = { actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100' };

describe('input limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    ['empty actor', { ...ok, actor: '' }, /actor is required/],
    ['empty action', { ...ok, action: '' }, /action is required/],
    ['empty resource', { ...ok, resource: '' }, /resource is required/],
    ['actor over 1024 bytes', { ...ok, actor: `spiffe://a.test/${'x'.repeat(1100)}` }, /actor is longer than 1024 bytes/],
    ['multi-byte resource over 1024 bytes', { ...ok, resource: `uon://s/t/${'é'.repeat(600)}` }, /resource is longer than 1024 bytes/],
    ['control character', { ...ok, action: 'read\n' }, /action contains a control character/],
    ['padded action', { ...ok, action: ' read' }, /leading or trailing spaces/],
    ['malformed SPIFFE ID', { ...ok, actor: 'spiffe://Bad Domain/x' }, /not a valid SPIFFE ID/],
    ['SPIFFE ID with empty segment', { ...ok, actor: 'spiffe://a.test//x' }, /empty path segment/],
    ['malformed UON', { ...ok, resource: 'uon:///payment/p-1' }, /not a valid UON/],
  ])('%s → INVALID_ARGUMENT', async (_name, request, message) => {
    const err = await callError(call(h.client(), 'authorization', 'Authorize', request));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  it('accepts a field of exactly 1024 bytes', async () => {
    const resource = `uon://s/t/${'x'.repeat(1024 - 'uon://s/t/'.length)}`;
    const res = await call<{ decision: string }>(h.client(), 'authorization', 'Authorize', { ...ok, resource });
    expect(res.decision).toBe('DECISION_DENY');
  });

  it('names the bad request inside a batch', async () => {
    const err = await callError(call(h.client(), 'authorization', 'BatchAuthorize', { requests: [ok, ok, { ...ok, resource: '' }] }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe('requests[2].resource is required');
  });

  it('accepts a batch of 1000 and refuses 1001', async () => {
    const thousand = await call<{ responses: unknown[] }>(h.client(), 'authorization', 'BatchAuthorize', { requests: Array(1000).fill(ok) }, 20_000);
    expect(thousand.responses).toHaveLength(1000);
    const err = await callError(call(h.client(), 'authorization', 'BatchAuthorize', { requests: Array(1001).fill(ok) }, 20_000));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/1001 requests; at most 1000/);
  });

  it('answers an empty batch with no responses', async () => {
    const res = await call<{ responses: unknown[] }>(h.client(), 'authorization', 'BatchAuthorize', { requests: [] });
    expect(res.responses).toEqual([]);
  });

  it('refuses a message over 1 MiB', async () => {
    const big = { ...ok, context: { fields: { blob: { stringValue: 'x'.repeat(1024 * 1024 + 10) } } } };
    const err = await callError(call(h.client(), 'authorization', 'Authorize', big));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it('counts refused requests in the metrics', async () => {
    expect(await metricValue(h.http, 'charter_rejected_requests_total', 'reason="invalid_argument"')).toBeGreaterThanOrEqual(10);
  });
});

describe('admission control', () => {
  it('sheds calls beyond --max-in-flight with RESOURCE_EXHAUSTED and keeps health answering', async () => {
    const h = await startHarness({ maxInFlight: 1, adminToken: 'admission-test-token-0123' });
    try {
      const admin = h.client({ token: 'admission-test-token-0123' });
      // Admin.Write is asynchronous (it awaits the store), so a burst of them overlaps.
      const records = Array.from({ length: 2000 }, (_, i) => ({ kind: 'KIND_RELATION', op: 'OP_PUT', object: `team:t${i}`, relation: 'member', subject: 'spiffe://a.test/x' }));
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => call(admin, 'admin', 'Write', { records }, 20_000)));
      const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as { code: number; details: string });
      expect(outcomes.some((o) => o.status === 'fulfilled')).toBe(true);
      expect(refused.length).toBeGreaterThan(0);
      for (const e of refused) {
        expect(e.code).toBe(status.RESOURCE_EXHAUSTED);
        expect(e.details).toMatch(/server overloaded/);
      }
      expect(await metricValue(h.http, 'charter_rejected_requests_total', 'reason="overloaded"')).toBe(refused.length);
      const after = await call<{ decision: string }>(h.client(), 'authorization', 'Authorize', ok);
      expect(after.decision).toBe('DECISION_ALLOW');
    } finally {
      await h.close();
    }
  });
});

describe('deadlines', () => {
  let h: Harness;
  let raw: RawGrpcClient;
  beforeAll(async () => {
    h = await startHarness();
    raw = new RawGrpcClient(await loadContract(), h.target);
  });
  afterAll(async () => {
    raw?.close();
    await h?.close();
  });

  it('answers DEADLINE_EXCEEDED without deciding when the deadline has passed on arrival', async () => {
    const before = (await metricValue(h.http, 'charter_decisions_total', 'effect="ALLOW",transport="grpc"')) + (await metricValue(h.http, 'charter_decisions_total', 'effect="DENY",transport="grpc"'));
    // grpc-timeout of 1 ns: expired by the time the handler runs (grpc-js clients never send
    // an expired deadline, so this speaks HTTP/2 directly).
    const res = await raw.unary('charter.v1.Authorization', 'Authorize', ok, { 'grpc-timeout': '1n' });
    expect(res.status).toBe(status.DEADLINE_EXCEEDED);
    const batch = await raw.unary('charter.v1.Authorization', 'BatchAuthorize', { requests: [ok, ok] }, { 'grpc-timeout': '1n' });
    expect(batch.status).toBe(status.DEADLINE_EXCEEDED);
    const after = (await metricValue(h.http, 'charter_decisions_total', 'effect="ALLOW",transport="grpc"')) + (await metricValue(h.http, 'charter_decisions_total', 'effect="DENY",transport="grpc"'));
    expect(after).toBe(before);
    expect(await metricValue(h.http, 'charter_rejected_requests_total', 'reason="deadline_exceeded"')).toBeGreaterThanOrEqual(1);
  });

  it('decides normally within a generous deadline', async () => {
    const res = await raw.unary('charter.v1.Authorization', 'Authorize', ok, { 'grpc-timeout': '5S' });
    expect(res.status).toBe(0);
    expect(res.body?.decision).toBe('DECISION_ALLOW');
  });
});
