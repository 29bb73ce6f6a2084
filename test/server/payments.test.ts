/** The payments scenario end to end: real gRPC on loopback, real store, the bundled policies. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectToStruct } from '../../src/server/struct.js';
import { awayFromHourBoundary, call, expectedNow, paymentsCases, startHarness, type Harness, type PaymentsCase } from './helpers.js';

interface Response {
  decision: string;
  policyIds: string[];
  reason: string;
  policyRevision: string;
  attributeRevision: number;
  cacheTtlMs: number;
  dependsOnTime: boolean;
  entityIds: string[];
  dependsOnRelations: boolean;
}

function toMessage(c: PaymentsCase) {
  const r = c.request;
  return {
    actor: r.actor,
    action: r.action,
    resource: r.resource,
    context: r.context ? objectToStruct(r.context) : null,
    resourceAttributes: r.resource_attributes ? objectToStruct(r.resource_attributes) : null,
    actorClaims: r.actor_claims ? objectToStruct(r.actor_claims) : null,
  };
}

const cases = paymentsCases().filter((c) => expectedNow(c) !== undefined);

describe('payments scenario over gRPC', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    await awayFromHourBoundary();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('covers every case without a fixed clock, and the live ones', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(cases.some((c) => c.live)).toBe(true);
  });

  it.each(cases.map((c) => [c.name, c] as const))('Authorize: %s', async (_name, c) => {
    const res = await call<Response>(h.client(), 'authorization', 'Authorize', toMessage(c));
    expect(res.decision, `${c.name}: ${res.reason}`).toBe(`DECISION_${expectedNow(c)}`);
    expect(res.policyRevision).toBe(h.server.decisionPoint.policyRevision);
    expect(res.attributeRevision).toBeGreaterThan(0);
    if (res.decision === 'DECISION_ALLOW') expect(res.policyIds.length).toBeGreaterThan(0);
    expect(res.reason.length).toBeGreaterThan(0);
    if (c.live) expect(res.dependsOnTime).toBe(true);
  });

  it('BatchAuthorize answers every case in request order, the same as Authorize', async () => {
    const res = await call<{ responses: Response[] }>(h.client(), 'authorization', 'BatchAuthorize', { requests: cases.map(toMessage) });
    expect(res.responses.map((r) => r.decision)).toEqual(cases.map((c) => `DECISION_${expectedNow(c)}`));
  });

  it('reports relation and entity dependencies a client cache can key on', async () => {
    const topic = cases.find((c) => c.request.action === 'publish' && c.expected === 'ALLOW')!;
    const res = await call<Response>(h.client(), 'authorization', 'Authorize', toMessage(topic));
    expect(res.dependsOnRelations).toBe(true);
    const read = cases.find((c) => c.request.action === 'read' && c.request.resource.endsWith('p-100') && c.expected === 'ALLOW')!;
    const res2 = await call<Response>(h.client(), 'authorization', 'Authorize', toMessage(read));
    expect(res2.entityIds).toEqual(expect.arrayContaining([read.request.actor, read.request.resource]));
  });

  it('logs each decision with request id, rule ids and revisions', async () => {
    const c = cases[0];
    const client = h.client();
    const { Metadata } = await import('@grpc/grpc-js');
    const md = new Metadata();
    md.set('x-request-id', 'payments-log-1');
    await new Promise((resolve, reject) =>
      (client.authorization as unknown as { Authorize: Function }).Authorize(toMessage(c), md, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))),
    );
    // The decision log writes in batches, within 20 ms.
    await expect.poll(() => h.decisions.some((d) => d.requestId === 'payments-log-1'), { timeout: 5_000 }).toBe(true);
    const entry = h.decisions.find((d) => d.requestId === 'payments-log-1');
    expect(entry).toMatchObject({ actor: c.request.actor, action: c.request.action, resource: c.request.resource, decision: c.expected, policyRevision: h.server.decisionPoint.policyRevision });
    expect(typeof entry?.latencyMs).toBe('number');
    expect(Array.isArray(entry?.policyIds)).toBe(true);
  });
});
