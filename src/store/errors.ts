/** Failures of the store itself (as opposed to a bad record, see RecordError). */

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

/** LMDB reports a full map as MDB_MAP_FULL; the OS a full disk as ENOSPC. */
export function isStoreFull(err: unknown): boolean {
  const message = (err as Error)?.message ?? '';
  const code = (err as { code?: unknown })?.code;
  return (
    code === 'ENOSPC' ||
    code === -30792 ||
    /MDB_MAP_FULL|MDB_TXN_FULL|ENOSPC|No space left/i.test(message)
  );
}
