/**
 * The store shared with other processes: `kill -9` in the middle of an import while this
 * process reads (the store must hold exactly the committed batches, open normally and accept
 * writes afterwards), and two imports writing at once. The imports run as real child processes
 * from a tsc build of src/store + the import command.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { symlinkSync, writeFileSync, createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { once } from 'node:events';
import { AttributeStore, importNdjson } from '../../src/store/index.js';
import { tempDir } from './helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BATCH = 2000;
const LINES = 400_000;

let work: { dir: string; cleanup: () => void };
let runner: string;
let data: string;

beforeAll(async () => {
  work = tempDir();
  const out = join(work.dir, 'build');
  execFileSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '--outDir', out, '--rootDir', join(ROOT, 'src'),
      '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022',
      '--strict', '--skipLibCheck', '--types', 'node',
      join(ROOT, 'src/cli/commands/import.ts'),
    ],
    { cwd: ROOT, stdio: 'pipe' },
  );
  // The build resolves `lmdb` & co. from the repository's node_modules.
  symlinkSync(join(ROOT, 'node_modules'), join(work.dir, 'node_modules'), 'dir');
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  runner = join(out, 'run-import.mjs');
  writeFileSync(runner, "import { run } from './cli/commands/import.js';\nprocess.exitCode = await run(process.argv.slice(2));\n");

  // Even lines are entities, odd lines tuples, so a half-applied batch would show in the counts.
  data = join(work.dir, 'big.ndjson');
  const stream = createWriteStream(data);
  for (let i = 0; i < LINES; i++) {
    const text =
      i % 2 === 0
        ? `{"kind":"entity","id":"spiffe://crash.test/eid/${i}","attributes":{"region":"emea","n":${i}}}\n`
        : `{"kind":"relation","object":"team:t${i % 97}","relation":"member","subject":"spiffe://crash.test/eid/${i - 1}"}\n`;
    if (!stream.write(text)) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}, 120_000);

afterAll(() => work?.cleanup());

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

describe('imports in other processes', () => {
  it('kill -9 mid-import leaves only whole batches; the store opens, reads and writes afterwards', async () => {
    const storeDir = join(work.dir, 'store');
    // Create the store first so a read-only reader can watch the import from this process.
    await AttributeStore.open(storeDir).close();
    const reader = AttributeStore.open(storeDir, { readOnly: true });
    const child = spawn(process.execPath, [runner, '--data', storeDir, '--batch-size', String(BATCH), '--quiet', data], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exit = exited(child);
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));

    // A reader in another process sees the revision grow while the import writes.
    const seen: number[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const r = reader.revision();
      if (seen.at(-1) !== r) seen.push(r);
      if (r >= 5) break;
      await new Promise((res) => setTimeout(res, 5));
    }
    child.kill('SIGKILL');
    const { signal } = await exit;
    await reader.close();
    expect(stderr).toBe('');
    expect(signal).toBe('SIGKILL');
    expect(seen.length).toBeGreaterThan(1);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));

    const store = AttributeStore.open(storeDir);
    try {
      const { entities, tuples, revision } = store.stats();
      expect(revision).toBeGreaterThanOrEqual(5);
      expect(revision).toBeLessThan(LINES / BATCH); // killed mid-import, not after it
      // Exactly the committed batches: every line of them, nothing after.
      expect(entities + tuples).toBe(revision * BATCH);
      const lastLine = revision * BATCH - 1;
      expect(store.getAttributes(`spiffe://crash.test/eid/${lastLine - 1}`)).toEqual({ region: 'emea', n: lastLine - 1 });
      expect(store.hasTuple(`team:t${lastLine % 97}`, 'member', `spiffe://crash.test/eid/${lastLine - 1}`)).toBe(true);
      expect(store.getAttributes(`spiffe://crash.test/eid/${lastLine + 1}`)).toBeUndefined();
      expect(store.changesSince(revision - 1)).toBeUndefined(); // bulk batches are logged as "flush all"

      // The store carries on: a write and a complete re-import succeed.
      expect((await store.write([{ kind: 'entity', op: 'put', id: 'after-crash', attributes: {} }])).revision).toBe(revision + 1);
      const summary = await importNdjson(store, [data], { batchSize: 50_000 });
      expect(summary.lines).toBe(LINES);
      expect(store.stats()).toMatchObject({ entities: LINES / 2 + 1, tuples: LINES / 2 });
    } finally {
      await store.close();
    }
  });

  it('two importing processes at once: every batch is its own revision, none lost', async () => {
    const storeDir = join(work.dir, 'two-writers');
    const files = [0, 1].map((w) => {
      const path = join(work.dir, `writer${w}.ndjson`);
      const lines = Array.from({ length: 20_000 }, (_, i) => `{"kind":"entity","id":"w${w}/e${i}","attributes":{"i":${i}}}`);
      writeFileSync(path, lines.join('\n') + '\n');
      return path;
    });
    const children = files.map((file) =>
      spawn(process.execPath, [runner, '--data', storeDir, '--batch-size', '1000', '--quiet', file], { stdio: 'ignore' }),
    );
    const results = await Promise.all(children.map(exited));
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const store = AttributeStore.open(storeDir, { readOnly: true });
    try {
      // Each process reads the revision inside the write lock, so 2 x 20 batches = 40 revisions.
      expect(store.stats()).toEqual({ entities: 40_000, tuples: 0, revision: 40 });
      expect(store.getAttributes('w0/e19999')).toEqual({ i: 19999 });
      expect(store.getAttributes('w1/e0')).toEqual({ i: 0 });
    } finally {
      await store.close();
    }
  });
});
