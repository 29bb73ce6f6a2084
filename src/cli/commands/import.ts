/**
 * `charter import --data DIR FILE...`: load NDJSON attribute data into an LMDB store, one
 * transaction per batch. A malformed line stops the import with `file:line: reason`; batches
 * committed before it stay (each is a revision of its own), nothing of its own batch is written.
 */
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { AttributeStore, DEFAULT_BATCH_SIZE, ImportError, importNdjson, type ImportProgress } from '../../store/index.js';

const USAGE = `Usage: charter import --data DIR [options] FILE...

Loads NDJSON attribute data (one {"kind":"entity",...} or {"kind":"relation",...} object per
line; "op":"delete" removes) into the LMDB store in DIR, creating it if needed. FILE may be
'-' for standard input. Each batch is applied atomically; a malformed line stops the import
with file:line and leaves the batches committed before it in place.

Options:
  --data DIR         the store directory (required)
  --batch-size N     lines per transaction (default ${DEFAULT_BATCH_SIZE})
  --quiet            no progress bar and no summary
  -h, --help         show this help
`;

function fileSize(name: string): number | undefined {
  if (name === '-') return undefined;
  try {
    const st = statSync(name);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

/** A bar over the bytes of all files when their sizes are known, else a running line count. */
function createProgress(sources: string[]): { update: (p: ImportProgress) => void; stop: () => void } {
  const sizes = sources.map(fileSize);
  const known = sizes.every((s) => s !== undefined);
  const total = known ? sizes.reduce<number>((a, s) => a + (s ?? 0), 0) : 0;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: known
        ? 'importing [{bar}] {percentage}% | {lines} lines | {rate} lines/s | eta {eta_formatted}'
        : 'importing {lines} lines | {rate} lines/s',
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = performance.now();
  bar.start(Math.max(total, 1), 0, { lines: 0, rate: 0 });
  // Bytes of the sources already finished, so the bar spans all files.
  let doneBytes = 0;
  let current = sources[0];
  let index = 0;
  return {
    update(p) {
      while (p.source !== current && index < sources.length - 1) {
        doneBytes += sizes[index] ?? 0;
        index++;
        current = sources[index];
      }
      const rate = Math.round(p.lines / Math.max((performance.now() - started) / 1000, 1e-3));
      bar.update(known ? Math.min(doneBytes + p.bytes, total) : 0, { lines: p.lines, rate });
    },
    stop() {
      bar.stop();
    },
  };
}

export async function run(args: string[]): Promise<number> {
  let values: { data?: string; 'batch-size'?: string; quiet?: boolean; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        data: { type: 'string' },
        'batch-size': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    values = parsed.values;
    files = parsed.positionals;
  } catch (err) {
    process.stderr.write(`charter import: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.data || files.length === 0) {
    process.stderr.write(`charter import: ${!values.data ? '--data DIR is required' : 'no FILE given'}\n\n${USAGE}`);
    return 2;
  }
  const batchSize = values['batch-size'] === undefined ? DEFAULT_BATCH_SIZE : Number(values['batch-size']);
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    process.stderr.write(`charter import: --batch-size must be a positive integer\n`);
    return 2;
  }

  let store: AttributeStore;
  try {
    store = AttributeStore.open(values.data);
  } catch (err) {
    process.stderr.write(`charter import: cannot open the store at ${values.data}: ${(err as Error).message}\n`);
    return 1;
  }
  const progress = !values.quiet && process.stderr.isTTY ? createProgress(files) : undefined;
  try {
    const summary = await importNdjson(store, files, { batchSize, onProgress: progress?.update });
    progress?.stop();
    if (!values.quiet) {
      process.stdout.write(
        `imported ${summary.entities} entities, ${summary.relations} relations, ${summary.deletes} deletes ` +
          `in ${summary.seconds.toFixed(2)} s (${Math.round(summary.linesPerSecond)} lines/s); ` +
          `store revision ${summary.revision}\n`,
      );
    }
    return 0;
  } catch (err) {
    progress?.stop();
    if (err instanceof ImportError) {
      process.stderr.write(`${err.message}\n`);
      process.stderr.write(
        `charter import: stopped; nothing of the failing batch was written, earlier batches are committed ` +
          `(store revision ${store.revision()})\n`,
      );
    } else {
      process.stderr.write(`charter import: ${(err as Error).message}\n`);
    }
    return 1;
  } finally {
    await store.close();
  }
}
