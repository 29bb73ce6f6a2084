/**
 * npm run soak -- --minutes N   (default 10)
 *
 * Sustained load on a real `charter serve` child process: 64 Authorize calls always in flight,
 * a background of Admin writes (entity puts, tuple puts and deletes, several per second) and an
 * invalidation subscriber reading the events they cause. Every window (default 30 s) prints the
 * calls, errors by status, p50/p99 latency and the server's RSS (VmRSS from /proc/PID/status);
 * the summary compares RSS after warm-up (20% of the run) with RSS at the end, as medians of
 * the first and last quarter of the samples, plus a fitted slope in MB/min.
 *
 *   --minutes N        how long to run (default 10)
 *   --in-flight N      concurrent Authorize calls (default 64)
 *   --writes-per-sec N Admin writes per second (default 20)
 *   --window-sec N     report interval (default 30)
 *   --out FILE         also write the windows and summary as JSON
 *
 * Exit code 1 when any call failed or RSS grew more than 10% (the targets in docs/reliability.md).
 * The server child is stopped by its PID on every exit path.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'in-flight': { type: 'string', default: '64' },
    'writes-per-sec': { type: 'string', default: '20' },
    'window-sec': { type: 'string', default: '30' },
    out: { type: 'string' },
  },
});
const MINUTES = Number(values.minutes);
const IN_FLIGHT = Number(values['in-flight']);
const WRITES_PER_SEC = Number(values['writes-per-sec']);
const WINDOW_MS = Number(values['window-sec']) * 1000;
const DEADLINE_MS = 5_000;
if (!(MINUTES > 0) || !(IN_FLIGHT > 0) || !(WRITES_PER_SEC >= 0) || !(WINDOW_MS > 0)) {
  process.stderr.write('usage: npm run soak -- [--minutes N] [--in-flight N] [--writes-per-sec N] [--window-sec N] [--out FILE]\n');
  process.exit(2);
}
if (!existsSync(join(ROOT, 'dist/server/grpc-client.js'))) {
  process.stderr.write('soak: dist/ is missing; run `npm run build` first\n');
  process.exit(2);
}
const { connect, unaryCall } = await import(join(ROOT, 'dist/server/grpc-client.js'));
const { objectToStruct } = await import(join(ROOT, 'dist/server/struct.js'));

const log = (line) => process.stdout.write(`${line}\n`);

// Questions with both answers, reading the store (entities, relations), context and claims.
const ALICE = 'spiffe://personnel.acme.test/eid/1001';
const BOB = 'spiffe://personnel.acme.test/eid/1002';
const REQUESTS = [
  { actor: ALICE, action: 'read', resource: 'uon://payments/payment/p-100' },
  { actor: ALICE, action: 'read', resource: 'uon://payments/payment/p-200' },
  { actor: BOB, action: 'read', resource: 'uon://payments/payment/p-200' },
  { actor: ALICE, action: 'refund', resource: 'uon://payments/payment/p-100', context: { ip: '10.1.2.3' } },
  { actor: ALICE, action: 'refund', resource: 'uon://payments/payment/p-100', context: { ip: '203.0.113.9' } },
  { actor: 'spiffe://personnel.acme.test/eid/1003', action: 'read', resource: 'uon://kafka/topic/payments.settled' },
  { actor: 'spiffe://soak.test/eid/7', action: 'read', resource: 'uon://payments/payment/p-100', context: { country: 'GB' } },
  { actor: 'spiffe://unknown.test/eid/0', action: 'delete', resource: 'uon://payments/payment/p-100' },
].map((r) => ({
  actor: r.actor,
  action: r.action,
  resource: r.resource,
  context: r.context ? objectToStruct(r.context) : null,
  resourceAttributes: null,
  actorClaims: null,
}));

/** VmRSS, RssAnon (heap and native memory) and RssFile (mapped files: the LMDB data file) in bytes. */
function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => {
      const m = new RegExp(`${name}:\\s+(\\d+) kB`).exec(status);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return undefined;
  }
}

function rss(pid) {
  return memory(pid)?.rss;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
};
const mb = (b) => Math.round((b / 1024 / 1024) * 10) / 10;

