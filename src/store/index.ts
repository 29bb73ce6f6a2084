/**
 * The attribute store (policy information point): entities, relationship tuples, revisions,
 * the change log, and NDJSON import. Everything else in this folder is private to it.
 */
export { AttributeStore, type StoreOptions, type WriteResult, type CommitListener } from './attribute-store.js';
export type { ChangeSet } from './changelog.js';
export { createDecisionMemo, type DecisionSource, type MemoSource } from './decision-memo.js';
export { StoreFullError, ReadOnlyStoreError } from './errors.js';
export {
  importNdjson,
  ImportError,
  DEFAULT_BATCH_SIZE,
  type ImportOptions,
  type ImportProgress,
  type ImportSummary,
  type ImportTarget,
} from './import.js';
export {
  parseRecord,
  RecordError,
  MAX_ID_BYTES,
  MAX_RELATION_BYTES,
  type Attributes,
  type DataRecord,
  type Tuple,
} from './records.js';
