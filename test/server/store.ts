// TEMPORARY in-memory stand-in until src/store lands; replaced by the real LMDB store.
import { readFileSync } from 'node:fs';
import { MemorySources } from '../../src/policy/index.js';
import type { ServerStore, WriteRecord } from '../../src/server/store-types.js';

class MemStore extends MemorySources implements ServerStore {
  rev = 0;
  changes: { rev: number; entityIds: string[]; tuples: { object: string; relation: string; subject: string }[] }[] = [];
  tuples: { object: string; relation: string; subject: string }[] = [];
  revision() {
    return this.rev;
  }
  async write(records: WriteRecord[]) {
    const entityIds: string[] = [];
    const tuples: { object: string; relation: string; subject: string }[] = [];
    for (const r of records) {
      this.applyRecord(r as unknown as Record<string, unknown>);
      if (r.kind === 'entity') entityIds.push(r.id);
      else {
        tuples.push({ object: r.object, relation: r.relation, subject: r.subject });
        if (r.op === 'put') this.tuples.push({ object: r.object, relation: r.relation, subject: r.subject });
        else this.tuples = this.tuples.filter((t) => !(t.object === r.object && t.relation === r.relation && t.subject === r.subject));
      }
    }
    this.rev++;
    this.changes.push({ rev: this.rev, entityIds, tuples });
    return { revision: this.rev, applied: records.length };
  }
  changesSince(from: number) {
    const after = this.changes.filter((c) => c.rev > from);
    return { fromRevision: from, toRevision: this.rev, entityIds: after.flatMap((c) => c.entityIds), tuples: after.flatMap((c) => c.tuples) };
  }
  tuplesOfObject(id: string) {
    return this.tuples.filter((t) => t.object === id);
  }
  tuplesOfSubject(id: string) {
    return this.tuples.filter((t) => t.subject === id);
  }
  close() {}
}

export async function openStore(_dir: string): Promise<{ store: ServerStore; importFiles(files: string[]): Promise<void> }> {
  const store = new MemStore();
  return {
    store,
    async importFiles(files) {
      for (const f of files) {
        const recs = readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => ({ op: 'put', ...JSON.parse(l) }) as WriteRecord);
        await store.write(recs);
      }
    },
  };
}
