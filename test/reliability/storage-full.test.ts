/**
 * A full disk under the LMDB store (a 2 MiB tmpfs; needs root or CAP_SYS_ADMIN to mount, the test
 * is skipped with a message otherwise) and a tiny LMDB map size: writes fail with a clear error
 * and nothing half-written, every acknowledged write survives, the server keeps answering from
 * what it has, and writes work again once space is freed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, unaryCall, type CharterClients } from '../../src/server/grpc-client.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import type { ServerStore } from '../../src/server/store-types.js';
import { objectToStruct } from '../../src/server/struct.js';
import { AttributeStore, StoreFullError, importNdjson } from '../../src/store/index.js';
import { ALICE, BUNDLED_POLICIES, P100, PAYMENTS_DATA, removeDir, tempDir } from './helpers.js';

let mountDir: string | undefined;
let mounted = false;
let mountProblem = '';

beforeAll(() => {
  mountDir = tempDir('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountDir], { stdio: 'pipe' });
    mounted = true;
  } catch (err) {
    mountProblem = String((err as { stderr?: Buffer }).stderr ?? err).trim();
  }
});

afterAll(() => {
  if (mounted && mountDir) {
    try {
      execFileSync('umount', [mountDir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', mountDir], { stdio: 'pipe' });
    }
  }
  removeDir(mountDir);
});

const blob = 'x'.repeat(2_000);

describe('a full disk under the store (2 MiB tmpfs)', () => {
  it('write errors are StoreFullError; the store keeps every acknowledged write; writes resume once space is freed', async (ctx) => {
    if (!mounted) ctx.skip(`cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): ${mountProblem}`);
    const dir = join(mountDir!, 'store-direct');
    // Take some of the space with a file we can delete later.
    const filler = join(mountDir!, 'filler');
    writeFileSync(filler, Buffer.alloc(512 * 1024, 1));
    const store = AttributeStore.open(dir);
    let acked = 0;
    let error: unknown;
    try {
      try {
        for (let n = 0; n < 5_000; n++) {
          await store.write([
            { kind: 'entity', op: 'put', id: `e${n}`, attributes: { blob, n } },
            { kind: 'relation', op: 'put', object: `doc:${n}`, relation: 'owner', subject: `e${n}` },
          ]);
          acked++;
        }
      } catch (err) {
        error = err;
      }
      expect(error, 'the disk filled up before 5,000 writes').toBeInstanceOf(StoreFullError);
      expect((error as Error).message).toMatch(/is full .*nothing of this write was stored/);
      expect(acked).toBeGreaterThan(10);
      // Reads carry on while the disk is full.
      expect(store.getAttributes('e0')).toEqual({ blob, n: 0 });
      expect(store.revision()).toBe(acked);
    } finally {
      await store.close();
    }

    // Reopened: exactly the acknowledged writes, each whole.
    const reopened = AttributeStore.open(dir);
    try {
      expect(reopened.revision()).toBe(acked);
      expect(reopened.stats()).toMatchObject({ entities: acked, tuples: acked });
      for (let n = 0; n < acked; n++) expect(reopened.hasTuple(`doc:${n}`, 'owner', `e${n}`) && reopened.getAttributes(`e${n}`)?.n === n).toBe(true);
      expect(reopened.getAttributes(`e${acked}`)).toBeUndefined();
      // Space comes back: writes work again.
      rmSync(filler);
      const after = await reopened.write([{ kind: 'entity', op: 'put', id: 'after', attributes: { ok: true } }]);
      expect(after.revision).toBe(acked + 1);
    } finally {
      await reopened.close();
    }
    process.stdout.write(`[reliability] full disk (2 MiB tmpfs): ${acked} writes acknowledged before StoreFullError; all present after reopen; writes resume after freeing space\n`);
  });

  it('over gRPC: Admin.Write gets RESOURCE_EXHAUSTED, Authorize keeps answering from the stored data', async (ctx) => {
    if (!mounted) ctx.skip(`cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN): ${mountProblem}`);
    const dir = join(mountDir!, 'store-server');
    mkdirSync(dir, { recursive: true });
    const store = AttributeStore.open(dir);
    await importNdjson(store, [PAYMENTS_DATA]);
    let server: RunningServer | undefined;
    let clients: CharterClients | undefined;
    try {
      server = await startServer({
        host: '127.0.0.1',
        grpcPort: 0,
        httpPort: 0,
        policiesDir: BUNDLED_POLICIES,
        store: store as unknown as ServerStore,
        logger: pino({ level: 'silent' }),
        adminInsecureLoopback: true,
        watchPolicies: false,
        defaultMetrics: false,
      });
      clients = connect({ target: `127.0.0.1:${server.grpcPort}` });
      const c = clients;
      const acked: number[] = [];
      let refusal: ServiceError | undefined;
      for (let n = 0; n < 5_000 && !refusal; n++) {
        try {
          await unaryCall(c.admin, 'Write', { records: [{ kind: 'KIND_ENTITY', op: 'OP_PUT', id: `spiffe://full.test/e/${n}`, attributes: objectToStruct({ blob, n }) }] }, c.metadata());
          acked.push(n);
        } catch (err) {
          refusal = err as ServiceError;
        }
      }
      expect(refusal?.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(refusal?.details).toMatch(/write failed, nothing applied: .*is full/);
      // Decisions carry on from the stored attributes.
      const answer = await unaryCall<{ decision: string }>(c.authorization, 'Authorize', { actor: ALICE, action: 'read', resource: P100 }, c.metadata());
      expect(answer.decision).toBe('DECISION_ALLOW');
      const last = await unaryCall<{ found: boolean }>(c.admin, 'GetEntity', { id: `spiffe://full.test/e/${acked.at(-1)}` }, c.metadata());
      expect(last.found).toBe(true);
      expect((await fetch(`http://127.0.0.1:${server.httpPort}/readyz`)).status).toBe(200);
      process.stdout.write(`[reliability] full disk over gRPC: ${acked.length} Admin writes acknowledged, then RESOURCE_EXHAUSTED; Authorize still ALLOWs from stored data\n`);
    } finally {
      clients?.close();
      await server?.close(1_000);
      await store.close();
    }
  });
});

describe('a tiny LMDB map size', () => {
  it('is not a cap: lmdb-js grows the map, so 400 writes of 2 KB (12x the map) into a 64 KiB map all commit', async () => {
    const dir = tempDir('tinymap');
    try {
      const store = AttributeStore.open(join(dir, 'data'), { mapSize: 64 * 1024 });
      for (let n = 0; n < 400; n++) await store.write([{ kind: 'entity', op: 'put', id: `e${n}`, attributes: { blob, n } }]);
      expect(store.revision()).toBe(400);
      await store.close();
      const again = AttributeStore.open(join(dir, 'data'), { mapSize: 64 * 1024 });
      expect(again.stats().entities).toBe(400);
      expect(again.getAttributes('e399')).toEqual({ blob, n: 399 });
      await again.close();
    } finally {
      removeDir(dir);
    }
  });
});
