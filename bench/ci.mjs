/**
 * bench:ci — the quick benchmark gate (≤ 3 minutes on 2 cores). Every gate is a ratio of two
 * things measured in this run, in interleaved rounds, as medians: the machine's speed and its
 * noise cancel out, absolute numbers are reported but never gated.
 *
 * Writes bench/results/ci.json ({"metrics": {...}, "gates": [...], "missing": [...]}) and
 * exits 1 if a gate fails. A component that is not there yet is reported as missing (its
 * metric is absent and its gate is "missing"), never invented.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decisionCases, lruFloorCase } from './lib/inprocess.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { round } from './lib/stats.mjs';
import { measureInterleaved } from './lib/timing.mjs';
import { ROOT } from './lib/payments.mjs';

const started = Date.now();
const metrics = {};
const missing = [];
const notes = [];
const log = (msg) => process.stdout.write(`${msg}\n`);

log(`bench:ci on ${machineLine()}`);

// 1. In process: decision with the bundled rules vs with 10,000 more; cache floor.
{
  const t = Date.now();
  const { cases, sets } = decisionCases();
  log(`  compiled ${sets.smallRules} and ${sets.largeRules} rules in ${Date.now() - t} ms`);
  metrics.rules_small = sets.smallRules;
  metrics.rules_large = sets.largeRules;
  const r = measureInterleaved({ lru_floor: lruFloorCase(), ...cases }, { warmupMs: 400, roundMs: 50, rounds: 21 });
  metrics.lru_floor_ns = round(r.lru_floor.ns, 1);
  metrics.decide_inprocess_ns = round(r.decide_inprocess.ns, 0);
  metrics.decide_inprocess_10k_policies_ns = round(r.decide_inprocess_10k_policies.ns, 0);
  for (const [k, v] of Object.entries(r)) log(`  ${k.padEnd(32)} ${v.ns.toFixed(1).padStart(10)} ns/op  (median of ${v.rounds.length} rounds, spread ${(v.spread * 100).toFixed(0)}%)`);
}

// Gates -------------------------------------------------------------------------------------
const gates = [];
function gate(name, value, limit, direction, description) {
  if (value === undefined || limit === undefined || !Number.isFinite(value) || !Number.isFinite(limit)) {
    gates.push({ name, description, status: 'missing' });
    return;
  }
  const pass = direction === '<=' ? value <= limit : value >= limit;
  gates.push({ name, description, value: round(value, 3), limit: round(limit, 3), direction, status: pass ? 'pass' : 'fail' });
}
const m = metrics;
gate('client_cache_hit_vs_floor', m.client_cache_hit_ns / m.lru_floor_ns, 2, '<=', 'cached client check ≤ 2× bare lru-cache get');
gate('10k_rules_vs_bundled', m.decide_inprocess_10k_policies_ns / m.decide_inprocess_ns, 1.5, '<=', `decision with ${m.rules_large} rules ≤ 1.5× with ${m.rules_small}`);
gate('authorize_p50_vs_echo', m.authorize_p50_us / m.echo_p50_us, 1.3, '<=', 'Authorize p50 ≤ 1.3× echo p50 (sequential)');
gate('authorize_rps_vs_echo', m.authorize_rps / m.echo_rps, 0.7, '>=', 'Authorize throughput ≥ 0.7× echo (64 in flight)');

for (const k of ['lru_floor_ns', 'client_cache_hit_ns', 'decide_inprocess_ns', 'decide_inprocess_10k_policies_ns', 'echo_p50_us', 'authorize_p50_us', 'authorize_p99_us', 'echo_rps', 'authorize_rps']) {
  if (metrics[k] === undefined && !missing.includes(k)) missing.push(k);
}

log('');
log('gates (ratios measured in this run):');
for (const g of gates) {
  if (g.status === 'missing') log(`  MISSING ${g.name}: ${g.description} — not measured (component not available)`);
  else log(`  ${g.status === 'pass' ? 'PASS' : 'FAIL'}    ${g.name}: ${g.value} ${g.direction} ${g.limit}  (${g.description})`);
}
if (missing.length) log(`missing metrics: ${missing.join(', ')}`);

const out = { metrics, gates, missing, notes, machine: machineInfo(), seconds: round((Date.now() - started) / 1000, 1), date: new Date().toISOString() };
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'ci.json'), JSON.stringify(out, null, 2) + '\n');
log(`wrote bench/results/ci.json in ${out.seconds} s`);
process.exitCode = gates.some((g) => g.status === 'fail') ? 1 : 0;
