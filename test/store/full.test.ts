/**
 * A full disk: the store lives on a 1 MiB tmpfs (needs root to mount; skipped otherwise).
 * The failing write must be refused with StoreFullError, leave the committed data intact,
 * and the store must keep working for writes that fit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AttributeStore, StoreFullError, type DataRecord } from '../../src/store/index.js';
import { tempDir } from './helpers.js';

const work = tempDir();
const mountPoint = join(work.dir, 'small');
let mounted = false;

beforeAll(() => {
  mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    mounted = true;
  } catch {
    mounted = false;
  }
});

afterAll(() => {
  if (mounted) execFileSync('umount', [mountPoint], { stdio: 'pipe' });
  work.cleanup();
});

const batch = (b: number): DataRecord[] =>
  Array.from({ length: 1000 }, (_, i) => ({ kind: 'entity', op: 'put', id: `e${b}-${i}`, attributes: { pad: 'x'.repeat(200) } }));

describe('a full disk', () => {
  it('refuses the write with StoreFullError and keeps the store consistent and usable', async (ctx) => {
    if (!mounted) ctx.skip();
    const dir = join(mountPoint, 'store');
    const store = AttributeStore.open(dir);
    let lastRevision = 0;
    let error: unknown;
    try {
      for (let b = 0; b < 50; b++) lastRevision = (await store.write(batch(b))).revision;
    } catch (err) {
      error = err;
    }
    try {
      expect(error).toBeInstanceOf(StoreFullError);
      expect((error as Error).message).toMatch(/is full .*nothing of this write was stored/);
      expect(lastRevision).toBeGreaterThan(0);
      expect(store.revision()).toBe(lastRevision);
      expect(store.stats().entities).toBe(lastRevision * 1000);
      expect(store.getAttributes('e0-0')).toEqual({ pad: 'x'.repeat(200) });
      // Deleting frees pages for reuse: the store keeps taking writes that fit.
      expect((await store.write([{ kind: 'entity', op: 'delete', id: 'e0-1' }])).revision).toBe(lastRevision + 1);
    } finally {
      await store.close();
    }
    const reopened = AttributeStore.open(dir, { readOnly: true });
    try {
      expect(reopened.revision()).toBe(lastRevision + 1);
      expect(reopened.getAttributes('e0-1')).toBeUndefined();
    } finally {
      await reopened.close();
    }
  });
});
