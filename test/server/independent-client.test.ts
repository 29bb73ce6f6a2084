/**
 * Every payments case through a client that shares nothing with the server: protobufjs compiles
 * the .proto files, node:http2 speaks gRPC (see raw-grpc.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awayFromHourBoundary, expectedNow, paymentsCases, startHarness, type Harness } from './helpers.js';
import { RawGrpcClient, loadContract, rawStruct } from './raw-grpc.js';

describe('an independent client compiled from the proto', () => {
  let h: Harness;
  let client: RawGrpcClient;
  beforeAll(async () => {
    h = await startHarness();
    client = new RawGrpcClient(await loadContract(), h.target);
    await awayFromHourBoundary();
  });
  afterAll(async () => {
    client?.close();
    await h?.close();
  });

  const cases = paymentsCases().filter((c) => expectedNow(c) !== undefined);

  it('gets the right answer for every payments case', async () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    const wrong: string[] = [];
    for (const c of cases) {
      const r = c.request;
      const request: Record<string, unknown> = { actor: r.actor, action: r.action, resource: r.resource };
      if (r.context) request.context = rawStruct(r.context);
      if (r.resource_attributes) request.resource_attributes = rawStruct(r.resource_attributes);
      if (r.actor_claims) request.actor_claims = rawStruct(r.actor_claims);
      const res = await client.unary('charter.v1.Authorization', 'Authorize', request);
      expect(res.status, res.message).toBe(0);
      const body = res.body!;
      if (body.decision !== `DECISION_${expectedNow(c)}`) wrong.push(`${c.name}: got ${String(body.decision)} (${String(body.reason)})`);
      expect(typeof body.policy_revision).toBe('string');
      expect((body.policy_revision as string).length).toBeGreaterThan(0);
    }
    expect(wrong).toEqual([]);
  });

  it('sees INVALID_ARGUMENT with a message for an empty actor', async () => {
    const res = await client.unary('charter.v1.Authorization', 'Authorize', { actor: '', action: 'read', resource: 'uon://payments/payment/p-100' });
    expect(res.status).toBe(3);
    expect(res.message).toMatch(/actor is required/);
  });
});
