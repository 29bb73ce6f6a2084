/**
 * bench:report — turns bench/results/*.json into bench/results/summary.md (markdown tables),
 * bench/results/latency.svg (the chart the README shows) and the generated results section
 * of docs/benchmarks.md. Reads whatever results exist; never invents a number.
 *
 *   node bench/report.mjs
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineLine } from './lib/machine.mjs';
import { ROOT } from './lib/payments.mjs';
import { fmt } from './lib/stats.mjs';
import { barChart, percentileChart, svgDocument } from './lib/svg.mjs';

const RESULTS = join(ROOT, 'bench', 'results');
const read = (name) => {
  const p = join(RESULTS, `${name}.json`);
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined;
};
const ci = read('ci');
const load = read('load');
const peers = read('peers');
const micro = read('micro');

const lines = [];
const md = (s = '') => lines.push(s);
const when = (r) => `${r.date.slice(0, 16).replace('T', ' ')} UTC on ${machineLine(r.machine)}`;
const ratio = (a, b) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : 'n/a');

if (peers?.grpc?.charter) {
  const g = peers.grpc;
  md('### Over gRPC on loopback: Charter vs Cerbos vs a bare grpc-js echo');
  md();
  md(`Same client process, same channel options, interleaved rounds; each server in its own process. Sequential p50/p99 (one call at a time) and decisions/s with ${g.charter.inflight} calls in flight, medians of ${g.charter.rounds.length} rounds. ${when(peers)}.`);
  md();
  md('| server | p50 µs | p99 µs | decisions/s | p50 vs echo | throughput vs echo | server CPU µs/decision |');
  md('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const rows = [
    ['bare grpc-js echo (no decision)', g.echo],
    ['**Charter** `Authorize`', g.charter],
    [`Cerbos ${peers.versions?.['@cerbos/cerbos-linux-x64'] ?? ''} \`CheckResources\``, g.cerbos],
  ];
  for (const [name, r] of rows) if (r) md(`| ${name} | ${fmt(r.p50_us, 0)} | ${fmt(r.p99_us, 0)} | ${fmt(r.rps, 0)} | ${ratio(r.p50_us, g.echo.p50_us)} | ${ratio(r.rps, g.echo.rps)} | ${fmt(r.server_cpu_us_per_decision, 0)} |`);
  md();
  md('Server CPU: CPU time of the server process (all threads, from /proc) per decision over the whole run — less sensitive to a busy machine than latency.');
  md();
}

if (peers?.inprocess?.charter_single) {
  const p = peers.inprocess;
  md('### In process: Charter vs Cedar vs casbin (ns per decision)');
  md();
  md(`Alice (payment-support, emea) reads payment p-100 (emea) → ALLOW. Medians of interleaved rounds (Charter and casbin interleaved in one process; Cedar in a process of its own, same method, just before). ${when(peers)}.`);
  md();
  md(`| rules loaded | Charter \`decide\` | Cedar ${peers.inprocess_versions?.cedar ?? ''} (wasm) | casbin ${peers.inprocess_versions?.casbin ?? ''} |`);
  md('| --- | ---: | ---: | ---: |');
  md(`| the read rule only (group + same region) | ${fmt(p.charter_single?.ns, 0)} | ${fmt(p.cedar_single?.ns, 0)} | ${fmt(p.casbin_single?.ns, 0)} |`);
  md(`| read rule + the guardrails that apply to it | ${fmt(p.charter_guarded?.ns, 0)} | ${fmt(p.cedar_guarded?.ns, 0)} | ${fmt(p.casbin_guarded?.ns, 0)} |`);
  md();
  md('Charter reads the attributes from its attribute source itself; Cedar is given its entities with each request (as its API requires), casbin the attribute objects. Charter\'s "guardrails" row is the whole bundled payments set (all its rules loaded, the index picks the candidates); Cedar\'s and casbin\'s hold the read rule and the read guardrails.');
  md();
}

if (load?.results) {
  const r = load.results;
  md('### Transports: Authorize, the sidecar, BatchAuthorize');
  md();
  md(`One run, interleaved rounds, medians. Charter: ${load.charter}. ${when(load)}.`);
  md();
  const cpu = (x) => fmt(x.server_cpu_us_per_decision, 1);
  md('| call | p50 µs | p99 µs | decisions/s | vs echo | server CPU µs/decision |');
  md('| --- | ---: | ---: | ---: | ---: | ---: |');
  md(`| echo \`Authorize\` (no decision) | ${fmt(r.echo.p50_us, 0)} | ${fmt(r.echo.p99_us, 0)} | ${fmt(r.echo.rps, 0)} | 1.00× | ${cpu(r.echo)} |`);
  md(`| Charter \`Authorize\` | ${fmt(r.authorize.p50_us, 0)} | ${fmt(r.authorize.p99_us, 0)} | ${fmt(r.authorize.rps, 0)} | p50 ${ratio(r.authorize.p50_us, r.echo.p50_us)}, rps ${ratio(r.authorize.rps, r.echo.rps)} | ${cpu(r.authorize)} |`);
  if (r.sidecar) md(`| through \`charter sidecar\` (cache hit) | ${fmt(r.sidecar.p50_us, 0)} | ${fmt(r.sidecar.p99_us, 0)} | ${fmt(r.sidecar.rps, 0)} | p50 ${ratio(r.sidecar.p50_us, r.echo.p50_us)}, rps ${ratio(r.sidecar.rps, r.echo.rps)} | ${cpu(r.sidecar)} (sidecar) |`);
  md(`| echo \`BatchAuthorize\` of ${load.batch} | ${fmt(r.echo_batch.p50_us, 0)} | ${fmt(r.echo_batch.p99_us, 0)} | ${fmt(r.echo_batch.rps, 0)} | 1.00× (batch) | ${cpu(r.echo_batch)} |`);
  md(`| Charter \`BatchAuthorize\` of ${load.batch} | ${fmt(r.batch.p50_us, 0)} | ${fmt(r.batch.p99_us, 0)} | ${fmt(r.batch.rps, 0)} | rps ${ratio(r.batch.rps, r.echo_batch.rps)} of echo batch, ${ratio(r.batch.rps, r.authorize.rps)} of single Authorize | ${cpu(r.batch)} |`);
  md();
  md('Batch rows: p50/p99 are per call (of the whole batch), decisions/s count every decision in it.');
  md();
}

if (micro?.suites) {
  md('### Micro (benny): ns per operation');
  md();
  md(`${when(micro)}.`);
  md();
  md('| suite | case | ns/op | ± % | samples |');
  md('| --- | --- | ---: | ---: | ---: |');
  for (const [suite, cases] of Object.entries(micro.suites)) for (const [name, c] of Object.entries(cases)) md(`| ${suite} | ${name} | ${fmt(c.ns, c.ns < 100 ? 1 : 0)} | ${fmt(c.margin_pct, 1)} | ${c.samples} |`);
  md();
}

if (ci?.metrics) {
  md('### CI gate (`npm run bench:ci`)');
  md();
  md(`${when(ci)}, ${ci.seconds} s.`);
  md();
  md('| gate | value | limit | result |');
  md('| --- | ---: | ---: | --- |');
  for (const g of ci.gates) md(`| ${g.description} | ${g.value ?? 'n/a'} | ${g.direction ?? ''} ${g.limit ?? ''} | ${g.status} |`);
  md();
  md('| metric | value |');
  md('| --- | ---: |');
  for (const [k, v] of Object.entries(ci.metrics)) md(`| \`${k}\` | ${fmt(v, Number.isInteger(v) ? 0 : 1)} |`);
  if (ci.missing?.length) md(`\nMissing (component not available in that run): ${ci.missing.map((k) => `\`${k}\``).join(', ')}.`);
  md();
}

const summary = lines.join('\n');
writeFileSync(join(RESULTS, 'summary.md'), `# Benchmark results\n\nGenerated by \`node bench/report.mjs\` from bench/results/*.json. Chart: [latency.svg](latency.svg).\n\n${summary}`);

// Chart ----------------------------------------------------------------------------------
const panels = [];
let height = 0;
const W = 820;
const grpc = peers?.grpc?.charter ? peers.grpc : undefined;
if (grpc || load?.results) {
  const series = [];
  if (grpc) {
    series.push({ name: 'echo (no decision)', points: grpc.echo.sequential_curve });
    series.push({ name: 'Charter Authorize', points: grpc.charter.sequential_curve });
    if (grpc.cerbos) series.push({ name: 'Cerbos CheckResources', points: grpc.cerbos.sequential_curve });
  }
  if (load?.results?.sidecar) series.push({ name: 'via charter sidecar (load run)', points: load.results.sidecar.sequential_curve });
  if (!grpc && load?.results) {
    series.unshift({ name: 'Charter Authorize', points: load.results.authorize.sequential_curve });
    series.unshift({ name: 'echo (no decision)', points: load.results.echo.sequential_curve });
  }
  panels.push(percentileChart({ x: 0, y: height, w: W, h: 300, title: 'Latency distribution over gRPC, one call at a time (loopback)', unit: 'µs', series }));
  height += 310;
}
if (peers?.inprocess?.charter_single) {
  const p = peers.inprocess;
  const bars = [
    { name: 'Charter, read rule', value: p.charter_single?.ns, color: 1 },
    { name: 'Cedar, read rule', value: p.cedar_single?.ns, color: 4 },
    { name: 'casbin, read rule', value: p.casbin_single?.ns, color: 5 },
    { name: 'Charter, + guardrails', value: p.charter_guarded?.ns, color: 1 },
    { name: 'Cedar, + guardrails', value: p.cedar_guarded?.ns, color: 4 },
    { name: 'casbin, + guardrails', value: p.casbin_guarded?.ns, color: 5 },
  ]
    .filter((b) => Number.isFinite(b.value))
    .map((b) => ({ ...b, text: `${fmt(b.value, 0)} ns` }));
  panels.push(barChart({ x: 0, y: height, w: W, h: 220, title: 'In process: ns per decision (median of rounds)', unit: 'ns per decision', bars }));
  height += 230;
}
if (panels.length) {
  const src = peers ?? load;
  writeFileSync(join(RESULTS, 'latency.svg'), svgDocument(W, height + 24, panels.join('\n'), `Measured ${src.date.slice(0, 10)} on ${machineLine(src.machine)}`));
}

// docs/benchmarks.md generated section -----------------------------------------------------
const DOC = join(ROOT, 'docs', 'benchmarks.md');
const START = '<!-- bench:results:start (generated by node bench/report.mjs; edits here are overwritten) -->';
const END = '<!-- bench:results:end -->';
if (existsSync(DOC)) {
  const doc = readFileSync(DOC, 'utf8');
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a >= 0 && b > a) writeFileSync(DOC, `${doc.slice(0, a + START.length)}\n\n${summary.replace(/\n+$/, '')}\n\n${doc.slice(b)}`);
}
process.stdout.write(`wrote bench/results/summary.md${panels.length ? ', bench/results/latency.svg' : ''}\n`);
