/**
 * What the server needs from the attribute store, structurally (src/store's AttributeStore
 * provides it). Kept here so the transport states its own needs.
 */
import type { ChangeFeed, DecisionStore, TupleKey } from '../pdp/index.js';

/** One record, as in the NDJSON import format. */
export type WriteRecord =
  | { kind: 'entity'; op: 'put'; id: string; attributes: Record<string, unknown> }
  | { kind: 'entity'; op: 'delete'; id: string }
  | { kind: 'relation'; op: 'put' | 'delete'; object: string; relation: string; subject: string };

export interface ServerStore extends DecisionStore, ChangeFeed {
  write(records: WriteRecord[]): Promise<{ revision: number; applied: number }>;
  tuplesOfObject(id: string): Iterable<TupleKey>;
  tuplesOfSubject(id: string): Iterable<TupleKey>;
  close(): unknown;
}
