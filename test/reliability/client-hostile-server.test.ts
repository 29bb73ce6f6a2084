/**
 * The client SDK against a server that answers wrongly (a buggy, outdated or hostile PDP, played
 * here by a real grpc-js server on the Charter proto): anything but an explicit ALLOW is a DENY,
 * a batch answered with the wrong number of responses denies every check, an answer that does
 * not decode denies, and a server that never answers is cut by the deadline. Never an ALLOW,
 * never a throw.
 */
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { CharterClient } from '../../src/client/index.js';
import { serviceDefinition } from '../../src/server/proto.js';
import { ALICE, P100 } from './helpers.js';

type Callback = (err: { code: number; details: string } | null, res?: unknown) => void;

async function serve(authorize: (cb: Callback) => void, batch: (cb: Callback) => void, rawResponses = false): Promise<{ server: Server; target: string }> {
  const server = new Server();
  const definition = serviceDefinition('Authorization');
  const service = rawResponses
    ? Object.fromEntries(Object.entries(definition).map(([k, v]) => [k, { ...v, responseSerialize: (b: Buffer) => b }]))
    : definition;
  server.addService(service as typeof definition, {
    Authorize: (_call: unknown, cb: Callback) => authorize(cb),
    BatchAuthorize: (_call: unknown, cb: Callback) => batch(cb),
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return { server, target: `127.0.0.1:${port}` };
}

const REQ = { actor: ALICE, action: 'read', resource: P100 };
const answer = (decision: unknown) => ({ decision, policyIds: ['x/y'], reason: 'hostile', policyRevision: 'r', attributeRevision: 1, cacheTtlMs: 60_000 });

describe('CharterClient against a server that answers wrongly', () => {
  let running: { server: Server; target: string } | undefined;
  let client: CharterClient | undefined;
  afterEach(async () => {
    client?.close();
    await new Promise<void>((r) => (running ? running.server.tryShutdown(() => r()) : r()));
    running = undefined;
    client = undefined;
  });

  it('DECISION_UNSPECIFIED and unknown enum values are DENY', async () => {
    for (const decision of ['DECISION_UNSPECIFIED', 0, 7, 'DECISION_DENY']) {
      running = await serve((cb) => cb(null, answer(decision)), (cb) => cb(null, { responses: [] }));
      client = new CharterClient({ target: running.target, invalidations: false, deadlineMs: 2_000 });
      const r = await client.check(REQ);
      expect(r.allowed, String(decision)).toBe(false);
      expect(r.decision).toBe('DENY');
      client.close();
      await new Promise<void>((res) => running!.server.tryShutdown(() => res()));
      running = undefined;
    }
    // The control: an explicit ALLOW is an ALLOW (so the test can fail).
    running = await serve((cb) => cb(null, answer('DECISION_ALLOW')), (cb) => cb(null, { responses: [] }));
    client = new CharterClient({ target: running.target, invalidations: false, deadlineMs: 2_000 });
    expect((await client.check(REQ)).allowed).toBe(true);
  });

  it('a batch answered with the wrong number of responses denies every check', async () => {
    const s = await serve((cb) => cb(null, answer('DECISION_ALLOW')), (cb) => cb(null, { responses: [answer('DECISION_ALLOW')] }));
    running = s;
    client = new CharterClient({ target: s.target, invalidations: false, deadlineMs: 2_000 });
    const rs = await client.checkMany([REQ, { ...REQ, action: 'refund' }, { ...REQ, resource: 'uon://payments/payment/p-200' }]);
    expect(rs.map((r) => r.allowed)).toEqual([false, false, false]);
    expect(rs[0].error?.code).toBe('BAD_RESPONSE');
  });

  it('an answer that does not decode, an error status and a server that never answers: DENY', async () => {
    const garbage = await serve((cb) => cb(null, Buffer.from([0xff, 0xff, 0xff, 0x0f])), (cb) => cb(null, Buffer.from([0x0a, 0xff])), true);
    running = garbage;
    client = new CharterClient({ target: garbage.target, invalidations: false, deadlineMs: 2_000 });
    const undecodable = await client.check(REQ);
    expect(undecodable.allowed).toBe(false);
    expect(undecodable.error?.code).toBeDefined();
    client.close();
    await new Promise<void>((r) => garbage.server.tryShutdown(() => r()));

    const failing = await serve((cb) => cb({ code: status.INTERNAL, details: 'boom' }), (cb) => cb({ code: status.INTERNAL, details: 'boom' }));
    running = failing;
    client = new CharterClient({ target: failing.target, invalidations: false, deadlineMs: 2_000 });
    expect(await client.check(REQ)).toMatchObject({ allowed: false, decision: 'DENY' });
    client.close();
    await new Promise<void>((r) => failing.server.tryShutdown(() => r()));

    const silent = await serve(() => {}, () => {});
    running = silent;
    client = new CharterClient({ target: silent.target, invalidations: false, deadlineMs: 300 });
    const late = await client.check(REQ);
    expect(late.allowed).toBe(false);
    expect(late.error?.code).toBe('DEADLINE_EXCEEDED');
    silent.server.forceShutdown();
    running = undefined;
  });
});
