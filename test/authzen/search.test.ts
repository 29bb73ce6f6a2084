/**
 * Search agrees with evaluation (property-based, over real HTTP and a real LMDB store): on
 * random relation graphs (nested groups, cycles, archived records, stored admins), every
 * search result is allowed by the evaluation endpoint, and every allowed subject or resource
 * is found, across pages of 3. Access comes from relation tuples and from stored attributes
 * (admins write archived records), so completeness needs both the relation walk and the
 * store's entity listing.
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
  // Users and records known only from tuples (not stored) are found only by the relation walk.
  users: fc.array(fc.constantFrom('admin', 'plain', 'unstored'), { minLength: 1, maxLength: 5 }),
  records: fc.array(fc.constantFrom('archived', 'active', 'unstored'), { minLength: 1, maxLength: 6 }),
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
  for (let pages = 0; pages < 200; pages++) {
    const reply = await post(h, path, { ...body, ...(token ? { page: { token } } : {}) });
    expect(reply.status).toBe(200);
    expect(reply.json.results.length).toBeLessThanOrEqual(3);
    out.push(...reply.json.results.map((r: { id?: string; name?: string }) => r.id ?? r.name));
    token = reply.json.page.next_token;
    if (token === '') return out;
  }
  throw new Error('search did not end within 200 pages');
}

async function allowed(items: { subject: object; action: object; resource: object }[]): Promise<boolean[]> {
  if (items.length === 0) return [];
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
          ...users
            .filter((_, i) => g.users[i] !== 'unstored')
            .map((u) => ({ kind: 'entity' as const, op: 'put' as const, id: `user/${u}`, attributes: g.users[users.indexOf(u)] === 'admin' ? { role: 'admin' } : {} })),
          ...records
            .filter((_, i) => g.records[i] !== 'unstored')
            .map((r) => ({ kind: 'entity' as const, op: 'put' as const, id: `record/${r}`, attributes: { status: g.records[records.indexOf(r)] } })),
          ...tuples.map((t) => ({ kind: 'relation' as const, op: 'put' as const, ...t })),
        ]);

        for (const action of ['read', 'write']) {
          for (const u of users) {
            const found = await searchAll('/access/v1/search/resource', { subject: { type: 'user', id: u }, action: { name: action }, resource: { type: 'record' } });
            expect(new Set(found).size).toBe(found.length);
            // Sound: every result is allowed (results may include other runs' records).
            const check = await allowed(found.map((r) => ({ subject: { type: 'user', id: u }, action: { name: action }, resource: { type: 'record', id: r } })));
            expect(check.every((d) => d)).toBe(true);
            // Complete: every record of this run that evaluation allows is found.
            const truth = await allowed(records.map((r) => ({ subject: { type: 'user', id: u }, action: { name: action }, resource: { type: 'record', id: r } })));
            records.forEach((r, i) => expect(found.includes(r)).toBe(truth[i]));
          }
          for (const r of records) {
            const found = await searchAll('/access/v1/search/subject', { subject: { type: 'user' }, action: { name: action }, resource: { type: 'record', id: r } });
            expect(new Set(found).size).toBe(found.length);
            const check = await allowed(found.map((u) => ({ subject: { type: 'user', id: u }, action: { name: action }, resource: { type: 'record', id: r } })));
            expect(check.every((d) => d)).toBe(true);
            const truth = await allowed(users.map((u) => ({ subject: { type: 'user', id: u }, action: { name: action }, resource: { type: 'record', id: r } })));
            users.forEach((u, i) => expect(found.includes(u)).toBe(truth[i]));
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
      { numRuns: 15, seed: 20261126 },
    );
  });
});

describe('a search over many candidates', () => {
  let big: Harness;
  beforeAll(async () => {
    big = await startAuthzen({ searchPageSize: 10 });
    // 2,500 stored users without any access, sorting before alice and bob.
    const users = Array.from({ length: 2_500 }, (_, i) => ({ kind: 'entity' as const, op: 'put' as const, id: `user/a0-${String(i).padStart(4, '0')}`, attributes: {} }));
    await big.store.write(users);
  });
  afterAll(async () => {
    await big?.close();
  });

  it('spends a bounded number of decisions per request and resumes where it stopped', async () => {
    const pages: { results: string[]; token: string }[] = [];
    let token = '';
    do {
      const reply = await post(big, '/access/v1/search/subject', { subject: { type: 'user' }, action: { name: 'read' }, resource: { type: 'record', id: 'record-1' }, ...(token ? { page: { token } } : {}) });
      expect(reply.status).toBe(200);
      token = reply.json.page.next_token;
      pages.push({ results: reply.json.results.map((r: { id: string }) => r.id), token });
    } while (token !== '' && pages.length < 10);
    expect(pages.flatMap((p) => p.results)).toEqual(['alice', 'bob']);
    // The first page ran out of its decision budget before finding anyone, and said so with a token.
    expect(pages[0]).toMatchObject({ results: [] });
    expect(pages[0].token).not.toBe('');
    expect(pages.at(-1)?.token).toBe('');
  });
});
