/**
 * The edges of the AuthZEN endpoints: the API key, body limits, never a 500 for bad input
 * (property-based), identifier mapping, what callers may and may not assert, the decision log
 * and metrics. Real server, real LMDB, real HTTP.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInitialPolicies } from '../../src/pdp/index.js';
import { encodeType, toCharterId } from '../../src/server/authzen/index.js';
import { POLICIES, post, send, startAuthzen, type Harness } from './helpers.js';

const EVAL = '/access/v1/evaluation';
const EVALS = '/access/v1/evaluations';
const KEY = 'authzen-test-key-0123456789abcdef';
const alice = { type: 'user', id: 'alice' };
const record1 = { type: 'record', id: 'record-1' };
const record2 = { type: 'record', id: 'record-2' };
const readRecord1 = { subject: alice, action: { name: 'read' }, resource: record1 };

describe('identifier mapping', () => {
  it('scopes a plain id by its type: <type>/<id>', () => {
    expect(toCharterId('user', 'alice')).toBe('user/alice');
    expect(toCharterId('user', 'beth@the-smiths.com')).toBe('user/beth@the-smiths.com');
    expect(toCharterId('todo', 'a/b')).toBe('todo/a/b');
  });
  it('uses an id that is already a URI (SPIFFE ID, UON, URL) as is', () => {
    expect(toCharterId('user', 'spiffe://personnel.acme.test/eid/1001')).toBe('spiffe://personnel.acme.test/eid/1001');
    expect(toCharterId('payment', 'uon://payments/payment/p-100')).toBe('uon://payments/payment/p-100');
    expect(toCharterId('doc', 'https://example.com/d/1')).toBe('https://example.com/d/1');
  });
  it('keeps the type one segment without ":" so the two forms cannot collide', () => {
    expect(encodeType('a/b')).toBe('a%2Fb');
    expect(encodeType('uon:')).toBe('uon%3A');
    expect(toCharterId('uon:', '//payments/payment/p-100')).toBe('uon%3A///payments/payment/p-100');
    expect(encodeType('tür')).toBe('t%C3%BCr');
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (type, id) => {
        const charterId = toCharterId(type, id);
        if (charterId === id) return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(id);
        const [first] = charterId.split('/');
        return !first.includes(':') && charterId === `${first}/${id}`;
      }),
    );
  });
});

describe('AuthZEN over HTTP, default server', () => {
  let h: Harness;
  const log: Record<string, unknown>[] = [];
  beforeAll(async () => {
    h = await startAuthzen({ decisionLog: log, maxBodyBytes: 8 * 1024, maxEvaluations: 3 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('serves the payments policies too: SPIFFE IDs and UONs are used as is', async () => {
    const body = {
      subject: { type: 'user', id: 'spiffe://personnel.acme.test/eid/1001' },
      action: { name: 'read' },
      resource: { type: 'payment', id: 'uon://payments/payment/p-100' },
    };
    expect((await post(h, EVAL, body)).json).toEqual({ decision: true });
    const other = { ...body, resource: { type: 'payment', id: 'uon://payments/payment/p-200' } };
    expect((await post(h, EVAL, other)).json).toEqual({ decision: false });
  });

  it('the store wins over resource.properties: a caller cannot un-archive record-2', async () => {
    const reply = await post(h, EVAL, { subject: alice, action: { name: 'write' }, resource: { ...record2, properties: { status: 'active' } } });
    expect(reply.json).toEqual({ decision: false });
  });

  it('resource.properties fill what the store lacks', async () => {
    const todo = (ownerID: string) => ({
      subject: { type: 'user', id: 'CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs' },
      action: { name: 'can_delete_todo' },
      resource: { type: 'todo', id: 'not-stored', properties: { ownerID } },
    });
    expect((await post(h, EVAL, todo('morty@the-citadel.com'))).json).toEqual({ decision: true });
    expect((await post(h, EVAL, todo('rick@the-citadel.com'))).json).toEqual({ decision: false });
  });

  it('subject.properties are claims, not stored attributes: they cannot replace the stored email', async () => {
    const reply = await post(h, EVAL, {
      subject: { type: 'user', id: 'CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs', properties: { email: 'rick@the-citadel.com' } },
      action: { name: 'can_delete_todo' },
      resource: { type: 'todo', id: 't', properties: { ownerID: 'rick@the-citadel.com' } },
    });
    expect(reply.json).toEqual({ decision: false });
  });

  it('logs decisions with the request id and transport, and drops a caller-supplied peer_spiffe_id', async () => {
    const before = log.length;
    await post(h, EVAL, { ...readRecord1, context: { peer_spiffe_id: 'spiffe://forged/x', ip: '10.1.2.3' } }, { 'x-request-id': 'log-me' });
    // The decision log writes in batches (within 20 ms): wait for this request's entry.
    await expect.poll(() => log.some((e) => e.requestId === 'log-me'), { timeout: 5_000 }).toBe(true);
    expect(log.length).toBeGreaterThan(before);
    const entry = log.find((e) => e.requestId === 'log-me');
    expect(entry).toMatchObject({ transport: 'authzen', actor: 'user/alice', action: 'read', resource: 'record/record-1', decision: 'ALLOW' });
    expect(entry?.context).toEqual({ ip: '10.1.2.3' });
  });

  it('logs each batch item as <request id>/<index>', async () => {
    await post(h, EVALS, { subject: alice, action: { name: 'read' }, evaluations: [{ resource: record1 }, { resource: { type: 'record', id: 'nope' } }] }, { 'x-request-id': 'batch-1' });
    await expect.poll(() => log.filter((e) => String(e.requestId).startsWith('batch-1/')).length, { timeout: 5_000 }).toBe(2);
    expect(log.find((e) => e.requestId === 'batch-1/1')).toMatchObject({ transport: 'authzen-batch', decision: 'DENY' });
  });

  it('counts HTTP decisions and their latency in /metrics', async () => {
    const count = async (series: RegExp) => {
      const text = (await send(h, 'GET', '/metrics')).text;
      const m = series.exec(text);
      return m ? Number(m[1]) : 0;
    };
    const allowed = /charter_decisions_total\{effect="ALLOW",transport="http"\} (\d+)/;
    const timed = /charter_decision_duration_seconds_count\{rpc="AuthZEN.evaluation"\} (\d+)/;
    const [allowedBefore, timedBefore] = [await count(allowed), await count(timed)];
    await post(h, EVAL, readRecord1);
    expect(await count(allowed)).toBe(allowedBefore + 1);
    expect(await count(timed)).toBe(timedBefore + 1);
  });

  it('413 for a body over the limit (declared or streamed), and the server keeps serving', async () => {
    const big = JSON.stringify({ ...readRecord1, context: { pad: 'x'.repeat(20_000) } });
    const declared = await post(h, EVAL, big, { 'x-request-id': 'too-big' });
    expect(declared.status).toBe(413);
    expect(declared.json.error.status).toBe(413);
    expect(declared.headers['x-request-id']).toBe('too-big');
    const streamed = await new Promise<number>((resolve, reject) => {
      // No content-length: chunked, so only counting the bytes can catch it.
      import('node:http').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port: h.port, method: 'POST', path: EVAL, headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        for (let i = 0; i < 10; i++) req.write('x'.repeat(2_000));
        req.end();
      }, reject);
    });
    expect(streamed).toBe(413);
    expect((await post(h, EVAL, readRecord1)).json).toEqual({ decision: true });
  });

  it('400 for too many evaluations, too deep properties, control characters and over-long ids', async () => {
    const items = Array.from({ length: 4 }, () => ({ resource: record1 }));
    const many = await post(h, EVALS, { subject: alice, action: { name: 'read' }, evaluations: items });
    expect(many.status).toBe(400);
    expect(many.json.error.message).toMatch(/at most 3/);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect((await post(h, EVAL, { ...readRecord1, resource: { ...record1, properties: { deep } } })).status).toBe(400);
    expect((await post(h, EVAL, { ...readRecord1, subject: { type: 'user', id: 'ali\nce' } })).status).toBe(400);
    expect((await post(h, EVAL, { ...readRecord1, subject: { type: 'user', id: 'a'.repeat(2_000) } })).status).toBe(400);
    expect((await post(h, EVAL, { ...readRecord1, action: { name: ' read' } })).status).toBe(400);
  });

  it('a type with "/" cannot reach another type\'s entities', async () => {
    const reply = await post(h, EVAL, { subject: { type: 'user/alice', id: 'x' }, action: { name: 'read' }, resource: record1 });
    expect(reply.json).toEqual({ decision: false });
  });

  it('a repeated question is answered again after the store changes (the decision cache follows the attribute revision)', async () => {
    const beth = 'user/CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs';
    const body = JSON.stringify({ subject: { type: 'user', id: beth.slice(5) }, action: { name: 'can_create_todo' }, resource: { type: 'todo', id: 'new' } });
    const original = h.store.getAttributes(beth) as Record<string, unknown>;
    for (let i = 0; i < 3; i++) expect((await post(h, EVAL, body)).json).toEqual({ decision: false });
    await h.store.write([{ kind: 'entity', op: 'put', id: beth, attributes: { ...original, roles: ['editor'] } }]);
    try {
      expect((await post(h, EVAL, body)).json).toEqual({ decision: true });
      expect((await post(h, EVAL, body)).json).toEqual({ decision: true });
    } finally {
      await h.store.write([{ kind: 'entity', op: 'put', id: beth, attributes: original }]);
    }
    expect((await post(h, EVAL, body)).json).toEqual({ decision: false });
  });

  it('repeated batch items are answered again after the store changes', async () => {
    const jerry = 'user/CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs';
    const body = {
      subject: { type: 'user', id: jerry.slice(5) },
      action: { name: 'can_update_todo' },
      evaluations: [{ resource: { type: 'todo', id: 'j1', properties: { ownerID: 'jerry@the-smiths.com' } } }, { resource: { type: 'todo', id: 'r1', properties: { ownerID: 'rick@the-citadel.com' } } }],
    };
    const original = h.store.getAttributes(jerry) as Record<string, unknown>;
    for (let i = 0; i < 3; i++) expect((await post(h, EVALS, body)).json).toEqual({ evaluations: [{ decision: false }, { decision: false }] });
    await h.store.write([{ kind: 'entity', op: 'put', id: jerry, attributes: { ...original, roles: ['editor'] } }]);
    try {
      expect((await post(h, EVALS, body)).json).toEqual({ evaluations: [{ decision: true }, { decision: false }] });
      // The same question as a single evaluation gets the same (fresh) answer.
      const single = { subject: body.subject, action: body.action, resource: body.evaluations[0].resource };
      expect((await post(h, EVAL, single)).json).toEqual({ decision: true });
    } finally {
      await h.store.write([{ kind: 'entity', op: 'put', id: jerry, attributes: original }]);
    }
    expect((await post(h, EVALS, body)).json).toEqual({ evaluations: [{ decision: false }, { decision: false }] });
  });

  it('a repeated question is answered again after a policy reload (the cache follows the policy revision)', async () => {
    const body = JSON.stringify(readRecord1);
    expect((await post(h, EVAL, body)).json).toEqual({ decision: true });
    const paymentsOnly = (await loadInitialPolicies(`${POLICIES}payments`)).set;
    const previous = h.server.decisionPoint.replacePolicies(paymentsOnly);
    try {
      expect((await post(h, EVAL, body)).json).toEqual({ decision: false });
    } finally {
      h.server.decisionPoint.replacePolicies(previous);
    }
    expect((await post(h, EVAL, body)).json).toEqual({ decision: true });
  });

  it('never answers 500 to arbitrary JSON bodies (property-based)', async () => {
    const paths = [EVAL, EVALS, '/access/v1/search/subject', '/access/v1/search/resource', '/access/v1/search/action'];
    const entity = fc.oneof(
      fc.record({ type: fc.oneof(fc.string(), fc.constant('user'), fc.integer()), id: fc.oneof(fc.string(), fc.constant('alice'), fc.constant(null)), properties: fc.oneof(fc.object(), fc.anything()) }, { requiredKeys: [] }),
      fc.anything(),
    );
    const body = fc.record(
      {
        subject: entity,
        action: fc.oneof(fc.record({ name: fc.oneof(fc.string(), fc.constant('read'), fc.integer()), properties: fc.anything() }, { requiredKeys: [] }), fc.anything()),
        resource: entity,
        context: fc.anything(),
        evaluations: fc.oneof(fc.array(fc.record({ subject: entity, resource: entity, action: fc.anything() }, { requiredKeys: [] }), { maxLength: 3 }), fc.anything()),
        options: fc.oneof(fc.record({ evaluations_semantic: fc.oneof(fc.string(), fc.constantFrom('execute_all', 'deny_on_first_deny', 'permit_on_first_permit')) }), fc.anything()),
        page: fc.oneof(fc.record({ limit: fc.anything(), token: fc.oneof(fc.string(), fc.base64String()) }, { requiredKeys: [] }), fc.anything()),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.oneof(body, fc.json().map((j) => ({ raw: j })), fc.string().map((s) => ({ raw: s }))), async (path, b) => {
        const payload = 'raw' in (b as object) && Object.keys(b as object).length === 1 ? (b as { raw: string }).raw : b;
        const reply = await post(h, path, payload);
        expect([200, 400, 413]).toContain(reply.status);
        expect(reply.headers['content-type']).toMatch(/^application\/json/);
        if (reply.status === 200) expect(typeof reply.json).toBe('object');
        else expect(reply.json.error.status).toBe(reply.status);
      }),
      { numRuns: 300 },
    );
  });
});

describe('AuthZEN with an API key', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startAuthzen({ apiKey: KEY });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('401 without the key, with a wrong key and with a malformed header; the request id is echoed', async () => {
    const variants: Record<string, string>[] = [{}, { authorization: `Bearer ${KEY}x` }, { authorization: KEY }, { authorization: `Basic ${KEY}` }, { authorization: 'Bearer ' }];
    for (const headers of variants) {
      const reply = await post(h, EVAL, readRecord1, { ...headers, 'x-request-id': 'auth-1' });
      expect(reply.status).toBe(401);
      expect(reply.json.error.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
      expect(reply.headers['x-request-id']).toBe('auth-1');
    }
  });

  it('answers with the right key, on every API endpoint', async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    expect((await post(h, EVAL, readRecord1, auth)).json).toEqual({ decision: true });
    expect((await post(h, EVALS, { ...readRecord1, evaluations: [{}] }, auth)).status).toBe(200);
    expect((await post(h, '/access/v1/search/action', { subject: alice, resource: record1 }, auth)).status).toBe(200);
    expect((await post(h, '/access/v1/search/action', { subject: alice, resource: record1 })).status).toBe(401);
  });

  it('checks the key before reading the body: bad input without a key is a 401, not a 400', async () => {
    expect((await post(h, EVAL, '{not json')).status).toBe(401);
  });

  it('leaves the discovery metadata public', async () => {
    expect((await send(h, 'GET', '/.well-known/authzen-configuration')).status).toBe(200);
  });
});

describe('configured base URL', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startAuthzen({ baseUrl: 'https://pdp.example.com/' });
  });
  afterAll(async () => {
    await h?.close();
  });
  it('is what the metadata advertises, whatever the Host header', async () => {
    const meta = (await send(h, 'GET', '/.well-known/authzen-configuration')).json;
    expect(meta.policy_decision_point).toBe('https://pdp.example.com');
    expect(meta.search_action_endpoint).toBe('https://pdp.example.com/access/v1/search/action');
  });
});
