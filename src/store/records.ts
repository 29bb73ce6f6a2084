/**
 * The record model shared by `write()` and the NDJSON import, and the one place that decides
 * what a valid record is, so a bad line is rejected with the same words whichever way it came.
 */
export type Attributes = Record<string, unknown>;

export interface Tuple {
  object: string;
  relation: string;
  subject: string;
}

export type DataRecord =
  | { kind: 'entity'; op: 'put'; id: string; attributes: Attributes }
  | { kind: 'entity'; op: 'delete'; id: string }
  | { kind: 'relation'; op: 'put' | 'delete'; object: string; relation: string; subject: string };

/** Ids are LMDB keys (max 1978 bytes) and the dupSort values of the tuple indexes. */
export const MAX_ID_BYTES = 1024;
/** Keeps `object\0relation` under LMDB's key size limit even with the longest id. */
export const MAX_RELATION_BYTES = 256;

/** A record that cannot be stored; `line` is the 1-based line (import) or array position (write). */
export class RecordError extends Error {
  readonly line: number;
  readonly reason: string;

  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = 'RecordError';
    this.line = line;
    this.reason = reason;
  }
}

// Control characters are refused because NUL separates the parts of composite index keys and the
// rest only ever appear in ids by mistake (a stray newline or tab from a shell script).
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Why `value` cannot be the `field` of a record, or undefined when it can. */
export function checkName(field: string, value: unknown, maxBytes: number = MAX_ID_BYTES): string | undefined {
  if (value === undefined) return `missing "${field}"`;
  if (typeof value !== 'string') return `"${field}" must be a string, got ${describe(value)}`;
  if (value.length === 0) return `"${field}" must not be empty`;
  // Byte length only matters once the UTF-16 length could exceed the limit.
  if (value.length * 3 > maxBytes && Buffer.byteLength(value, 'utf8') > maxBytes) {
    return `"${field}" is longer than ${maxBytes} bytes`;
  }
  if (CONTROL_CHARS.test(value)) return `"${field}" must not contain control characters`;
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `record` is not a valid DataRecord, or undefined when it is (for records built in code). */
export function checkRecord(record: unknown): string | undefined {
  if (!isPlainObject(record)) return `a record must be an object, got ${describe(record)}`;
  return checkFields(record, record.op);
}

/** `op` apart, so a parsed line with the default op needs no copy. */
function checkFields(record: Record<string, unknown>, op: unknown): string | undefined {
  const kind = record.kind;
  if (op !== 'put' && op !== 'delete') return `unknown op ${JSON.stringify(op)} (expected "put" or "delete")`;
  if (kind === 'entity') {
    const bad = checkName('id', record.id);
    if (bad) return bad;
    if (op === 'put' && !isPlainObject(record.attributes)) {
      return `"attributes" must be an object, got ${describe(record.attributes)}`;
    }
    return undefined;
  }
  if (kind === 'relation') {
    return (
      checkName('object', record.object) ??
      checkName('relation', record.relation, MAX_RELATION_BYTES) ??
      checkName('subject', record.subject)
    );
  }
  return `unknown kind ${JSON.stringify(kind)} (expected "entity" or "relation")`;
}

/**
 * One NDJSON line → a record. `op` defaults to "put"; fields other than the ones of its kind are
 * ignored so that newer exports still load. Throws RecordError naming the line.
 */
export function parseRecord(line: string, lineNumber: number): DataRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new RecordError(lineNumber, `invalid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(value)) throw new RecordError(lineNumber, `a record must be a JSON object, got ${describe(value)}`);
  const op = value.op === undefined ? 'put' : value.op;
  const bad = checkFields(value, op);
  if (bad) throw new RecordError(lineNumber, bad);
  if (value.kind === 'entity') {
    return op === 'put'
      ? { kind: 'entity', op: 'put', id: value.id as string, attributes: value.attributes as Attributes }
      : { kind: 'entity', op: 'delete', id: value.id as string };
  }
  return {
    kind: 'relation',
    op: op as 'put' | 'delete',
    object: value.object as string,
    relation: value.relation as string,
    subject: value.subject as string,
  };
}
