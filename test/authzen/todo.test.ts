/** The AuthZEN interop Todo decisions (todo-decisions-1_0-02.json), over real HTTP. */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsOr } from '../server/helpers.js';
import { post, startAuthzen, type Harness } from './helpers.js';

interface Fixture {
  evaluation: { request: Record<string, unknown>; expected: boolean }[];
  evaluations: { request: Record<string, unknown>; expected: { decision: boolean }[] }[];
}

// shared/ sits beside the repository; test/fixtures holds a copy for clones without it.
const FIXTURE = existsOr(
  fileURLToPath(new URL('../../../shared/fixtures/authzen/todo-decisions-1_0-02.json', import.meta.url)),
  fileURLToPath(new URL('../fixtures/authzen-todo-decisions-1_0-02.json', import.meta.url)),
);
const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as Fixture;

let h: Harness;
beforeAll(async () => {
  h = await startAuthzen();
});
afterAll(async () => {
  await h?.close();
});

describe('AuthZEN interop Todo scenario', () => {
  it('has the fixture the issue describes (40 evaluations, 3 batches)', () => {
    expect(fixture.evaluation).toHaveLength(40);
    expect(fixture.evaluations).toHaveLength(3);
  });

  it.each(fixture.evaluation.map((c, i) => [i + 1, c] as const))('evaluation #%i', async (_n, c) => {
    const reply = await post(h, '/access/v1/evaluation', c.request);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/json/);
    expect(reply.json).toEqual({ decision: c.expected });
  });

  it.each(fixture.evaluations.map((c, i) => [i + 1, c] as const))('evaluations batch #%i (compared by value)', async (_n, c) => {
    const reply = await post(h, '/access/v1/evaluations', c.request);
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ evaluations: c.expected });
  });

  it('both outcomes occur, so a constant answer cannot pass', () => {
    const outcomes = new Set(fixture.evaluation.map((c) => c.expected));
    expect(outcomes).toEqual(new Set([true, false]));
  });

  it('the interop batch shape with an empty default resource and context works', async () => {
    const morty = 'CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs';
    const reply = await post(h, '/access/v1/evaluations', {
      subject: { type: 'user', id: morty },
      action: { name: 'can_update_todo' },
      resource: {},
      context: {},
      evaluations: [
        { resource: { type: 'todo', id: '7240d0db-8ff0-41ec-98b2-34a096273b9f', properties: { ownerID: 'rick@the-citadel.com' } } },
        { resource: { type: 'todo', id: '7240d0db-8ff0-41ec-98b2-34a096273b9e', properties: { ownerID: 'morty@the-citadel.com' } } },
      ],
    });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ evaluations: [{ decision: false }, { decision: true }] });
  });

  it('roles come from the store: subject properties cannot grant a role', async () => {
    const beth = 'CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs';
    const reply = await post(h, '/access/v1/evaluation', {
      subject: { type: 'user', id: beth, properties: { roles: ['admin'], email: 'rick@the-citadel.com' } },
      action: { name: 'can_delete_todo' },
      resource: { type: 'todo', id: 't-1', properties: { ownerID: 'rick@the-citadel.com' } },
    });
    expect(reply.json).toEqual({ decision: false });
  });

  describe('search over the Todo users (stored entities)', () => {
    const pid = { rick: 'CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs', morty: 'CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs', summer: 'CiRmZDI2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs', beth: 'CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs' };
    it('subject search: who may create todos (editors, admins, evil geniuses)', async () => {
      const reply = await post(h, '/access/v1/search/subject', { subject: { type: 'user' }, action: { name: 'can_create_todo' }, resource: { type: 'todo', id: 'todo-1' } });
      expect(reply.status).toBe(200);
      expect(reply.json.results.map((r: { id: string }) => r.id).sort()).toEqual([pid.rick, pid.morty, pid.summer].sort());
    });
    it('action search: what Morty may do on his own todo, and what Beth may do on hers', async () => {
      const actions = async (id: string, owner: string) => {
        const reply = await post(h, '/access/v1/search/action', { subject: { type: 'user', id }, resource: { type: 'todo', id: 't-9', properties: { ownerID: owner } } });
        expect(reply.status).toBe(200);
        return reply.json.results.map((r: { name: string }) => r.name).sort();
      };
      expect(await actions(pid.morty, 'morty@the-citadel.com')).toEqual(['can_create_todo', 'can_delete_todo', 'can_read_todos', 'can_update_todo']);
      expect(await actions(pid.morty, 'rick@the-citadel.com')).toEqual(['can_create_todo', 'can_read_todos']);
      expect(await actions(pid.beth, 'beth@the-smiths.com')).toEqual(['can_read_todos']);
    });
  });
});
