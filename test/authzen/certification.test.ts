/**
 * Every check of the AuthZEN Authorization API 1.0 certification scenario
 * (openid/authzen certification/authorization-api-1_0-scenario.md): Basic, Batch, Search and
 * Discovery, against the policies/authzen-cert fixture, over real HTTP. Section ids in names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, send, startAuthzen, type Harness, type Reply } from './helpers.js';

const EVAL = '/access/v1/evaluation';
const EVALS = '/access/v1/evaluations';
const SUBJECTS = '/access/v1/search/subject';
const RESOURCES = '/access/v1/search/resource';
const ACTIONS = '/access/v1/search/action';

const alice = { type: 'user', id: 'alice' };
const bob = { type: 'user', id: 'bob' };
const record1 = { type: 'record', id: 'record-1' };
const record2 = { type: 'record', id: 'record-2' };
const read = { name: 'read' };
const write = { name: 'write' };

let h: Harness;
beforeAll(async () => {
  h = await startAuthzen();
});
afterAll(async () => {
  await h?.close();
});

function expectDecision(reply: Reply, decision: boolean): void {
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  expect(typeof reply.json.decision).toBe('boolean');
  expect(reply.json.decision).toBe(decision);
  if ('context' in reply.json) expect(typeof reply.json.context).toBe('object');
}

function expect400(reply: Reply): void {
  expect(reply.status).toBe(400);
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  expect(reply.json.error.status).toBe(400);
  expect(typeof reply.json.error.message).toBe('string');
}

function decisions(reply: Reply): boolean[] {
  expect(reply.status).toBe(200);
  expect(Array.isArray(reply.json.evaluations)).toBe(true);
  for (const e of reply.json.evaluations) expect(typeof e.decision).toBe('boolean');
  return reply.json.evaluations.map((e: { decision: boolean }) => e.decision);
}

function ids(reply: Reply, type: string): string[] {
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  expect(Array.isArray(reply.json.results)).toBe(true);
  for (const r of reply.json.results) {
    expect(typeof r.id).toBe('string');
    expect(r.type).toBe(type);
  }
  return reply.json.results.map((r: { id: string }) => r.id);
}

function names(reply: Reply): string[] {
  expect(reply.status).toBe(200);
  expect(Array.isArray(reply.json.results)).toBe(true);
  for (const r of reply.json.results) expect(typeof r.name).toBe('string');
  return reply.json.results.map((r: { name: string }) => r.name);
}

describe('Basic: Access Evaluation API (C.2)', () => {
  it('C.2.2.1 alice reads record-1: true', async () => {
    expectDecision(await post(h, EVAL, { subject: alice, action: read, resource: record1 }), true);
  });
  it('C.2.2.2 bob writes record-1: false', async () => {
    expectDecision(await post(h, EVAL, { subject: bob, action: write, resource: record1 }), false);
  });
  it('C.1.4 rules 2 and 3: alice writes record-1, bob reads record-1', async () => {
    expectDecision(await post(h, EVAL, { subject: alice, action: write, resource: record1 }), true);
    expectDecision(await post(h, EVAL, { subject: bob, action: read, resource: record1 }), true);
  });
  it('C.2.2.3 optional context does not change the decision', async () => {
    const body = { subject: alice, action: read, resource: record1, context: { time: '2025-06-27T18:03-07:00', ip: '192.168.1.1' } };
    expectDecision(await post(h, EVAL, body), true);
  });
  it('C.2.2.4 rule 5: alice writes an archived record: false', async () => {
    expectDecision(await post(h, EVAL, { subject: alice, action: write, resource: { ...record2, properties: { status: 'archived' } } }), false);
  });
  it('C.2.2.5 rule 6: an admin (subject property) writes an archived record: true', async () => {
    const body = { subject: { ...bob, properties: { role: 'admin' } }, action: write, resource: { ...record2, properties: { status: 'archived' } } };
    expectDecision(await post(h, EVAL, body), true);
  });
  it('C.2.2.6 rule 7: soft delete (action property) is allowed', async () => {
    expectDecision(await post(h, EVAL, { subject: alice, action: { name: 'delete', properties: { soft: true } }, resource: record1 }), true);
  });
  it('C.2.2.7 rule 8: hard delete is denied', async () => {
    expectDecision(await post(h, EVAL, { subject: alice, action: { name: 'delete', properties: { soft: false } }, resource: record1 }), false);
  });
  it('C.2.2.8 additional properties are accepted', async () => {
    const body = {
      subject: { ...alice, properties: { department: 'Sales', role: 'manager' } },
      action: { name: 'read', properties: { method: 'GET' } },
      resource: { ...record1, properties: { status: 'active', owner: 'bob' } },
    };
    expectDecision(await post(h, EVAL, body), true);
  });
  it('C.2.2.9 unknown fields are ignored', async () => {
    expectDecision(await post(h, EVAL, { subject: alice, action: read, resource: record1, foo: 'bar', futureField: { nested: true } }), true);
  });

  describe('C.2.4 error handling', () => {
    it.each([
      ['missing subject', { action: read, resource: record1 }],
      ['missing action', { subject: alice, resource: record1 }],
      ['missing resource', { subject: alice, action: read }],
      ['subject missing type', { subject: { id: 'alice' }, action: read, resource: record1 }],
      ['subject missing id', { subject: { type: 'user' }, action: read, resource: record1 }],
      ['action missing name', { subject: alice, action: {}, resource: record1 }],
      ['resource missing type', { subject: alice, action: read, resource: { id: 'record-1' } }],
      ['resource missing id', { subject: alice, action: read, resource: { type: 'record' } }],
      ['subject is a string', { subject: 'alice', action: read, resource: record1 }],
      ['action.name is a number', { subject: alice, action: { name: 123 }, resource: record1 }],
      ['subject.id is empty', { subject: { type: 'user', id: '' }, action: read, resource: record1 }],
      ['properties is an array', { subject: alice, action: read, resource: { ...record1, properties: [1] } }],
      ['context is a string', { subject: alice, action: read, resource: record1, context: 'now' }],
    ])('C.2.4.1/2/6 %s: 400', async (_name, body) => {
      expect400(await post(h, EVAL, body));
    });
    it('C.2.4.3 a content type other than JSON: 400', async () => {
      expect400(await post(h, EVAL, JSON.stringify({ subject: alice, action: read, resource: record1 }), { 'content-type': 'text/plain' }));
    });
    it('C.2.4.4 malformed JSON: 400', async () => {
      expect400(await post(h, EVAL, '{"subject": {"type": "user", "id": "alice"'));
    });
    it('C.2.4.5 empty body: 400', async () => {
      expect400(await post(h, EVAL, ''));
      expect400(await send(h, 'POST', EVAL, undefined, { 'content-type': 'application/json' }));
    });
    it('a JSON body that is not an object: 400', async () => {
      expect400(await post(h, EVAL, '[1,2]'));
      expect400(await post(h, EVAL, 'null'));
    });
  });

  describe('C.2.5 headers', () => {
    it('C.2.5.1 X-Request-ID is echoed', async () => {
      const reply = await post(h, EVAL, { subject: alice, action: read, resource: record1 }, { 'x-request-id': 'bfe9eb29-ab87-4ca3-be83-a1d5d8305716' });
      expectDecision(reply, true);
      expect(reply.headers['x-request-id']).toBe('bfe9eb29-ab87-4ca3-be83-a1d5d8305716');
    });
    it('C.2.5.1 X-Request-ID is echoed on errors too', async () => {
      const reply = await post(h, EVAL, { subject: alice }, { 'x-request-id': 'req-400' });
      expect400(reply);
      expect(reply.headers['x-request-id']).toBe('req-400');
    });
    it('C.2.5.2 without X-Request-ID the PDP answers, with a generated id', async () => {
      const reply = await post(h, EVAL, { subject: alice, action: read, resource: record1 });
      expectDecision(reply, true);
      expect(reply.headers['x-request-id']).toMatch(/.+/);
    });
  });

  it('C.2.6 idempotency: the same request gets the same decision', async () => {
    const answers: boolean[] = [];
    for (let i = 0; i < 5; i++) answers.push((await post(h, EVAL, { subject: bob, action: write, resource: record1 })).json.decision);
    expect(answers).toEqual([false, false, false, false, false]);
  });
});

describe('Batch: Access Evaluations API (C.3)', () => {
  it('C.3.2.1 defaults with an evaluations array: two decisions', async () => {
    const reply = await post(h, EVALS, { subject: alice, action: read, evaluations: [{ resource: record1 }, { resource: record2 }] });
    expect(decisions(reply)).toHaveLength(2);
    expect(reply.json).not.toHaveProperty('decision');
  });
  it('C.3.2.2 fixture decisions, in request order', async () => {
    const reply = await post(h, EVALS, { subject: bob, resource: record1, evaluations: [{ action: read }, { action: write }] });
    expect(decisions(reply)).toEqual([true, false]);
  });
  it('C.3.2.3 resource properties per item', async () => {
    const reply = await post(h, EVALS, {
      subject: alice,
      action: write,
      evaluations: [{ resource: { ...record1, properties: { status: 'active' } } }, { resource: { ...record2, properties: { status: 'archived' } } }],
    });
    expect(decisions(reply)).toEqual([true, false]);
  });
  it('C.3.2.4 subject properties per item', async () => {
    const reply = await post(h, EVALS, {
      action: write,
      resource: { ...record2, properties: { status: 'archived' } },
      evaluations: [{ subject: alice }, { subject: { ...bob, properties: { role: 'admin' } } }],
    });
    expect(decisions(reply)).toEqual([false, true]);
  });
  it('C.3.2.5 fully specified items, no defaults', async () => {
    const reply = await post(h, EVALS, {
      evaluations: [
        { subject: alice, action: read, resource: record1 },
        { subject: bob, action: write, resource: record1 },
      ],
    });
    expect(decisions(reply)).toEqual([true, false]);
  });
  it('C.3.2.6 context inheritance and override', async () => {
    const reply = await post(h, EVALS, {
      subject: alice,
      action: read,
      context: { time: '2025-06-27T18:03-07:00' },
      evaluations: [{ resource: record1 }, { resource: record2, context: { time: '2025-06-27T19:00-07:00', source: 'batch-override' } }],
    });
    expect(decisions(reply)).toHaveLength(2);
  });
  it('C.3.2.7 default value merging: a missing resource type comes from the default', async () => {
    const reply = await post(h, EVALS, {
      subject: alice,
      action: write,
      resource: { type: 'record' },
      evaluations: [{ resource: { id: 'record-1', properties: { status: 'active' } } }, { resource: { ...record2, properties: { status: 'archived' } } }],
    });
    expect(decisions(reply)).toEqual([true, false]);
  });
  it('C.3.3 length and order match the request', async () => {
    const items = [read, write, read, write, { name: 'delete' }].map((action) => ({ action }));
    const reply = await post(h, EVALS, { subject: bob, resource: record1, evaluations: items });
    expect(decisions(reply)).toEqual([true, false, true, false, false]);
  });
  it('C.3.4.1 an invalid item is an evaluation-level error: decision false, same cardinality', async () => {
    const reply = await post(h, EVALS, { subject: alice, action: read, evaluations: [{ resource: record1 }, {}] });
    expect(decisions(reply)).toEqual([true, false]);
    expect(reply.json.evaluations[1].context.error.status).toBe(400);
    expect(reply.json.evaluations[1].context.error.message).toMatch(/resource/);
  });
  it('C.3.4.1 a non-object item and a malformed sub-field are item errors too', async () => {
    const reply = await post(h, EVALS, { subject: alice, action: read, evaluations: ['x', { resource: { type: 'record', id: 7 } }, { resource: record1 }] });
    expect(decisions(reply)).toEqual([false, false, true]);
  });
  it('C.3.4.2 without an evaluations array it is a single evaluation', async () => {
    expectDecision(await post(h, EVALS, { subject: alice, action: read, resource: record1 }), true);
  });
  it('C.3.4.3 an empty evaluations array is a single evaluation', async () => {
    expectDecision(await post(h, EVALS, { subject: alice, action: read, resource: record1, evaluations: [] }), true);
  });
  it('a whole-payload error is still HTTP 400', async () => {
    expect400(await post(h, EVALS, '{"evaluations": ['));
    expect400(await post(h, EVALS, { evaluations: {} }));
    expect400(await post(h, EVALS, { subject: alice, action: read }));
  });

  describe('evaluation semantics', () => {
    const body = (semantic?: string) => ({
      subject: bob,
      resource: record1,
      ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
      evaluations: [{ action: read }, { action: write }, { action: read }],
    });
    it('execute_all (default) answers every item', async () => {
      expect(decisions(await post(h, EVALS, body()))).toEqual([true, false, true]);
      expect(decisions(await post(h, EVALS, body('execute_all')))).toEqual([true, false, true]);
    });
    it('deny_on_first_deny stops at the first deny', async () => {
      expect(decisions(await post(h, EVALS, body('deny_on_first_deny')))).toEqual([true, false]);
    });
    it('permit_on_first_permit stops at the first permit', async () => {
      expect(decisions(await post(h, EVALS, body('permit_on_first_permit')))).toEqual([true]);
      const denyFirst = { ...body('permit_on_first_permit'), evaluations: [{ action: write }, { action: { name: 'delete' } }, { action: read }, { action: write }] };
      expect(decisions(await post(h, EVALS, denyFirst))).toEqual([false, false, true]);
    });
    it('deny_on_first_deny treats an invalid item as a deny', async () => {
      const reply = await post(h, EVALS, { ...body('deny_on_first_deny'), evaluations: [{ action: read }, { action: {} }, { action: read }] });
      expect(decisions(reply)).toEqual([true, false]);
    });
    it('an unknown semantic is a 400', async () => {
      expect400(await post(h, EVALS, body('execute_some')));
    });
  });
});

describe('Search (C.4)', () => {
  it('C.4.2.1 subject search: users who read record-1 include alice and bob', async () => {
    const reply = await post(h, SUBJECTS, { subject: { type: 'user' }, action: read, resource: record1 });
    expect(ids(reply, 'user')).toEqual(expect.arrayContaining(['alice', 'bob']));
  });
  it('C.4.2.2 subject search with context', async () => {
    const reply = await post(h, SUBJECTS, { subject: { type: 'user' }, action: read, resource: record1, context: { time: '2025-06-27T18:03-07:00' } });
    expect(ids(reply, 'user')).toEqual(expect.arrayContaining(['alice', 'bob']));
  });
  it('C.4.2.3 a subject id in a subject search is ignored', async () => {
    const reply = await post(h, SUBJECTS, { subject: { type: 'user', id: 'alice' }, action: read, resource: record1 });
    expect(ids(reply, 'user')).toEqual(expect.arrayContaining(['alice', 'bob']));
  });
  it('C.4.2.4 subject search with resource properties: bob writes archived record-2', async () => {
    const reply = await post(h, SUBJECTS, { subject: { type: 'user' }, action: write, resource: { ...record2, properties: { status: 'archived' } } });
    const found = ids(reply, 'user');
    expect(found).toContain('bob');
    expect(found).not.toContain('alice');
  });
  it('subject search returns only subjects the evaluation endpoint allows', async () => {
    const found = ids(await post(h, SUBJECTS, { subject: { type: 'user' }, action: write, resource: record1 }), 'user');
    expect(found).toEqual(['alice']);
    for (const id of ['alice', 'bob']) {
      const single = await post(h, EVAL, { subject: { type: 'user', id }, action: write, resource: record1 });
      expect(single.json.decision).toBe(found.includes(id));
    }
  });

  it('C.4.3.1 resource search: records alice reads include record-1', async () => {
    const reply = await post(h, RESOURCES, { subject: alice, action: read, resource: { type: 'record' } });
    expect(ids(reply, 'record')).toEqual(expect.arrayContaining(['record-1']));
  });
  it('C.4.3.2 a resource id in a resource search is ignored', async () => {
    const reply = await post(h, RESOURCES, { subject: alice, action: read, resource: { type: 'record', id: 'record-2' } });
    expect(ids(reply, 'record')).toEqual(['record-1', 'record-2']);
  });
  it('C.4.3.3 resource search with subject properties: an admin bob writes record-2', async () => {
    const reply = await post(h, RESOURCES, { subject: { ...bob, properties: { role: 'admin' } }, action: write, resource: { type: 'record' } });
    expect(ids(reply, 'record')).toEqual(['record-2']);
  });
  it('resource search: alice writes only the active record', async () => {
    expect(ids(await post(h, RESOURCES, { subject: alice, action: write, resource: { type: 'record' } }), 'record')).toEqual(['record-1']);
  });

  it('C.4.4.1 action search: alice on record-1 includes read and write', async () => {
    const found = names(await post(h, ACTIONS, { subject: alice, resource: record1 }));
    expect(found).toEqual(expect.arrayContaining(['read', 'write']));
    expect(found).not.toContain('delete');
  });
  it('C.4.4.2 action search with context', async () => {
    const found = names(await post(h, ACTIONS, { subject: alice, resource: record1, context: { time: '2025-06-27T18:03-07:00' } }));
    expect(found).toEqual(expect.arrayContaining(['read', 'write']));
  });
  it('C.4.4.3 action search with properties: an admin bob on archived record-2 includes write', async () => {
    const found = names(await post(h, ACTIONS, { subject: { ...bob, properties: { role: 'admin' } }, resource: { ...record2, properties: { status: 'archived' } } }));
    expect(found).toContain('write');
  });

  describe('C.4.5 pagination', () => {
    it('C.4.5.1 page.limit is accepted; a limited page has a next_token', async () => {
      const reply = await post(h, SUBJECTS, { subject: { type: 'user' }, action: read, resource: record1, page: { limit: 1 } });
      expect(ids(reply, 'user')).toHaveLength(1);
      expect(typeof reply.json.page).toBe('object');
      expect(typeof reply.json.page.next_token).toBe('string');
      expect(reply.json.page.next_token).not.toBe('');
    });
    it('C.4.5.2 following next_token (as page.token) walks every page exactly once', async () => {
      const seen: string[] = [];
      let token: string | undefined;
      for (let i = 0; i < 5; i++) {
        const reply: Reply = await post(h, SUBJECTS, { subject: { type: 'user' }, action: read, resource: record1, page: { limit: 1, ...(token ? { token } : {}) } });
        seen.push(...ids(reply, 'user'));
        expect(typeof reply.json.page.next_token).toBe('string');
        token = reply.json.page.next_token;
        if (token === '') break;
      }
      expect(token).toBe('');
      expect(seen).toEqual(['alice', 'bob']);
    });
    it('page.next_token in the request works as well, and the last page has an empty next_token', async () => {
      const first = await post(h, RESOURCES, { subject: alice, action: read, resource: { type: 'record' }, page: { limit: 1 } });
      expect(ids(first, 'record')).toEqual(['record-1']);
      const second = await post(h, RESOURCES, { subject: alice, action: read, resource: { type: 'record' }, page: { limit: 1, next_token: first.json.page.next_token } });
      expect(ids(second, 'record')).toEqual(['record-2']);
      expect(second.json.page.next_token).toBe('');
    });
    it('C.4.5.3 an unpaged answer has page.next_token ""', async () => {
      const reply = await post(h, ACTIONS, { subject: alice, resource: record1 });
      expect(reply.json.page.next_token).toBe('');
    });
    it('a bad limit or a forged token is a 400', async () => {
      expect400(await post(h, SUBJECTS, { subject: { type: 'user' }, action: read, resource: record1, page: { limit: 0 } }));
      expect400(await post(h, SUBJECTS, { subject: { type: 'user' }, action: read, resource: record1, page: { limit: 'ten' } }));
      expect400(await post(h, SUBJECTS, { subject: { type: 'user' }, action: read, resource: record1, page: { token: 'not-ours' } }));
    });
  });

  describe('C.4.6 empty results', () => {
    it('C.4.6.1 unknown subject id: empty results', async () => {
      const reply = await post(h, ACTIONS, { subject: { type: 'user', id: 'nonexistent-user' }, resource: record1 });
      expect(names(reply)).toEqual([]);
    });
    it('C.4.6.2 unknown subject type: empty results, not 400', async () => {
      const reply = await post(h, SUBJECTS, { subject: { type: 'spaceship' }, action: read, resource: record1 });
      expect(ids(reply, 'spaceship')).toEqual([]);
    });
    it('unknown resource type: empty results', async () => {
      expect(ids(await post(h, RESOURCES, { subject: alice, action: read, resource: { type: 'spaceship' } }), 'spaceship')).toEqual([]);
    });
  });

  describe('C.4.7 search errors', () => {
    it.each([
      ['subject search without action', SUBJECTS, { subject: { type: 'user' }, resource: record1 }],
      ['resource search without subject', RESOURCES, { action: read, resource: { type: 'record' } }],
      ['action search without resource', ACTIONS, { subject: alice }],
      ['subject search, resource without id', SUBJECTS, { subject: { type: 'user' }, action: read, resource: { type: 'record' } }],
      ['resource search, subject without id', RESOURCES, { subject: { type: 'user' }, action: read, resource: { type: 'record' } }],
      ['subject search, subject without type', SUBJECTS, { subject: {}, action: read, resource: record1 }],
      ['resource search, resource without type', RESOURCES, { subject: alice, action: read, resource: {} }],
    ])('C.4.7 %s: 400', async (_name, path, body) => {
      expect400(await post(h, path, body));
    });
  });
});

describe('Discovery: PDP metadata (C.6)', () => {
  it('C.6.2/C.6.5 GET /.well-known/authzen-configuration', async () => {
    const reply = await send(h, 'GET', '/.well-known/authzen-configuration');
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    const base = `http://127.0.0.1:${h.port}`;
    expect(reply.json).toEqual({
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
      search_subject_endpoint: `${base}/access/v1/search/subject`,
      search_resource_endpoint: `${base}/access/v1/search/resource`,
      search_action_endpoint: `${base}/access/v1/search/action`,
    });
  });
  it('the advertised endpoints answer', async () => {
    const meta = (await send(h, 'GET', '/.well-known/authzen-configuration')).json;
    const path = new URL(meta.access_evaluation_endpoint).pathname;
    expectDecision(await post(h, path, { subject: alice, action: read, resource: record1 }), true);
  });
  it('behind a TLS-terminating proxy the metadata says https', async () => {
    const reply = await send(h, 'GET', '/.well-known/authzen-configuration', undefined, { 'x-forwarded-proto': 'https', host: 'pdp.example.com' });
    expect(reply.json.policy_decision_point).toBe('https://pdp.example.com');
    expect(reply.json.access_evaluation_endpoint).toBe('https://pdp.example.com/access/v1/evaluation');
  });
});

describe('Transport (C.5)', () => {
  it('a GET on an evaluation endpoint is a 405 with Allow, and echoes the request id', async () => {
    const reply = await send(h, 'GET', EVAL, undefined, { 'x-request-id': 'r-405' });
    expect(reply.status).toBe(405);
    expect(reply.headers.allow).toBe('POST');
    expect(reply.headers['x-request-id']).toBe('r-405');
  });
  it('application/json with a charset and +json media types are accepted', async () => {
    const body = JSON.stringify({ subject: alice, action: read, resource: record1 });
    expectDecision(await post(h, EVAL, body, { 'content-type': 'application/json; charset=utf-8' }), true);
    expectDecision(await post(h, EVAL, body, { 'content-type': 'application/authzen+json' }), true);
  });
});