// ── the server ────────────────────────────────────────────────────────────────────────────────
const work = mkdtempSync(join(tmpdir(), 'charter-soak-'));
const dataDir = join(work, 'data');
execFileSync(process.execPath, [join(ROOT, 'bin/charter.js'), 'import', '--data', dataDir, '--quiet', join(ROOT, 'policies/payments/data.ndjson')], { stdio: 'inherit' });
const child = spawn(
  process.execPath,
  [join(ROOT, 'bin/charter.js'), 'serve', '--policies', join(ROOT, 'policies'), '--data', dataDir, '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0',
    '--admin-insecure-loopback', '--decision-log', 'off'],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
// Keep the start-up line and the last lines of output (warnings, errors) for the report.
let serverOut = '';
const keep = (c) => {
  serverOut += c;
  if (serverOut.length > 64 * 1024) serverOut = serverOut.slice(-16 * 1024);
};
child.stdout.on('data', keep);
child.stderr.on('data', keep);
let childExit;
const exited = new Promise((res) => child.once('exit', (code, signal) => res((childExit = { code, signal }))));

let stopped = false;
async function stopServer() {
  if (child.exitCode === null && child.signalCode === null) {
    process.kill(child.pid, 'SIGTERM');
    const t = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopped = true;
    void stopServer().then(() => process.exit(130));
  });
}

async function childPorts(timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (childExit) throw new Error(`charter serve exited (${JSON.stringify(childExit)}):\n${serverOut}`);
    const m = /"grpcPort":(\d+),"httpPort":(-?\d+)/.exec(serverOut);
    if (m) return { grpcPort: Number(m[1]), httpPort: Number(m[2]) };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`charter serve did not start in time:\n${serverOut}`);
}

