/**
 * Search agrees with evaluation (property-based, over real HTTP and a real LMDB store): on
 * random relation graphs (nested groups, cycles, archived records, stored admins), every
 * search result is allowed by the evaluation endpoint, and — for access that comes from
 * relation tuples — every allowed subject or resource is found, across pages of 3.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, startAuthzen, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startAuthzen({ searchPageSize: 3 });
});
afterAll(async () => {
  await h?.close();
});

type Tuple = { object: string; relation: string; subject: string };

const graph = fc.record({
  users: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), // stored admin?
  records: fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }), // archived?
  groups: fc.integer({ min: 0, max: 3 }),
  edges: fc.array(
    fc.record({
      kind: fc.constantFrom('viewer', 'editor', 'member'),
      from: fc.nat(),
      to: fc.nat(),
      toGroup: fc.boolean(),
    }),
    { maxLength: 20 },
  ),
});

/** Every result of a paged search, following next_token to the end. */
async function searchAll(path: string, body: Record<string, unknown>): Promise<string[]> {
  const out: string[] = [];
  let token = '';
  for (let pages = 0; pages < 50; pages++) {
    const reply = await post(h, path, { ...body, ...(token ? { page: { token } } : {}) });
    expect(reply.status).toBe(200);
    expect(reply.json.results.length).toBeLessThanOrEqual(3);
    out.push(...reply.json.results.map((r: { id?: string; name?: string }) => r.id ?? r.name));
    token = reply.json.page.next_token;
    if (token === '') return out;
  }
  throw new Error('search did not end within 50 pages');
}

async function allowed(items: { subject: object; action: object; resource: object }[]): Promise<boolean[]> {
  const reply = await post(h, '/access/v1/evaluations', { evaluations: items });
  expect(reply.status).toBe(200);
  return reply.json.evaluations.map((e: { decision: boolean }) => e.decision);
}

describe('search agrees with evaluation', () => {
  let run = 0;
  it('on random relation graphs', async () => {
    await fc.assert(
      fc.asyncProperty(graph, async (g) => {
        const n = run++;
        const users = g.users.map((_, i) => `u${n}-${i}`);
        const records = g.records.map((_, i) => `r${n}-${i}`);
        const groups = Array.from({ length: g.groups }, (_, i) => `g${n}-${i}`);
        const tuples: Tuple[] = [];
        for (const e of g.edges) {
          const subject = e.toGroup && groups.length > 0 ? `group/${groups[e.to % groups.length]}` : `user/${users[e.to % users.length]}`;
          if (e.kind === 'member') {
            if (groups.length > 0) tuples.push({ object: `group/${groups[e.from % groups.length]}`, relation: 'member', subject });
          } else {
            tuples.push({ object: `record/${records[e.from % records.length]}`, relation: e.kind, subject });
          }
        }
        await h.store.write([
          ...users.map((u, i) => ({ kind: 'entity' as const, op: 'put' as const, id: `user/${u}`, attributes: g.users[i] ? { role: 'admin' } : {} })),
          ...records.map((r, i) => ({ kind: 'entity' as const, op: 'put' as const, id: `record/${r}`, attributes: { status: g.records[i] ? 'archived' : 'active' } })),
          ...tuples.map((t) => ({ kind: 'relation' as const, op: 'put' as const, ...t })),
        ]);

        for (const action of ['read', 'write']) {
          for (const u of users) {
            const found = await searchAll('/access/v1/search/resource', { subject: { type: 'user', id: u }, action: { name: action }, resource: { type: 'record' } });
            expect(new Set(found).size).toBe(found.length);
            const truth = await allowed(records.map((r) => ({ subject: { type: 'user', id: u }, action: { name: action }, resource: { type: 'record', id: r } })));
            // Sound: nothing denied is found. (Only this run's records can be reached.)
            for (const id of found) expect(truth[records.indexOf(id)]).toBe(true);
            // Complete where access comes from tuples: reads, and writes on active records.
            records.forEach((r, i) => {
              if (truth[i] && (action === 'read' || !g.records[i])) expect(found).toContain(r);
            });
          }
          for (const r of records) {
            const found = await searchAll('/access/v1/search/subject', { subject: { type: 'user' }, action: { name: action }, resource: { type: 'record', id: r } });
            expect(new Set(found).size).toBe(found.length);
            const truth = await allowed(users.map((u) => ({ subject: { type: 'user', id: u }, action: { name: action }, resource: { type: 'record', id: r } })));
            for (const id of found) expect(truth[users.indexOf(id)]).toBe(true);
            const archived = g.records[records.indexOf(r)];
            users.forEach((u, i) => {
              if (truth[i] && (action === 'read' || !archived)) expect(found).toContain(u);
            });
          }
        }
        for (const u of users) {
          for (const r of records) {
            const found = await searchAll('/access/v1/search/action', { subject: { type: 'user', id: u }, resource: { type: 'record', id: r } });
            const truth = await allowed(['read', 'write', 'delete'].map((name) => ({ subject: { type: 'user', id: u }, action: { name }, resource: { type: 'record', id: r } })));
            expect(found.sort()).toEqual(['read', 'write', 'delete'].filter((_, i) => truth[i]).sort());
          }
        }
      }),
      { numRuns: 12, seed: 20261126 },
    );
  });
});
