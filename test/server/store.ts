/** The real LMDB attribute store for the server suites, seeded through the NDJSON import. */
import { AttributeStore, importNdjson } from '../../src/store/index.js';
import type { ServerStore } from '../../src/server/store-types.js';

export async function openStore(dir: string): Promise<{ store: ServerStore; importFiles(files: string[]): Promise<void> }> {
  const store = AttributeStore.open(dir);
  return {
    store,
    async importFiles(files) {
      await importNdjson(store, files);
    },
  };
}
