/**
 * Security claims of docs/security.md that no other suite checks over the wire:
 * - secrets never reach the logs: the Admin token (right or wrong), a caller's authorization
 *   metadata, and the values of redacted context keys;
 * - the caller cannot set the clock: a `time` key in the context does not replace env.time;
 * - a caller cannot make itself the peer or an admin through request data.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, unaryCall } from '../../src/server/grpc-client.js';
import { objectToStruct } from '../../src/server/struct.js';
import { startHarness, tempDir, type Harness } from '../server/helpers.js';
import { ALICE, P100, removeDir } from './helpers.js';

const TOKEN = 'tok-3f9a1c77e2b84d0f-admin-secret';
const WRONG_TOKEN = 'tok-0000aaaabbbbcccc-wrong-secret';
const CALLER_BEARER = 'caller-bearer-5ac1d2e3f4';
const SECRET_IP = '198.51.100.77';

const CLOCK_POLICY = `apiVersion: charter.dev/v1
rules:
  - id: only-before-2000
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["uon://clock/doc/*"]
    # Sensitive to an override: a caller string or number here would compare below "2000".
    condition: string(env.time) < "2000"
  - id: only-for-the-peer
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["uon://peer/doc/*"]
    condition: has(env.peer_spiffe_id) && env.peer_spiffe_id == "spiffe://prod.acme.test/workload/gateway"
`;

let h: Harness;
let policies: string;

beforeAll(async () => {
  policies = tempDir('security-policies');
  mkdirSync(join(policies, 'clock'));
  writeFileSync(join(policies, 'clock', 'clock.yaml'), CLOCK_POLICY);
  h = await startHarness({ policiesDir: policies, adminToken: TOKEN, redactContextKeys: ['ip'] });
});

afterAll(async () => {
  await h?.close();
  removeDir(policies);
});

async function decisionOf(request: Record<string, unknown>, metadata = new Metadata()): Promise<string> {
  const c = h.client();
  return (await unaryCall<{ decision: string }>(c.authorization, 'Authorize', request, metadata, 5_000)).decision;
}

describe('security claims over the wire', () => {
  it('a time key in the context does not set the clock (env.time is the server clock)', async () => {
    for (const time of ['1999-01-01T00:00:00Z', 0, '0']) {
      const d = await decisionOf({ actor: ALICE, action: 'read', resource: 'uon://clock/doc/1', context: objectToStruct({ time }) });
      expect(d, `context.time = ${JSON.stringify(time)}`).toBe('DECISION_DENY');
    }
  });

  it('a peer_spiffe_id in the context or actor claims does not make the caller the peer (no mTLS here)', async () => {
    const gateway = 'spiffe://prod.acme.test/workload/gateway';
    expect(await decisionOf({ actor: ALICE, action: 'read', resource: 'uon://peer/doc/1', context: objectToStruct({ peer_spiffe_id: gateway }) })).toBe('DECISION_DENY');
    expect(await decisionOf({ actor: gateway, action: 'read', resource: 'uon://peer/doc/1', actorClaims: objectToStruct({ peer_spiffe_id: gateway }) })).toBe('DECISION_DENY');
  });

  it('the Admin token, a caller bearer token and redacted context values never appear in any log line', async () => {
    const md = new Metadata();
    md.set('authorization', `Bearer ${CALLER_BEARER}`);
    md.set('x-request-id', 'sec-1');
    await decisionOf({ actor: ALICE, action: 'read', resource: P100, context: objectToStruct({ ip: SECRET_IP, country: 'GB' }) }, md);
    // Admin calls: with the right token, the wrong one, and a malformed header.
    const right = connect({ target: h.target, token: TOKEN });
    const wrong = connect({ target: h.target, token: WRONG_TOKEN });
    try {
      const w = await unaryCall<{ applied: number }>(right.admin, 'Write', { records: [{ kind: 'KIND_ENTITY', op: 'OP_PUT', id: 'spiffe://sec.test/e/1', attributes: objectToStruct({ password: 'hunter2-not-logged' }) }] }, right.metadata(), 5_000);
      expect(w.applied).toBe(1);
      const refused = await unaryCall(wrong.admin, 'Write', { records: [] }, wrong.metadata(), 5_000).catch((e: ServiceError) => e);
      expect((refused as ServiceError).code).toBe(status.PERMISSION_DENIED);
      const bad = new Metadata();
      bad.set('authorization', `Token ${WRONG_TOKEN}`);
      const malformed = await unaryCall(wrong.admin, 'GetRevisions', {}, bad, 5_000).catch((e: ServiceError) => e);
      expect([status.UNAUTHENTICATED, status.PERMISSION_DENIED]).toContain((malformed as ServiceError).code);
      expect((malformed as ServiceError).details ?? '').not.toContain(WRONG_TOKEN);
    } finally {
      right.close();
      wrong.close();
    }
    // The decision log writes in batches (within 20 ms).
    await expect.poll(() => h.decisions.some((d) => d.requestId === 'sec-1'), { timeout: 5_000 }).toBe(true);
    const entry = h.decisions.find((d) => d.requestId === 'sec-1');
    expect(entry, 'the decision was logged').toBeDefined();
    expect((entry!.context as Record<string, unknown>).ip).toBe('[REDACTED]');
    expect((entry!.context as Record<string, unknown>).country).toBe('GB');
    const everything = JSON.stringify([h.logs, h.decisions]);
    expect(h.logs.some((l) => l.msg === 'admin write committed')).toBe(true);
    for (const secret of [TOKEN, WRONG_TOKEN, CALLER_BEARER, SECRET_IP, 'hunter2-not-logged']) expect(everything, secret).not.toContain(secret);
  });
});
