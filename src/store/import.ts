/**
 * NDJSON import: lines are parsed and validated a batch at a time, and each batch is written in
 * one transaction. A bad line aborts the import before its batch is written, so the store holds
 * exactly the batches committed before it (each a revision of its own).
 */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { RecordError, parseRecord, type DataRecord } from './records.js';

export const DEFAULT_BATCH_SIZE = 10_000;

export interface ImportProgress {
  /** Current source ('-' for stdin). */
  source: string;
  lines: number;
  /** Bytes read of the current source so far (for a progress bar over its size). */
  bytes: number;
  revision: number;
}

export interface ImportOptions {
  batchSize?: number;
  /** Called after every committed batch and at the end. */
  onProgress?: (progress: ImportProgress) => void;
  /** Where '-' reads from (default process.stdin). */
  stdin?: Readable;
}

export interface ImportSummary {
  lines: number;
  entities: number;
  relations: number;
  deletes: number;
  batches: number;
  revision: number;
  seconds: number;
  linesPerSecond: number;
}

/** A bad line, named by its source. Nothing of its batch was written. */
export class ImportError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${source}:${line}: ${reason}`);
    this.name = 'ImportError';
  }
}

/** The store surface the import needs. */
export interface ImportTarget {
  write(records: DataRecord[]): Promise<{ revision: number; applied: number }>;
  revision(): number;
}

export async function importNdjson(
  store: ImportTarget,
  sources: readonly string[],
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new RangeError(`batchSize must be a positive integer`);
  const started = performance.now();
  const summary: ImportSummary = {
    lines: 0,
    entities: 0,
    relations: 0,
    deletes: 0,
    batches: 0,
    revision: store.revision(),
    seconds: 0,
    linesPerSecond: 0,
  };
  let batch: DataRecord[] = [];
  let source = '';
  let bytes = 0;

  const report = (): void => {
    options.onProgress?.({ source, lines: summary.lines, bytes, revision: summary.revision });
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const { revision } = await store.write(batch);
    for (const r of batch) {
      if (r.op === 'delete') summary.deletes++;
      else if (r.kind === 'entity') summary.entities++;
      else summary.relations++;
    }
    summary.revision = revision;
    summary.batches++;
    batch = [];
    report();
  };

  // Every file is checked before the first batch, so a typo in the last name does not leave a
  // half-done import behind.
  for (const name of sources) {
    if (name === '-') continue;
    let st;
    try {
      st = statSync(name);
    } catch (err) {
      throw new Error(`${name}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    if (st.isDirectory()) throw new Error(`${name}: is a directory`);
  }

  for (const name of sources) {
    source = name;
    bytes = 0;
    const input: Readable = name === '-' ? (options.stdin ?? process.stdin) : createReadStream(name);
    // Counts bytes as they are read so a progress bar can show how far into the file we are.
    input.on('data', (chunk: Buffer | string) => {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    });
    const lines = createInterface({ input, crlfDelay: Infinity });
    let lineNumber = 0;
    try {
      for await (const line of lines) {
        lineNumber++;
        // Blank lines (a trailing newline, spacing between sections) carry no record.
        if (line.trim().length === 0) continue;
        try {
          batch.push(parseRecord(line, lineNumber));
        } catch (err) {
          if (err instanceof RecordError) throw new ImportError(name, lineNumber, err.reason);
          throw err;
        }
        summary.lines++;
        if (batch.length >= batchSize) await flush();
      }
    } finally {
      lines.close();
      if (name !== '-') input.destroy();
    }
  }
  await flush();
  summary.seconds = (performance.now() - started) / 1000;
  summary.linesPerSecond = summary.seconds > 0 ? summary.lines / summary.seconds : summary.lines;
  report();
  return summary;
}
