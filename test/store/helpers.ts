import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttributeStore, type StoreOptions } from '../../src/store/index.js';

/** A fresh store in its own temp dir; `cleanup` closes it and removes the dir. */
export function tempStore(options?: StoreOptions): { store: AttributeStore; dir: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'charter-store-'));
  const store = AttributeStore.open(join(dir, 'data'), options);
  return {
    store,
    dir,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'charter-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
