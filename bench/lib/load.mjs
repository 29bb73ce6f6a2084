/**
 * The load driver shared by bench:ci, bench/load.mjs and the peer comparison.
 *
 * For each target (echo, Charter, Cerbos, ...) it measures two things, in interleaved rounds
 * (echo, charter, echo, charter, ...) from one client process with the same grpc-js channel
 * options, so a noisy moment on the machine hits both sides alike:
 *   - sequential: one call at a time; latency percentiles from a real histogram
 *     (perf_hooks.createHistogram, ns resolution);
 *   - concurrent: `inflight` calls outstanding at all times; decisions per second.
 * The per-target result is the median over rounds of each round's p50 / p99 / rps; the merged
 * histogram over all rounds gives the distribution drawn in the chart.
 *
 * Loops are bounded in time and count; targets are on 127.0.0.1 only.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createHistogram } from 'node:perf_hooks';
import { credentials, Metadata } from '@grpc/grpc-js';
import { median, round } from './stats.mjs';

/** Channel options used for every target's client (Charter, echo, Cerbos). */
export const CHANNEL_OPTIONS = Object.freeze({
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  // One HTTP/2 connection per client, never shared with another target's client.
  'grpc.use_local_subchannel_pool': 1,
});

export function makeClient(Ctor, port) {
  return new Ctor(`127.0.0.1:${port}`, credentials.createInsecure(), { ...CHANNEL_OPTIONS });
}

export function waitForReady(client, ms = 10_000) {
  return new Promise((resolve, reject) => client.waitForReady(Date.now() + ms, (err) => (err ? reject(err) : resolve())));
}

/** Promise wrapper around a unary method: (request) => Promise<response>. */
export function unary(client, method, deadlineMs = 10_000) {
  const fn = client[method].bind(client);
  const md = new Metadata();
  return (request) =>
    new Promise((resolve, reject) => {
      fn(request, md, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res)));
    });
}

/** One call at a time for `ms` (at most `maxCalls`); returns the latency histogram (ns). */
export async function sequential(call, request, { ms = 1000, maxCalls = 1_000_000 } = {}) {
  const hist = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
  const end = performance.now() + ms;
  let n = 0;
  while (n < maxCalls && performance.now() < end) {
    const t0 = process.hrtime.bigint();
    await call(request);
    hist.record(Math.max(1, Number(process.hrtime.bigint() - t0)));
    n++;
  }
  return { hist, calls: n };
}

