/**
 * bench:grpc:workers — what `charter serve --workers N` buys on this machine: Authorize
 * throughput (64 in flight) of one process vs N worker processes sharing the port and the
 * LMDB environment, in interleaved rounds from the same client. On a 2-core machine the client
 * needs a core too, so the gain is bounded well below N×; the numbers say how much.
 *
 *   npm run bench:grpc:workers           node bench/grpc-workers.mjs --workers 2 --rounds 3
 *
 * Writes bench/results/grpc-workers.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { objectToStruct } from '../dist/server/struct.js';
import { jsonGrpcPort, startChild } from './lib/children.mjs';
import { clientConstructor } from './lib/echo-proto.mjs';
import { compareInterleaved, makeClient, unary, waitForReady } from './lib/load.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { READ_REQUEST, ROOT } from './lib/payments.mjs';
import { round } from './lib/stats.mjs';

const { values } = parseArgs({ options: { workers: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' }, inflight: { type: 'string', default: '64' } } });
const workers = Number(values.workers);
const rounds = Number(values.rounds);
const inflight = Number(values.inflight);
const log = (msg) => process.stdout.write(`${msg}\n`);
log(`bench:grpc:workers on ${machineLine()}`);

const serve = (n) =>
  startChild(
    `charter-${n}`,
    process.execPath,
    [join(ROOT, 'bin/charter.js'), 'serve', '--workers', String(n), '--grpc-port', '0', '--http-port=-1', '--decision-log', '/dev/null'],
    // With workers, the primary's "serving with N workers" line carries the shared port.
    { readyPort: (line) => (n === 1 || line.includes('workers') ? jsonGrpcPort(line) : 0), env: { CHARTER_POLICIES: '', CHARTER_DATA: '' } },
  );
const one = await serve(1);
const many = await serve(workers);
const Authorization = clientConstructor('Authorization');
// Several connections for the multi-worker server: the cluster balances connections, not calls.
const clientsOne = [makeClient(Authorization, one.port)];
const clientsMany = Array.from({ length: workers * 2 }, () => makeClient(Authorization, many.port));
await Promise.all([...clientsOne, ...clientsMany].map((c) => waitForReady(c)));
const request = { ...READ_REQUEST, context: objectToStruct(READ_REQUEST.context) };
const spread = (clients) => {
  const calls = clients.map((c) => unary(c, 'Authorize'));
  let i = 0;
  return (req) => calls[i++ % calls.length](req);
};
const results = await compareInterleaved(
  [
    { name: 'workers_1', call: spread(clientsOne), request },
    { name: `workers_${workers}`, call: spread(clientsMany), request },
  ],
  { rounds, inflight, sequentialMs: 400, concurrentMs: 1500, warmupMs: 1000, log },
);
for (const c of [...clientsOne, ...clientsMany]) c.close();
await Promise.all([one.stop(), many.stop()]);
const gain = round(results[`workers_${workers}`].rps / results.workers_1.rps, 2);
log(`\n  1 worker: ${results.workers_1.rps} calls/s; ${workers} workers: ${results[`workers_${workers}`].rps} calls/s; gain ${gain}×`);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'grpc-workers.json'), `${JSON.stringify({ gain, workers, results, machine: machineInfo(), date: new Date().toISOString() }, null, 2)}\n`);
log('wrote bench/results/grpc-workers.json');
