import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { AttributeStore, ImportError, importNdjson, parseRecord, RecordError } from '../../src/store/index.js';
import { run } from '../../src/cli/commands/import.js';
import { existsOr } from '../server/helpers.js';
import { tempDir, tempStore } from './helpers.js';

// shared/ sits beside the repository; the bundled copy of the same data when it does not.
const PAYMENTS = existsOr(
  fileURLToPath(new URL('../../../shared/scenarios/payments/data.ndjson', import.meta.url)),
  fileURLToPath(new URL('../../policies/payments/data.ndjson', import.meta.url)),
);

const line = (o: unknown): string => JSON.stringify(o);
const entityLine = (id: string, attributes: Record<string, unknown> = {}): string => line({ kind: 'entity', id, attributes });

describe('parseRecord', () => {
  it('reads both kinds, with op defaulting to put', () => {
    expect(parseRecord(entityLine('a', { x: 1 }), 1)).toEqual({ kind: 'entity', op: 'put', id: 'a', attributes: { x: 1 } });
    expect(parseRecord(line({ kind: 'entity', op: 'delete', id: 'a' }), 1)).toEqual({ kind: 'entity', op: 'delete', id: 'a' });
    expect(parseRecord(line({ kind: 'relation', object: 'o', relation: 'r', subject: 's', extra: 1 }), 1)).toEqual({
      kind: 'relation',
      op: 'put',
      object: 'o',
      relation: 'r',
      subject: 's',
    });
    expect(parseRecord(line({ kind: 'relation', op: 'delete', object: 'o', relation: 'r', subject: 's' }), 1).op).toBe('delete');
  });

  it.each([
    ['{"kind":', /invalid JSON/],
    ['[1,2]', /must be a JSON object, got an array/],
    ['"entity"', /must be a JSON object, got string/],
    [line({ kind: 'thing', id: 'a' }), /unknown kind "thing"/],
    [line({ id: 'a', attributes: {} }), /unknown kind undefined/],
    [line({ kind: 'entity', attributes: {} }), /missing "id"/],
    [line({ kind: 'entity', id: '', attributes: {} }), /"id" must not be empty/],
    [line({ kind: 'entity', id: 5, attributes: {} }), /"id" must be a string, got number/],
    [line({ kind: 'entity', id: 'a' }), /"attributes" must be an object, got undefined/],
    [line({ kind: 'entity', id: 'a', attributes: null }), /"attributes" must be an object, got null/],
    [line({ kind: 'entity', id: 'a', attributes: [] }), /"attributes" must be an object, got an array/],
    [line({ kind: 'entity', id: 'a', op: 'remove', attributes: {} }), /unknown op "remove"/],
    [line({ kind: 'relation', relation: 'r', subject: 's' }), /missing "object"/],
    [line({ kind: 'relation', object: 'o', subject: 's' }), /missing "relation"/],
    [line({ kind: 'relation', object: 'o', relation: 'r', subject: '' }), /"subject" must not be empty/],
    [line({ kind: 'relation', object: 'o', relation: 'r', subject: null }), /"subject" must be a string, got null/],
  ])('rejects %s', (text, reason) => {
    let error: unknown;
    try {
      parseRecord(text, 42);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RecordError);
    expect((error as RecordError).line).toBe(42);
    expect((error as RecordError).reason).toMatch(reason);
  });
});

