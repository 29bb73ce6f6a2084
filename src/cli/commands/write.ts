/**
 * `charter write`: send NDJSON records to a running server's Admin API. Every file is parsed
 * first (nothing is sent if any line is malformed); then records go in batches, each applied
 * atomically, and the command returns only after the server has committed the last one.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  checkTarget,
  connect,
  connectionOptions,
  describeRpcError,
  unaryCall,
} from '../../server/grpc-client.js';
import type { WriteRecord } from '../../server/store-types.js';
import { RecordError, parseRecord } from '../../store/index.js';
import { objectToStruct, type StructMessage } from '../../server/struct.js';

const USAGE = `Usage: charter write --target HOST:PORT [options] FILE...

Sends NDJSON records (the import format) to a running server's Admin API and exits once the
server has committed them. Each batch is applied atomically; a malformed line anywhere stops
the command before anything is sent.

Options:
  --token TOKEN              Admin bearer token [CHARTER_ADMIN_TOKEN]
  --batch-size N             records per Write call (default 1000)
${CONNECTION_USAGE}
`;

interface RecordMessage {
  kind: string;
  op: string;
  id?: string;
  attributes?: StructMessage;
  object?: string;
  relation?: string;
  subject?: string;
}

export function toRecordMessage(r: WriteRecord): RecordMessage {
  const op = r.op === 'delete' ? 'OP_DELETE' : 'OP_PUT';
  if (r.kind === 'entity') {
    return r.op === 'put' ? { kind: 'KIND_ENTITY', op, id: r.id, attributes: objectToStruct(r.attributes) } : { kind: 'KIND_ENTITY', op, id: r.id };
  }
  return { kind: 'KIND_RELATION', op, object: r.object, relation: r.relation, subject: r.subject };
}

async function readRecords(file: string, errors: string[]): Promise<{ messages: RecordMessage[]; sizes: number[] }> {
  const messages: RecordMessage[] = [];
  const sizes: number[] = [];
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    let r: WriteRecord;
    try {
      // The store's own parser: a bad line gets the same words as in `charter import`.
      r = parseRecord(line, n);
    } catch (err) {
      const reason = err instanceof RecordError ? err.reason : (err as Error).message;
      if (errors.length < 50) errors.push(`${file}:${n}: ${reason}`);
      continue;
    }
    messages.push(toRecordMessage(r));
    sizes.push(line.length);
  }
  return { messages, sizes };
}

// Stay well under the server's 1 MiB message limit.
const MAX_BATCH_BYTES = 512 * 1024;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { ...CONNECTION_OPTIONS, token: { type: 'string' }, 'batch-size': { type: 'string' } },
    });
  } catch (err) {
    process.stderr.write(`charter write: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const conn = { ...connectionOptions(values, process.env), token: values.token ?? process.env.CHARTER_ADMIN_TOKEN };
  const problems: string[] = [];
  const targetProblem = checkTarget(conn.target);
  if (targetProblem) problems.push(targetProblem);
  if (positionals.length === 0) problems.push('give at least one NDJSON FILE');
  const batchSize = values['batch-size'] === undefined ? 1000 : Number(values['batch-size']);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) problems.push('--batch-size must be an integer from 1 to 10000');
  if (problems.length > 0) {
    process.stderr.write(`charter write: ${problems.join('\n')}\n`);
    return 2;
  }

  const errors: string[] = [];
  const files: { file: string; messages: RecordMessage[]; sizes: number[] }[] = [];
  for (const file of positionals) {
    try {
      files.push({ file, ...(await readRecords(file, errors)) });
    } catch (err) {
      errors.push(`${file}: ${(err as Error).message}`);
    }
  }
  if (errors.length > 0) {
    process.stderr.write(`${errors.join('\n')}\ncharter write: nothing was sent\n`);
    return 1;
  }

  let clients;
  try {
    clients = connect(conn);
  } catch (err) {
    process.stderr.write(`charter write: ${(err as Error).message}\n`);
    return 2;
  }
  let total = 0;
  let revision = 0;
  try {
    for (const { file, messages, sizes } of files) {
      let applied = 0;
      for (let start = 0; start < messages.length; ) {
        let end = start;
        let bytes = 0;
        while (end < messages.length && end - start < batchSize && (end === start || bytes + sizes[end] < MAX_BATCH_BYTES)) {
          bytes += sizes[end];
          end++;
        }
        const res = await unaryCall<{ attributeRevision: number; applied: number }>(
          clients.admin,
          'Write',
          { records: messages.slice(start, end) },
          clients.metadata(),
          60_000,
        );
        applied += res.applied;
        revision = res.attributeRevision;
        start = end;
      }
      total += applied;
      process.stdout.write(`${file}: ${messages.length} records committed (${applied} applied), attribute revision ${revision}\n`);
    }
    process.stdout.write(`${total} records applied; attribute revision ${revision}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`charter write: ${describeRpcError(err, conn.target)}\n`);
    if (total > 0) process.stderr.write(`charter write: earlier batches (${total} records) were committed\n`);
    return 1;
  } finally {
    clients.close();
  }
}
