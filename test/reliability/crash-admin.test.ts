/**
 * `kill -9` of `charter serve` in the middle of a stream of Admin writes: every write the server
 * acknowledged is in the store after the restart, every write is whole or absent (never half),
 * and the store opens, reads and writes normally. (kill -9 during `charter import` is
 * test/store/crash.test.ts.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, unaryCall, type CharterClients } from '../../src/server/grpc-client.js';
import { objectToStruct } from '../../src/server/struct.js';
import { AttributeStore } from '../../src/store/index.js';
import { BUNDLED_POLICIES, removeDir, spawnServe, tempDir, waitFor, type ChildServer } from './helpers.js';

const WRITERS = 8;

function recordsOf(writer: number, n: number): unknown[] {
  const id = `spiffe://crash.test/w${writer}/e${n}`;
  return [
    { kind: 'KIND_ENTITY', op: 'OP_PUT', id, attributes: objectToStruct({ writer, n, region: 'emea', groups: ['g1', 'g2'] }) },
    { kind: 'KIND_RELATION', op: 'OP_PUT', object: `team:w${writer}`, relation: 'member', subject: id },
    { kind: 'KIND_RELATION', op: 'OP_PUT', object: `uon://crash/doc/w${writer}-${n}`, relation: 'owner', subject: `team:w${writer}` },
  ];
}

describe('kill -9 during Admin writes', () => {
  let server: ChildServer | undefined;
  let dir: string | undefined;
  let clients: CharterClients | undefined;
  afterEach(async () => {
    clients?.close();
    await server?.kill();
    removeDir(dir);
    server = undefined;
    dir = undefined;
  });

  it('keeps every acknowledged write, and every write is whole or absent', async () => {
    dir = tempDir('crash-admin');
    const data = `${dir}/data`;
    server = await spawnServe(['--policies', BUNDLED_POLICIES, '--data', data, '--admin-insecure-loopback', '--no-watch']);
    clients = connect({ target: server.target });
    const c = clients;

    const acked: { writer: number; n: number; revision: number }[] = [];
    const attempted: { writer: number; n: number }[] = [];
    const failures: string[] = [];
    // Each writer writes until a call fails: the one in flight when the server dies, or the
    // next one, so every writer sees the server go away (whatever the timing of the kill).
    const writer = async (w: number): Promise<void> => {
      for (let n = 0; ; n++) {
        attempted.push({ writer: w, n });
        try {
          const res = await unaryCall<{ attributeRevision: number; applied: number }>(c.admin, 'Write', { records: recordsOf(w, n) }, c.metadata(), 5_000);
          acked.push({ writer: w, n, revision: res.attributeRevision });
          expect(res.applied).toBe(3);
        } catch (err) {
          failures.push(String((err as { code?: number }).code));
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await waitFor('150 acknowledged writes', () => acked.length >= 150, 60_000);
    // SIGKILL while the writers keep a call in flight.
    await server.kill('SIGKILL');
    const { signal } = await server.exited;
    expect(signal).toBe('SIGKILL');
    await Promise.all(writers);
    clients.close();
    clients = undefined;

    const store = AttributeStore.open(data);
    try {
      // Every acknowledged write, in full.
      for (const a of acked) {
        const id = `spiffe://crash.test/w${a.writer}/e${a.n}`;
        expect(store.getAttributes(id), id).toEqual({ writer: a.writer, n: a.n, region: 'emea', groups: ['g1', 'g2'] });
        expect(store.hasTuple(`team:w${a.writer}`, 'member', id)).toBe(true);
        expect(store.hasTuple(`uon://crash/doc/w${a.writer}-${a.n}`, 'owner', `team:w${a.writer}`)).toBe(true);
        expect(store.related(`uon://crash/doc/w${a.writer}-${a.n}`, 'owner', id)).toBe(true);
      }
      // Every attempted write is all three records or none of them.
      let whole = 0;
      for (const t of attempted) {
        const id = `spiffe://crash.test/w${t.writer}/e${t.n}`;
        const parts = [store.getAttributes(id) !== undefined, store.hasTuple(`team:w${t.writer}`, 'member', id), store.hasTuple(`uon://crash/doc/w${t.writer}-${t.n}`, 'owner', `team:w${t.writer}`)];
        expect(new Set(parts).size, `write w${t.writer}/e${t.n} is whole or absent: ${parts}`).toBe(1);
        if (parts[0]) whole++;
      }
      const { revision, entities, tuples } = store.stats();
      // Revisions count commits: one per committed write, and at least the acknowledged ones.
      expect(revision).toBe(whole);
      expect(whole).toBeGreaterThanOrEqual(acked.length);
      expect(Math.max(...acked.map((a) => a.revision))).toBeLessThanOrEqual(revision);
      expect(entities).toBe(whole);
      expect(tuples).toBe(2 * whole);
      // The store carries on.
      expect((await store.write([{ kind: 'entity', op: 'put', id: 'after-crash', attributes: { ok: true } }])).revision).toBe(revision + 1);
      process.stdout.write(`[reliability] kill -9 during Admin writes: ${attempted.length} attempted, ${acked.length} acknowledged, ${whole} committed, all acknowledged present, none half-applied\n`);
    } finally {
      await store.close();
    }

    // And a server starts on it again and answers from it.
    server = await spawnServe(['--policies', BUNDLED_POLICIES, '--data', data, '--admin-insecure-loopback', '--no-watch']);
    clients = connect({ target: server.target });
    const entity = await unaryCall<{ found: boolean; attributeRevision: number }>(clients.admin, 'GetEntity', { id: 'after-crash' }, clients.metadata(), 5_000);
    expect(entity.found).toBe(true);
    expect(failures.length).toBe(WRITERS); // every writer saw the server go away
  });
});