/** `inflight` calls outstanding for `ms`; returns calls/s and the latency histogram under load. */
export async function concurrent(call, request, { ms = 1500, inflight = 64, maxCalls = 5_000_000 } = {}) {
  const hist = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
  const t0 = performance.now();
  const end = t0 + ms;
  let n = 0;
  const worker = async () => {
    while (n < maxCalls && performance.now() < end) {
      const s = process.hrtime.bigint();
      await call(request);
      hist.record(Math.max(1, Number(process.hrtime.bigint() - s)));
      n++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { hist, calls: n, rps: n / seconds };
}

/**
 * CPU time (ns) a process has used so far, all its threads, from /proc (Linux); undefined
 * elsewhere. Server CPU per call is independent of how busy the machine is, so it explains
 * a latency ratio measured on a noisy machine.
 */
export function processCpuNs(pid) {
  if (!pid) return undefined;
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return total;
  } catch {
    return undefined;
  }
}

const PERCENTILES = [50, 75, 90, 95, 99, 99.9];

function summarise(hist) {
  const out = { count: hist.count, min_us: hist.min / 1000, mean_us: hist.mean / 1000, max_us: hist.max / 1000 };
  for (const p of PERCENTILES) out[`p${p}_us`] = hist.percentile(p) / 1000;
  return out;
}

/** A distribution for the chart: latency (µs) at percentiles 1..99.9. */
function curve(hist) {
  const ps = [1, 5, 10, 25, 50, 75, 90, 95, 97.5, 99, 99.5, 99.9];
  return ps.map((p) => [p, round(hist.percentile(p) / 1000, 2)]);
}

/**
 * targets: [{ name, call, request, callsPerRequest?, pid? }] — callsPerRequest > 1 for batch
 * calls (so rates are decisions/s); pid: the server process, for its CPU time per call.
 * Returns { [name]: result }.
 */
export async function compareInterleaved(targets, { rounds = 5, sequentialMs = 1000, concurrentMs = 1500, inflight = 64, warmupMs = 1500, log = () => {} } = {}) {
  // Warm-up: both modes, every target, results dropped (JIT, connection, server caches).
  for (const t of targets) {
    await sequential(t.call, t.request, { ms: warmupMs / 2 });
    await concurrent(t.call, t.request, { ms: warmupMs / 2, inflight });
  }
  const perRound = Object.fromEntries(targets.map((t) => [t.name, []]));
  const mergedSeq = Object.fromEntries(targets.map((t) => [t.name, createHistogram({ lowest: 1, highest: 60e9, figures: 3 })]));
  const mergedConc = Object.fromEntries(targets.map((t) => [t.name, createHistogram({ lowest: 1, highest: 60e9, figures: 3 })]));
  const cpu = Object.fromEntries(targets.map((t) => [t.name, { ns: 0, calls: 0 }]));
  for (let r = 0; r < rounds; r++) {
    // Alternate the order each round so neither side always runs first.
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const k = t.callsPerRequest ?? 1;
      const cpu0 = processCpuNs(t.pid);
      const s = await sequential(t.call, t.request, { ms: sequentialMs });
      const c = await concurrent(t.call, t.request, { ms: concurrentMs, inflight });
      const cpu1 = processCpuNs(t.pid);
      if (cpu0 !== undefined && cpu1 !== undefined) {
        cpu[t.name].ns += cpu1 - cpu0;
        cpu[t.name].calls += (s.calls + c.calls) * k;
      }
      mergedSeq[t.name].add(s.hist);
      mergedConc[t.name].add(c.hist);
      const row = {
        p50_us: s.hist.percentile(50) / 1000,
        p99_us: s.hist.percentile(99) / 1000,
        seq_calls: s.calls,
        rps: c.rps * k,
        conc_p50_us: c.hist.percentile(50) / 1000,
        conc_p99_us: c.hist.percentile(99) / 1000,
        ...(cpu0 !== undefined && cpu1 !== undefined ? { server_cpu_us: (cpu1 - cpu0) / ((s.calls + c.calls) * k) / 1000 } : {}),
      };
      perRound[t.name].push(row);
      log(`    round ${r + 1}/${rounds} ${t.name.padEnd(18)} p50 ${row.p50_us.toFixed(0).padStart(6)} µs  p99 ${row.p99_us.toFixed(0).padStart(6)} µs  ${Math.round(row.rps).toLocaleString('en-US').padStart(8)} ${k > 1 ? 'decisions' : 'calls'}/s @${inflight}${row.server_cpu_us !== undefined ? `  server CPU ${row.server_cpu_us.toFixed(1)} µs/${k > 1 ? 'decision' : 'call'}` : ''}`);
    }
  }
  const out = {};
  for (const t of targets) {
    const rows = perRound[t.name];
    const med = (key) => median(rows.map((r) => r[key]));
    out[t.name] = {
      p50_us: round(med('p50_us'), 1),
      p99_us: round(med('p99_us'), 1),
      rps: Math.round(med('rps')),
      concurrent_p50_us: round(med('conc_p50_us'), 1),
      concurrent_p99_us: round(med('conc_p99_us'), 1),
      inflight,
      callsPerRequest: t.callsPerRequest ?? 1,
      ...(cpu[t.name].calls > 0 ? { server_cpu_us_per_decision: round(cpu[t.name].ns / cpu[t.name].calls / 1000, 2) } : {}),
      rounds: rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, 1)]))),
      sequential: Object.fromEntries(Object.entries(summarise(mergedSeq[t.name])).map(([k, v]) => [k, round(v, 1)])),
      sequential_curve: curve(mergedSeq[t.name]),
      concurrent_curve: curve(mergedConc[t.name]),
    };
  }
  return out;
}