describe('importNdjson', () => {
  let store: AttributeStore;
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(() => {
    ({ store, dir, cleanup } = tempStore());
  });
  afterEach(async () => cleanup());

  function file(name: string, lines: string[]): string {
    const path = join(dir, name);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  }

  it('imports the payments scenario', async () => {
    const summary = await importNdjson(store, [PAYMENTS]);
    expect(summary).toMatchObject({ entities: 21, relations: 7, deletes: 0, lines: 28, batches: 1, revision: 1 });
    expect(store.getAttributes('spiffe://personnel.acme.test/eid/1008')).toMatchObject({ suspended: true, region: 'apac' });
    expect(store.related('uon://kafka/topic/payments.settled', 'owner', 'spiffe://personnel.acme.test/eid/1007')).toBe(true);
    expect(store.related('uon://kafka/topic/payments.settled', 'owner', 'spiffe://personnel.acme.test/eid/1002')).toBe(false);
    expect(store.hasTuple('uon://kafka/topic/ledger.entries', 'develop', 'spiffe://personnel.acme.test/eid/1005')).toBe(true);
  });

  it('applies deletes and replaces entities, skipping blank lines', async () => {
    const path = file('data.ndjson', [
      entityLine('a', { v: 1, old: true }),
      line({ kind: 'relation', object: 'o', relation: 'r', subject: 'a' }),
      '',
      entityLine('a', { v: 2 }),
      entityLine('b'),
      '   ',
      line({ kind: 'entity', op: 'delete', id: 'b' }),
      line({ kind: 'relation', op: 'delete', object: 'o', relation: 'r', subject: 'a' }),
    ]);
    const summary = await importNdjson(store, [path]);
    expect(summary).toMatchObject({ entities: 3, relations: 1, deletes: 2, lines: 6 });
    expect(store.getAttributes('a')).toEqual({ v: 2 });
    expect(store.getAttributes('b')).toBeUndefined();
    expect(store.hasTuple('o', 'r', 'a')).toBe(false);
  });

  it('commits one revision per batch and reports progress', async () => {
    const path = file('data.ndjson', Array.from({ length: 25 }, (_, i) => entityLine(`e${i}`)));
    const progress: number[] = [];
    const summary = await importNdjson(store, [path], { batchSize: 10, onProgress: (p) => progress.push(p.lines) });
    expect(summary).toMatchObject({ batches: 3, revision: 3, entities: 25 });
    expect(progress).toEqual([10, 20, 25, 25]);
    expect(store.revision()).toBe(3);
  });

  it('a bad line names file and line; its batch is not applied, earlier batches are', async () => {
    const lines = Array.from({ length: 25 }, (_, i) => entityLine(`e${i + 1}`));
    lines[22] = line({ kind: 'entity', id: '', attributes: {} }); // line 23, in the third batch
    const path = file('bad.ndjson', lines);
    const attempt = importNdjson(store, [path], { batchSize: 10 });
    await expect(attempt).rejects.toThrow(ImportError);
    await attempt.catch((err: ImportError) => {
      expect(err.message).toBe(`${path}:23: "id" must not be empty`);
      expect(err.source).toBe(path);
      expect(err.line).toBe(23);
    });
    expect(store.revision()).toBe(2);
    expect(store.getAttributes('e20')).toEqual({});
    expect(store.getAttributes('e21')).toBeUndefined();
    expect(store.getAttributes('e22')).toBeUndefined();
  });

  it('counts lines per file across several files, blank lines included', async () => {
    const first = file('one.ndjson', [entityLine('a'), entityLine('b')]);
    const second = file('two.ndjson', [entityLine('c'), '', '{not json']);
    await expect(importNdjson(store, [first, second])).rejects.toThrow(`${second}:3: invalid JSON`);
    expect(store.revision()).toBe(0);
  });

  it('checks that every file exists before writing anything', async () => {
    const first = file('one.ndjson', [entityLine('a')]);
    await expect(importNdjson(store, [first, join(dir, 'missing.ndjson')])).rejects.toThrow(/missing.ndjson: no such file/);
    expect(store.getAttributes('a')).toBeUndefined();
  });

  it("reads '-' from stdin", async () => {
    const stdin = Readable.from([entityLine('a', { x: 1 }) + '\n' + entityLine('b'), '\n']);
    const summary = await importNdjson(store, ['-'], { stdin });
    expect(summary.entities).toBe(2);
    expect(store.getAttributes('a')).toEqual({ x: 1 });
  });

  it('reports stdin errors as -:line', async () => {
    const stdin = Readable.from([entityLine('a') + '\n' + line({ kind: 'relation', object: 'o' }) + '\n']);
    await expect(importNdjson(store, ['-'], { stdin })).rejects.toThrow('-:2: missing "relation"');
  });
});

describe('charter import (command)', () => {
  let dir: string;
  let cleanup: () => void;
  let out: string;
  let err: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((err += String(chunk)), true));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    cleanup();
  });

  it('imports files into --data and prints a summary', async () => {
    const code = await run(['--data', join(dir, 'store'), PAYMENTS]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/^imported 21 entities, 7 relations, 0 deletes in [\d.]+ s \(\d+ lines\/s\); store revision 1\n$/);
    const store = AttributeStore.open(join(dir, 'store'), { readOnly: true });
    try {
      expect(store.stats()).toEqual({ entities: 21, tuples: 7, revision: 1 });
    } finally {
      await store.close();
    }
  });

  it('exits 1 with file:line on a malformed line', async () => {
    const path = join(dir, 'bad.ndjson');
    writeFileSync(path, entityLine('a') + '\n' + line({ kind: 'entity', id: 'b', attributes: 'x' }) + '\n');
    const code = await run(['--data', join(dir, 'store'), '--batch-size', '1', path]);
    expect(code).toBe(1);
    expect(err).toContain(`${path}:2: "attributes" must be an object, got string\n`);
    expect(err).toContain('store revision 1');
  });

  it('prints help, and usage errors exit 2', async () => {
    expect(await run(['--help'])).toBe(0);
    expect(out).toContain('Usage: charter import --data DIR');
    expect(await run([PAYMENTS])).toBe(2);
    expect(err).toContain('--data DIR is required');
    expect(await run(['--data', dir])).toBe(2);
    expect(await run(['--data', dir, '--batch-size', '0', PAYMENTS])).toBe(2);
    expect(await run(['--data', dir, '--bogus', PAYMENTS])).toBe(2);
  });
});
