/** Failures of the store itself (as opposed to a bad record, see RecordError). */
import { statfsSync } from 'node:fs';

/** The LMDB map or the disk is full; the transaction was aborted, nothing of it is stored. */
export class StoreFullError extends Error {
  constructor(dir: string, cause: unknown) {
    super(
      `attribute store at ${dir} is full (${(cause as Error)?.message ?? String(cause)}); ` +
        'nothing of this write was stored. Free disk space or raise mapSize, then retry.',
      { cause },
    );
    this.name = 'StoreFullError';
  }
}

/** A write was attempted on a store opened with `readOnly: true`. */
export class ReadOnlyStoreError extends Error {
  constructor(dir: string) {
    super(`attribute store at ${dir} is open read-only`);
    this.name = 'ReadOnlyStoreError';
  }
}

/** Below this much free space an I/O error during a write is taken for a full disk. */
const LOW_SPACE_BYTES = 16 * 2 ** 20;

/**
 * LMDB reports a full map as MDB_MAP_FULL. A full disk reaches lmdb-js as a bare EIO
 * ("Input/output error", code 5) when growing the file fails, so an I/O error on a filesystem
 * that has (almost) no space left counts as full too.
 */
export function isStoreFull(err: unknown, dir: string): boolean {
  const message = (err as Error)?.message ?? '';
  const code = (err as { code?: unknown })?.code;
  if (code === 'ENOSPC' || code === -30792 || /MDB_MAP_FULL|MDB_TXN_FULL|ENOSPC|No space left/i.test(message)) {
    return true;
  }
  if (code === 5 || code === 'EIO' || /Input\/output error/.test(message)) {
    try {
      const fs = statfsSync(dir);
      return fs.bavail * fs.bsize < LOW_SPACE_BYTES;
    } catch {
      return false;
    }
  }
  return false;
}
