/**
 * The client suites run against a real Charter server (test/server's harness: real gRPC on
 * loopback, the bundled policies, the payments data) and count calls with its own metrics.
 */
import { objectToStruct } from '../../src/server/struct.js';
import { call, metricValue, startHarness, type Harness } from '../server/helpers.js';

export { startHarness, waitFor, type Harness } from '../server/helpers.js';

export const ALICE = 'spiffe://personnel.acme.test/eid/1001';
export const BOB = 'spiffe://personnel.acme.test/eid/1002';
export const P100 = 'uon://payments/payment/p-100';
export const P200 = 'uon://payments/payment/p-200';
export const TOPIC = 'uon://kafka/topic/payments.settled';

export const ALICE_ATTRIBUTES = { name: 'Alice', employee_id: '1001', region: 'emea', country: 'GB', timezone: 'Europe/London', groups: ['payment-support'] };

/** Authorize (or BatchAuthorize) calls the server has answered, from its /metrics. */
export function serverCalls(h: Harness, rpc: 'Authorize' | 'BatchAuthorize' = 'Authorize'): Promise<number> {
  return metricValue(h.http, 'charter_decision_duration_seconds_count', `rpc="${rpc}"`);
}

/** An acknowledged Admin write of one entity's attributes. */
export async function writeEntity(h: Harness, id: string, attributes: Record<string, unknown>): Promise<number> {
  const res = await call<{ attributeRevision: number }>(h.client(), 'admin', 'Write', {
    records: [{ kind: 'KIND_ENTITY', op: 'OP_PUT', id, attributes: objectToStruct(attributes) }],
  });
  return res.attributeRevision;
}

export async function writeTuple(h: Harness, op: 'OP_PUT' | 'OP_DELETE', object: string, relation: string, subject: string): Promise<void> {
  await call(h.client(), 'admin', 'Write', { records: [{ kind: 'KIND_RELATION', op, object, relation, subject }] });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function startServer(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  return startHarness({ adminInsecureLoopback: true, ...options });
}
