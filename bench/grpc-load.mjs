/**
 * bench:grpc — Charter's Authorize over gRPC against a bare grpc-js echo service, measured in
 * the same run, from the same client, in interleaved rounds (bench/lib/load.mjs):
 *   - Authorize p50 (one call at a time) vs echo p50            target ≤ 1.2×
 *   - Authorize throughput (64 in flight) vs echo throughput     target ≥ 0.8×
 *   - BatchAuthorize of 10: decisions/s vs single Authorize      target ≥ 3×
 * Each server runs in its own child process (one core each on a 2-core machine, the client on
 * the other). Charter runs as `charter serve` with its defaults: metrics, a decision log at
 * sample rate 1 (written to /dev/null, so its full cost is paid), the LMDB demo store.
 *
 *   npm run bench:grpc                     (builds first)
 *   node bench/grpc-load.mjs --rounds 3 --quick
 *
 * Writes bench/results/grpc-load.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { objectToStruct } from '../dist/server/struct.js';
import { jsonGrpcPort, startChild } from './lib/children.mjs';
import { clientConstructor } from './lib/echo-proto.mjs';
import { compareInterleaved, concurrent, makeClient, processCpuNs, unary, waitForReady } from './lib/load.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { READ_REQUEST, ROOT } from './lib/payments.mjs';
import { median, round } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    inflight: { type: 'string', default: '64' },
    quick: { type: 'boolean', default: false },
    'decision-log': { type: 'string', default: '/dev/null' },
  },
});
const rounds = Number(values.rounds);
const inflight = Number(values.inflight);
const quick = values.quick;
const log = (msg) => process.stdout.write(`${msg}\n`);

log(`bench:grpc on ${machineLine()}`);
const echo = await startChild('echo', process.execPath, [join(ROOT, 'bench/lib/echo-server.mjs')], { readyPort: jsonGrpcPort });
const charter = await startChild(
  'charter',
  process.execPath,
  [join(ROOT, 'bin/charter.js'), 'serve', '--grpc-port', '0', '--http-port=-1', '--decision-log', values['decision-log'], '--log-level', 'info'],
  { readyPort: jsonGrpcPort, env: { CHARTER_POLICIES: '', CHARTER_DATA: '' } },
);
log(`  echo pid ${echo.pid} port ${echo.port}; charter pid ${charter.pid} port ${charter.port}`);

const Authorization = clientConstructor('Authorization');
const echoClient = makeClient(Authorization, echo.port);
const charterClient = makeClient(Authorization, charter.port);
await Promise.all([waitForReady(echoClient), waitForReady(charterClient)]);

const request = { ...READ_REQUEST, context: objectToStruct(READ_REQUEST.context) };
const batch = { requests: Array.from({ length: 10 }, () => request) };

// The answer must be right before its speed means anything.
const check = await unary(charterClient, 'Authorize')(request);
if (check.decision !== 'DECISION_ALLOW') throw new Error(`charter answered ${check.decision} (${check.reason}) to the benchmark request`);
const checkBatch = await unary(charterClient, 'BatchAuthorize')(batch);
if (checkBatch.responses.length !== 10 || checkBatch.responses.some((r) => r.decision !== 'DECISION_ALLOW')) throw new Error('BatchAuthorize answered wrongly');

const results = await compareInterleaved(
  [
    { name: 'echo', call: unary(echoClient, 'Authorize'), request },
    { name: 'charter', call: unary(charterClient, 'Authorize'), request },
    { name: 'charter_batch10', call: unary(charterClient, 'BatchAuthorize'), request: batch, callsPerRequest: 10 },
  ],
  {
    rounds,
    inflight,
    sequentialMs: quick ? 500 : 1000,
    concurrentMs: quick ? 700 : 1500,
    warmupMs: quick ? 800 : 1500,
    log,
  },
);

// Server CPU per decision: CPU time the server process spent (all threads, from
// /proc/<pid>/task/*/schedstat, so waiting for a core on a busy machine does not count),
// divided by decisions answered. Much less sensitive to other load than latency and throughput.
const cpuMicros = (pid) => (processCpuNs(pid) ?? NaN) / 1000;
const cpuTargets = [
  { name: 'echo', pid: echo.pid, call: unary(echoClient, 'Authorize'), request, per: 1 },
  { name: 'charter', pid: charter.pid, call: unary(charterClient, 'Authorize'), request, per: 1 },
  { name: 'charter_batch10', pid: charter.pid, call: unary(charterClient, 'BatchAuthorize'), request: batch, per: 10 },
];
const cpuRounds = Object.fromEntries(cpuTargets.map((t) => [t.name, []]));
for (let r = 0; r < rounds; r++) {
  for (const t of r % 2 === 0 ? cpuTargets : [...cpuTargets].reverse()) {
    const before = cpuMicros(t.pid);
    const { calls } = await concurrent(t.call, t.request, { ms: quick ? 800 : 1500, inflight });
    cpuRounds[t.name].push((cpuMicros(t.pid) - before) / (calls * t.per));
  }
}
const cpu = Object.fromEntries(Object.entries(cpuRounds).map(([k, v]) => [k, round(median(v), 1)]));
log(`  server CPU per decision (median of ${rounds}): echo ${cpu.echo} µs, charter ${cpu.charter} µs, charter batch of 10 ${cpu.charter_batch10} µs`);

echoClient.close();
charterClient.close();
await Promise.all([echo.stop(), charter.stop()]);

const e = results.echo;
const c = results.charter;
const b = results.charter_batch10;
const ratios = {
  authorize_p50_vs_echo: round(c.p50_us / e.p50_us, 3),
  authorize_rps_vs_echo: round(c.rps / e.rps, 3),
  batch10_decisions_vs_single: round(b.rps / c.rps, 2),
  server_cpu_per_call_charter_vs_echo: round(cpu.charter / cpu.echo, 3),
};
const gates = [
  { name: 'authorize_p50_vs_echo', value: ratios.authorize_p50_vs_echo, limit: 1.2, direction: '<=' },
  { name: 'authorize_rps_vs_echo', value: ratios.authorize_rps_vs_echo, limit: 0.8, direction: '>=' },
  { name: 'batch10_decisions_vs_single', value: ratios.batch10_decisions_vs_single, limit: 3, direction: '>=' },
].map((g) => ({ ...g, status: (g.direction === '<=' ? g.value <= g.limit : g.value >= g.limit) ? 'pass' : 'fail' }));

log('');
log(`                    p50 µs   p99 µs   rps @${inflight} (decisions/s)`);
for (const [name, r] of Object.entries(results)) log(`  ${name.padEnd(16)} ${String(r.p50_us).padStart(7)}  ${String(r.p99_us).padStart(7)}  ${String(r.rps).padStart(9)}`);
log('');
for (const g of gates) log(`  ${g.status === 'pass' ? 'PASS' : 'FAIL'}  ${g.name}: ${g.value} ${g.direction} ${g.limit}`);

mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
const out = { ratios, gates, cpu_us_per_decision: cpu, results, settings: { rounds, inflight, quick }, machine: machineInfo(), date: new Date().toISOString() };
writeFileSync(join(ROOT, 'bench', 'results', 'grpc-load.json'), `${JSON.stringify(out, null, 2)}\n`);
log('wrote bench/results/grpc-load.json');
process.exitCode = gates.some((g) => g.status === 'fail') ? 1 : 0;
