/**
 * bench:load — the transports under load, in one run, interleaved rounds:
 *   - Authorize: Charter vs the bare grpc-js echo baseline (same proto, constant answer);
 *   - through the sidecar: `charter sidecar` (its own process, answering from its decision
 *     cache, asking Charter on a miss) for the same request;
 *   - BatchAuthorize of BATCH requests: Charter vs echo, in decisions per second.
 * One call at a time gives p50/p99 (a real histogram); 64 in flight gives throughput.
 *
 *   npm run bench:load            node bench/load.mjs --quick
 *
 * Writes bench/results/load.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compareInterleaved } from './lib/load.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { ROOT } from './lib/payments.mjs';
import { round } from './lib/stats.mjs';
import { AUTHORIZE_REQUEST, authorizationClient, batchRequest, sidecarBuilt, startCharter, startEcho, startSidecar } from './lib/targets.mjs';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, batch: { type: 'string', default: '100' } } });
const quick = values.quick;
const BATCH = Number(values.batch);
const log = (msg) => process.stdout.write(`${msg}\n`);
const started = Date.now();
log(`bench:load on ${machineLine()}`);

const result = { machine: machineInfo(), date: new Date().toISOString(), batch: BATCH, notes: [] };
let echo;
let charter;
let sidecar;
const clients = [];
try {
  [echo, charter] = await Promise.all([startEcho(), startCharter()]);
  result.charter = charter.variant;
  if (sidecarBuilt()) sidecar = await startSidecar(charter.port);
  else result.notes.push('sidecar not built: not measured');
  log(`  echo pid ${echo.pid}, charter pid ${charter.pid}${sidecar ? `, sidecar pid ${sidecar.pid}` : ''}`);
  const e = await authorizationClient(echo.port);
  const c = await authorizationClient(charter.port);
  clients.push(e, c);
  const targets = [
    { name: 'echo', call: e.authorize, request: AUTHORIZE_REQUEST, pid: echo.pid },
    { name: 'authorize', call: c.authorize, request: AUTHORIZE_REQUEST, pid: charter.pid },
  ];
  if (sidecar) {
    const s = await authorizationClient(sidecar.port);
    clients.push(s);
    const a = await s.authorize(AUTHORIZE_REQUEST);
    if (a.decision !== 'DECISION_ALLOW') throw new Error(`sidecar answered ${a.decision}`);
    targets.push({ name: 'sidecar', call: s.authorize, request: AUTHORIZE_REQUEST, pid: sidecar.pid });
  }
  const batch = batchRequest(BATCH);
  const b = await c.batch(batch);
  if (b.responses.length !== BATCH || b.responses.some((r) => r.decision !== 'DECISION_ALLOW')) throw new Error('BatchAuthorize fixture broken');
  targets.push({ name: 'echo_batch', call: e.batch, request: batch, callsPerRequest: BATCH, pid: echo.pid });
  targets.push({ name: 'batch', call: c.batch, request: batch, callsPerRequest: BATCH, pid: charter.pid });
  result.results = await compareInterleaved(targets, quick ? { rounds: 3, sequentialMs: 400, concurrentMs: 600, warmupMs: 1000, log } : { rounds: 5, sequentialMs: 1000, concurrentMs: 1500, warmupMs: 3000, log });
  const r = result.results;
  result.ratios = {
    authorize_p50_vs_echo: round(r.authorize.p50_us / r.echo.p50_us, 3),
    authorize_rps_vs_echo: round(r.authorize.rps / r.echo.rps, 3),
    batch_decisions_vs_authorize: round(r.batch.rps / r.authorize.rps, 2),
    batch_vs_echo_batch: round(r.batch.rps / r.echo_batch.rps, 3),
    ...(r.sidecar ? { sidecar_p50_vs_authorize: round(r.sidecar.p50_us / r.authorize.p50_us, 3) } : {}),
  };
  log(`  ratios: ${JSON.stringify(result.ratios)}`);
} finally {
  for (const x of clients) x.close();
  await Promise.all([sidecar?.stop(), echo?.stop(), charter?.stop()]);
}
result.seconds = round((Date.now() - started) / 1000, 1);
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'load.json'), JSON.stringify(result, null, 2) + '\n');
log(`wrote bench/results/load.json (${result.seconds} s)`);
