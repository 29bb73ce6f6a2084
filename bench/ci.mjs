/**
 * bench:ci — the quick benchmark gate (well under 3 minutes on 2 cores). Every gate is a ratio
 * of two things measured in this run, in interleaved rounds, as medians: the machine's speed
 * and most of its noise cancel out; absolute numbers are reported, never gated.
 *
 * Writes bench/results/ci.json ({"metrics": {...}, "gates": [...], "missing": [...]}), prints
 * every gate (value, limit, pass/fail) and exits 1 if a gate fails. A component that is not
 * built is reported as missing (its metrics absent, its gate "missing"), never invented;
 * BENCH_CI_STRICT=1 turns a missing gate into a failure.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { warmClient, clientBuilt } from './lib/client-hit.mjs';
import { decisionCases, lruFloorCase } from './lib/inprocess.mjs';
import { compareInterleaved } from './lib/load.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { ROOT } from './lib/payments.mjs';
import { median, round } from './lib/stats.mjs';
import { AUTHORIZE_REQUEST, authorizationClient, serveBuilt, startCharter, startEcho, storeBuilt } from './lib/targets.mjs';
import { measureInterleaved, sinkValue } from './lib/timing.mjs';

const started = Date.now();
const metrics = {};
const ratios = {};
const notes = [];
const log = (msg) => process.stdout.write(`${msg}\n`);
const quick = process.env.BENCH_QUICK === '1'; // shorter rounds while developing

log(`bench:ci on ${machineLine()}`);

// Servers first (child processes), so the client SDK has a server for its first answer.
let echo;
let charter;
let serverError;
try {
  [echo, charter] = await Promise.all([startEcho(), startCharter()]);
  log(`  echo pid ${echo.pid} port ${echo.port}; charter pid ${charter.pid} port ${charter.port}: ${charter.variant}`);
  notes.push(`Authorize measured against: ${charter.variant}`);
} catch (err) {
  serverError = err;
  log(`  could not start the servers: ${err.message.split('\n')[0]}`);
  notes.push(`servers not started: ${err.message.split('\n')[0]}`);
  await Promise.all([echo?.stop(), charter?.stop()]);
  echo = charter = undefined;
}

try {
  const timing = quick ? { warmupMs: 200, roundMs: 20, rounds: 9 } : { warmupMs: 400, roundMs: 50, rounds: 21 };
  const perRound = (r, a, b) => median(r[a].rounds.map((x, i) => x / r[b].rounds[i]));
  const show = (r) => {
    for (const [k, v] of Object.entries(r)) log(`  ${k.padEnd(32)} ${v.ns.toFixed(1).padStart(10)} ns/op  (median of ${v.rounds.length} rounds, spread ${(v.spread * 100).toFixed(0)}%)`);
  };
  // Gate ratios are medians of per-round ratios: both sides of a round ran back to back and
  // shared the machine's state — more robust than a ratio of two medians.

  // 1a. The cache floor and the cached client check, in their own rounds, before the big
  //     rule set exists (its heap and the decisions' garbage must not colour a 50 ns case).
  let client;
  if (!clientBuilt()) notes.push('client SDK (dist/client) not built: client_cache_hit_ns missing');
  else if (!charter) notes.push('client SDK built but no server to answer its first check: client_cache_hit_ns missing');
  else client = await warmClient(charter.port);
  const cache = measureInterleaved({ lru_floor: lruFloorCase(), ...(client ? { client_cache_hit: client.hit } : {}) }, timing);
  show(cache);
  metrics.lru_floor_ns = round(cache.lru_floor.ns, 1);
  if (client) {
    metrics.client_cache_hit_ns = round(cache.client_cache_hit.ns, 1);
    ratios.client_cache_hit_vs_floor = perRound(cache, 'client_cache_hit', 'lru_floor');
    const stats = client.stats();
    if (stats.misses > 1 || stats.rpcs > 1) throw new Error(`client cache hit case did not hit: ${JSON.stringify(stats)}`);
    client.close();
  }

  // 1b. A decision with the bundled rules and with 10,000 more.
  const t = Date.now();
  const { cases, sets } = decisionCases();
  log(`  compiled ${sets.smallRules} and ${sets.largeRules} rules in ${Date.now() - t} ms`);
  metrics.rules_small = sets.smallRules;
  metrics.rules_large = sets.largeRules;
  const dec = measureInterleaved(cases, timing);
  show(dec);
  metrics.decide_inprocess_ns = round(dec.decide_inprocess.ns, 0);
  metrics.decide_inprocess_10k_policies_ns = round(dec.decide_inprocess_10k_policies.ns, 0);
  ratios.decide_10k_vs_bundled = perRound(dec, 'decide_inprocess_10k_policies', 'decide_inprocess');

  // 2. Over gRPC: echo vs Authorize, sequential p50/p99 and 64-in-flight throughput.
  if (echo && charter) {
    const e = await authorizationClient(echo.port);
    const c = await authorizationClient(charter.port);
    const answer = await c.authorize(AUTHORIZE_REQUEST);
    if (answer.decision !== 'DECISION_ALLOW') throw new Error(`Authorize fixture broken: ${JSON.stringify(answer)}`);
    log('  Authorize vs echo (interleaved rounds):');
    const load = await compareInterleaved(
      [
        { name: 'echo', call: e.authorize, request: AUTHORIZE_REQUEST, pid: echo.pid },
        { name: 'authorize', call: c.authorize, request: AUTHORIZE_REQUEST, pid: charter.pid },
      ],
      // Many short rounds: noise that lasts a moment lands on one side of few rounds.
      quick ? { rounds: 5, sequentialMs: 250, concurrentMs: 400, warmupMs: 800, log } : { rounds: 25, sequentialMs: 300, concurrentMs: 500, warmupMs: 2000, log },
    );
    metrics.echo_p50_us = load.echo.p50_us;
    metrics.echo_p99_us = load.echo.p99_us;
    metrics.authorize_p50_us = load.authorize.p50_us;
    metrics.authorize_p99_us = load.authorize.p99_us;
    metrics.echo_rps = load.echo.rps;
    metrics.authorize_rps = load.authorize.rps;
    metrics.inflight = load.authorize.inflight;
    if (load.echo.server_cpu_us_per_decision !== undefined) metrics.echo_server_cpu_us = load.echo.server_cpu_us_per_decision;
    if (load.authorize.server_cpu_us_per_decision !== undefined) metrics.authorize_server_cpu_us = load.authorize.server_cpu_us_per_decision;
    const rounds = load.authorize.rounds.map((a, i) => ({ a, e: load.echo.rounds[i] }));
    ratios.authorize_p50_vs_echo = median(rounds.map(({ a, e }) => a.p50_us / e.p50_us));
    ratios.authorize_rps_vs_echo = median(rounds.map(({ a, e }) => a.rps / e.rps));
    if (metrics.authorize_server_cpu_us !== undefined) log(`  server CPU per call (not gated; independent of machine load): echo ${metrics.echo_server_cpu_us} µs, Charter ${metrics.authorize_server_cpu_us} µs`);
    e.close();
    c.close();
  }
} finally {
  await Promise.all([echo?.stop(), charter?.stop()]);
}

// Gates -------------------------------------------------------------------------------------
const gates = [];
function gate(name, value, limit, direction, description) {
  if (!Number.isFinite(value)) {
    gates.push({ name, description, limit, direction, status: 'missing' });
    return;
  }
  const pass = direction === '<=' ? value <= limit : value >= limit;
  gates.push({ name, description, value: round(value, 3), limit, direction, status: pass ? 'pass' : 'fail' });
}
const m = metrics;
gate('client_cache_hit_vs_floor', ratios.client_cache_hit_vs_floor, 2, '<=', 'cached client check ≤ 2× a bare lru-cache get with a template-string key');
gate('10k_rules_vs_bundled', ratios.decide_10k_vs_bundled, 1.5, '<=', `in-process decision with ${m.rules_large} rules ≤ 1.5× with the bundled ${m.rules_small}`);
gate('authorize_p50_vs_echo', ratios.authorize_p50_vs_echo, 1.3, '<=', 'Authorize p50 ≤ 1.3× bare grpc-js echo p50 (sequential)');
gate('authorize_rps_vs_echo', ratios.authorize_rps_vs_echo, 0.7, '>=', `Authorize throughput ≥ 0.7× echo (${m.inflight ?? 64} in flight)`);

const REQUIRED = ['lru_floor_ns', 'client_cache_hit_ns', 'decide_inprocess_ns', 'decide_inprocess_10k_policies_ns', 'echo_p50_us', 'authorize_p50_us', 'authorize_p99_us', 'echo_rps', 'authorize_rps'];
const missing = REQUIRED.filter((k) => metrics[k] === undefined);

log('');
log('gates (median over rounds of the per-round ratio; both sides measured back to back in each round):');
for (const g of gates) {
  if (g.status === 'missing') log(`  MISSING ${g.name}: ${g.description} — not measured`);
  else log(`  ${g.status === 'pass' ? 'PASS   ' : 'FAIL   '} ${g.name}: ${g.value} ${g.direction} ${g.limit}  (${g.description})`);
}
if (missing.length) log(`missing metrics (component not available): ${missing.join(', ')}`);
for (const n of notes) log(`note: ${n}`);

const out = { metrics, ratios: Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, round(v, 3)])), gates, missing, notes, machine: machineInfo(), seconds: round((Date.now() - started) / 1000, 1), date: new Date().toISOString(), sink: sinkValue() };
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'ci.json'), JSON.stringify(out, null, 2) + '\n');
log(`wrote bench/results/ci.json (${out.seconds} s)`);
// A server that is built but does not start is a failure, not a missing component.
const brokenServer = serverError !== undefined && serveBuilt() && storeBuilt();
if (brokenServer) log(`FAIL    the built Charter server did not start:\n${serverError.message}`);
const failed = brokenServer || gates.some((g) => g.status === 'fail') || (process.env.BENCH_CI_STRICT === '1' && missing.length > 0);
process.exit(failed ? 1 : 0);