let exitCode = 0;
try {
  const { grpcPort, httpPort } = await childPorts();
  const target = `127.0.0.1:${grpcPort}`;
  log(`soak: charter serve pid ${child.pid}, gRPC ${target}, HTTP ${httpPort}; ${MINUTES} min, ${IN_FLIGHT} in flight, ${WRITES_PER_SEC} Admin writes/s`);

  const clients = connect({ target });
  const writer = connect({ target });
  const md = clients.metadata();

  // ── load ──────────────────────────────────────────────────────────────────────────────────
  const endAt = Date.now() + MINUTES * 60_000;
  const total = { calls: 0, errors: 0, allow: 0, deny: 0, writes: 0, writeErrors: 0, events: 0 };
  const errorsByCode = {};
  let window = { calls: 0, errors: 0, latencies: [] };

  async function worker(i) {
    let n = i;
    while (!stopped && Date.now() < endAt) {
      const req = REQUESTS[n++ % REQUESTS.length];
      const t0 = performance.now();
      try {
        const res = await unaryCall(clients.authorization, 'Authorize', req, md, DEADLINE_MS);
        window.latencies.push(performance.now() - t0);
        window.calls++;
        total.calls++;
        if (res.decision === 'DECISION_ALLOW' || res.decision === 1) total.allow++;
        else total.deny++;
      } catch (err) {
        window.errors++;
        total.errors++;
        const code = String(err?.code ?? err?.message);
        errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
      }
    }
  }

  async function writes() {
    if (WRITES_PER_SEC === 0) return;
    const every = 1000 / WRITES_PER_SEC;
    let n = 0;
    while (!stopped && Date.now() < endAt) {
      const id = `spiffe://soak.test/eid/${n % 500}`;
      const records =
        n % 3 === 2
          ? [{ kind: 'KIND_RELATION', op: n % 2 ? 'OP_DELETE' : 'OP_PUT', object: 'team:soak', relation: 'member', subject: id }]
          : [{ kind: 'KIND_ENTITY', op: 'OP_PUT', id, attributes: objectToStruct({ region: n % 2 ? 'emea' : 'amer', country: 'GB', groups: ['payment-support'], n }) }];
      try {
        await unaryCall(writer.admin, 'Write', { records }, writer.metadata(), DEADLINE_MS);
        total.writes++;
      } catch (err) {
        total.writeErrors++;
        const code = `write:${String(err?.code ?? err?.message)}`;
        errorsByCode[code] = (errorsByCode[code] ?? 0) + 1;
      }
      n++;
      await new Promise((r) => setTimeout(r, every));
    }
  }

  // An invalidation subscriber, like every CharterClient has.
  const stream = writer.invalidation.Subscribe({}, writer.metadata());
  stream.on('data', () => total.events++);
  stream.on('error', () => {});

  const windows = [];
  const rssSamples = [];
  const sampler = setInterval(() => {
    const m = memory(child.pid);
    if (m?.rss !== undefined) rssSamples.push({ t: Date.now(), rss: m.rss, anon: m.anon ?? 0, file: m.file ?? 0 });
  }, 5_000);
  const started = Date.now();
  const reporter = setInterval(() => {
    const lat = window.latencies.sort((a, b) => a - b);
    const w = {
      minute: Math.round(((Date.now() - started) / 60_000) * 10) / 10,
      calls: window.calls,
      errors: window.errors,
      callsPerSec: Math.round(window.calls / (WINDOW_MS / 1000)),
      p50Ms: Math.round(percentile(lat, 50) * 100) / 100,
      p99Ms: Math.round(percentile(lat, 99) * 100) / 100,
      rssMb: mb(rss(child.pid) ?? 0),
      anonMb: mb(memory(child.pid)?.anon ?? 0),
      fileMb: mb(memory(child.pid)?.file ?? 0),
      writes: total.writes,
      events: total.events,
    };
    windows.push(w);
    window = { calls: 0, errors: 0, latencies: [] };
    log(`  t=${String(w.minute).padStart(5)} min  ${String(w.callsPerSec).padStart(6)} calls/s  errors ${w.errors}  p50 ${w.p50Ms} ms  p99 ${w.p99Ms} ms  RSS ${w.rssMb} MB (anon ${w.anonMb}, file ${w.fileMb})  writes ${w.writes}  events ${w.events}`);
  }, WINDOW_MS);

  await Promise.all([...Array.from({ length: IN_FLIGHT }, (_, i) => worker(i)), writes()]);
  clearInterval(sampler);
  clearInterval(reporter);
  stream.cancel();
  clients.close();
  writer.close();

  // RSS drift. V8's RSS breathes with garbage collection, so single samples mislead: after a
  // warm-up (20% of the run, at least one window), compare the median of the first quarter of
  // the remaining samples with the median of the last quarter, and fit a line through all of them.
  const warmEnd = started + Math.max(WINDOW_MS, 0.2 * MINUTES * 60_000);
  const steady = rssSamples.filter((s) => s.t > warmEnd);
  const quarter = Math.max(1, Math.floor(steady.length / 4));
  const rssStart = median(steady.slice(0, quarter).map((s) => s.rss));
  const rssEnd = median(steady.slice(-quarter).map((s) => s.rss));
  const growthPct = rssStart ? Math.round(((rssEnd - rssStart) / rssStart) * 1000) / 10 : 0;
  let slopeMbPerMin = 0;
  if (steady.length > 2) {
    const xs = steady.map((s) => (s.t - warmEnd) / 60_000);
    const ys = steady.map((s) => s.rss / 1024 / 1024);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = ys.reduce((a, b) => a + b, 0) / ys.length;
    const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0);
    const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    slopeMbPerMin = den ? Math.round((num / den) * 100) / 100 : 0;
  }
  const p99s = windows.map((w) => w.p99Ms);
  const summary = {
    date: new Date().toISOString(),
    minutes: MINUTES,
    inFlight: IN_FLIGHT,
    writesPerSec: WRITES_PER_SEC,
    calls: total.calls,
    allow: total.allow,
    deny: total.deny,
    errors: total.errors,
    writes: total.writes,
    writeErrors: total.writeErrors,
    errorsByCode,
    invalidationEvents: total.events,
    callsPerSec: Math.round(total.calls / ((Date.now() - started) / 1000)),
    p99MsFirstWindow: p99s[0],
    p99MsLastWindow: p99s.at(-1),
    p99MsMax: Math.max(...p99s),
    rssMbAfterWarmup: mb(rssStart),
    rssMbEnd: mb(rssEnd),
    rssMbMax: mb(Math.max(...rssSamples.map((s) => s.rss))),
    rssGrowthPct: growthPct,
    anonMbAfterWarmup: mb(median(steady.slice(0, quarter).map((s) => s.anon))),
    anonMbEnd: mb(median(steady.slice(-quarter).map((s) => s.anon))),
    fileMbAfterWarmup: mb(median(steady.slice(0, quarter).map((s) => s.file))),
    fileMbEnd: mb(median(steady.slice(-quarter).map((s) => s.file))),
    rssSlopeMbPerMin: slopeMbPerMin,
    rssSamples: steady.length,
    serverAlive: child.exitCode === null && child.signalCode === null,
  };
  log(`soak summary: ${JSON.stringify(summary)}`);
  if (values.out) writeFileSync(values.out, JSON.stringify({ summary, windows }, null, 2));
  if (summary.errors > 0 || summary.writeErrors > 0 || !summary.serverAlive) exitCode = 1;
  if (growthPct > 10) {
    log(`soak: RSS grew ${growthPct}% (target < 10%)`);
    exitCode = 1;
  }
} catch (err) {
  log(`soak failed: ${err?.stack ?? err}`);
  exitCode = 1;
} finally {
  await stopServer();
}
process.exit(exitCode);
