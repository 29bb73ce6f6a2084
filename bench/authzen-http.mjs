/**
 * bench:authzen — POST /access/v1/evaluation against a bare node:http JSON echo, measured in
 * the same run, from the same client, in interleaved rounds, one request at a time over a
 * keep-alive connection. Target: AuthZEN p50 ≤ 1.3× echo p50.
 *
 * Each server runs in its own child process: the echo is this file forked with --child echo;
 * Charter is `charter serve` with its defaults (the bundled policies on a temporary LMDB demo
 * store seeded from their data.ndjson files, metrics, and a decision log at sample rate 1
 * written to /dev/null, so its full cost is paid). Both are killed by PID at the end.
 * The request is an interop Todo evaluation that reads the actor from the store and a
 * caller-supplied resource property; the echo server parses the same body and writes it back.
 * Two workloads, each against the echo in the same interleaved rounds:
 *   - repeated: the same body every time (what a PEP re-checking a page does; served by the
 *     AuthZEN decision cache after the first request)
 *   - distinct: a new todo id in every body, so every request is a full decision
 *
 *   npm run bench:authzen                  (builds first)
 *   node bench/authzen-http.mjs --rounds 10 --requests 500 [--decision-log off]
 *
 * The verdict is the median over rounds of (AuthZEN p50 / echo p50) in that round, so load
 * drifting between rounds (2 shared cores) moves both sides of each ratio alike. Server CPU per
 * request (all threads, from /proc) is printed beside it: it does not depend on machine load,
 * so it says where a latency ratio comes from.
 *
 * Writes bench/results/authzen-http.json.
 */
import { fork, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PATH = '/access/v1/evaluation';
const bodyFor = (todoId) =>
  JSON.stringify({
    subject: { type: 'user', id: 'CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs' },
    action: { name: 'can_update_todo' },
    resource: { type: 'todo', id: todoId, properties: { ownerID: 'morty@the-citadel.com' } },
    context: {},
  });
const BODY = bodyFor('7240d0db-8ff0-41ec-98b2-34a096273b91');
let counter = 0;
// Same length as BODY, so both servers move the same bytes in both workloads.
const distinctBody = () => bodyFor(`7240d0db-8ff0-41ec-98b2-${(counter++).toString(16).padStart(12, '0')}`);

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    rounds: { type: 'string', default: '10' },
    requests: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '2000' },
    // Where charter serve writes its decision log ('off' to see what logging costs).
    'decision-log': { type: 'string', default: '/dev/null' },
  },
});

if (values.child === 'echo') await runEcho();
else await runClient();

/** The baseline: read the body, parse it, write it back as JSON. */
async function runEcho() {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 5_000;
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
}

function startEcho() {
  const child = fork(fileURLToPath(import.meta.url), ['--child', 'echo'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
  });
}

/** `charter serve` with its defaults (demo store from the bundled policies); its HTTP port from its log. */
function startCharter() {
  const args = [join(ROOT, 'bin/charter.js'), 'serve', '--grpc-port', '0', '--http-port', '0', '--decision-log', values['decision-log'], '--no-watch'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CHARTER_POLICIES: '', CHARTER_DATA: '', CHARTER_HTTP_API_KEY: '' } });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk) => {
      buffered += chunk;
      const m = /"httpPort":(\d+)/.exec(buffered);
      if (m) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve({ child, port: Number(m[1]) });
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`charter serve exited with ${code}: ${buffered.slice(-500)}`)));
  });
}

function post(agent, port, body) {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: PATH, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `n` sequential requests; their latencies in microseconds. */
async function measure(agent, port, n, out, makeBody = () => BODY) {
  for (let i = 0; i < n; i++) {
    const body = makeBody();
    const t0 = process.hrtime.bigint();
    await post(agent, port, body);
    out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
}

/** CPU time (ns) a process has used so far, all threads (Linux /proc); undefined elsewhere. */
function processCpuNs(pid) {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return total;
  } catch {
    return undefined;
  }
}

function median(list) {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function runClient() {
  const rounds = Number(values.rounds);
  const n = Number(values.requests);
  const log = (m) => process.stdout.write(`${m}\n`);
  const echo = await startEcho();
  let authzen;
  try {
    authzen = await startCharter();
    log(`bench:authzen on ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
    log(`  echo pid ${echo.child.pid} port ${echo.port}; charter pid ${authzen.child.pid} port ${authzen.port}`);
    const agents = { echo: new Agent({ keepAlive: true, maxSockets: 1 }), authzen: new Agent({ keepAlive: true, maxSockets: 1 }) };
    // The answer must be right before its speed means anything.
    const check = await post(agents.authzen, authzen.port, BODY);
    if (check.status !== 200 || check.text !== '{"decision":true}') throw new Error(`AuthZEN answered ${check.status} ${check.text}`);
    const check2 = await post(agents.authzen, authzen.port, distinctBody());
    if (check2.status !== 200 || check2.text !== '{"decision":true}') throw new Error(`AuthZEN answered ${check2.status} ${check2.text}`);
    const ports = { echo: echo.port, authzen: authzen.port };
    const workloads = { repeated: () => BODY, distinct: distinctBody };
    for (const make of Object.values(workloads)) for (const name of ['echo', 'authzen']) await measure(agents[name], ports[name], Number(values.warmup), [], make);
    const samples = {};
    const roundRatios = {};
    // Server CPU per request (all threads) does not depend on how busy the machine is.
    const pids = { echo: echo.child.pid, authzen: authzen.child.pid };
    const cpuNs = {};
    for (const w of Object.keys(workloads)) {
      samples[w] = { echo: [], authzen: [] };
      roundRatios[w] = [];
      cpuNs[w] = { echo: 0, authzen: 0 };
    }
    for (let r = 0; r < rounds; r++) {
      // Alternate who goes first so drift (thermal, GC, other tenants) hits both alike.
      const order = r % 2 === 0 ? ['echo', 'authzen'] : ['authzen', 'echo'];
      for (const [w, make] of Object.entries(workloads)) {
        const round = { echo: [], authzen: [] };
        for (const name of order) {
          const before = processCpuNs(pids[name]);
          await measure(agents[name], ports[name], n, round[name], make);
          const after = processCpuNs(pids[name]);
          if (before !== undefined && after !== undefined) cpuNs[w][name] += after - before;
        }
        roundRatios[w].push(median(round.authzen) / median(round.echo));
        samples[w].echo.push(...round.echo);
        samples[w].authzen.push(...round.authzen);
      }
    }
    const r2 = (x) => Math.round(x * 100) / 100;
    const results = {};
    let pass = true;
    for (const [w, byServer] of Object.entries(samples)) {
      const stats = {};
      for (const [name, list] of Object.entries(byServer)) {
        list.sort((a, b) => a - b);
        stats[name] = { p50: percentile(list, 0.5), p90: percentile(list, 0.9), p99: percentile(list, 0.99), samples: list.length };
      }
      const pooled = stats.authzen.p50 / stats.echo.p50;
      // Gate on the median of the per-round ratios: robust to load drifting between rounds.
      const ratio = median(roundRatios[w]);
      pass &&= ratio <= 1.3;
      const cpuUs = { echo: cpuNs[w].echo / 1000 / (rounds * n), authzen: cpuNs[w].authzen / 1000 / (rounds * n) };
      results[w] = { stats, ratioP50: ratio, pooledRatioP50: pooled, roundRatios: roundRatios[w], serverCpuUsPerRequest: cpuUs };
      log(`  ${w}:`);
      log(`    echo     p50 ${r2(stats.echo.p50)} µs   p90 ${r2(stats.echo.p90)} µs   p99 ${r2(stats.echo.p99)} µs`);
      log(`    authzen  p50 ${r2(stats.authzen.p50)} µs   p90 ${r2(stats.authzen.p90)} µs   p99 ${r2(stats.authzen.p99)} µs`);
      if (cpuUs.echo > 0) log(`    server CPU per request: echo ${r2(cpuUs.echo)} µs, charter ${r2(cpuUs.authzen)} µs (${r2(cpuUs.authzen / cpuUs.echo)}×)`);
      log(`    p50 ratio authzen/echo: median of ${rounds} rounds ${r2(ratio)} (pooled ${r2(pooled)}; target ≤ 1.3) ${ratio <= 1.3 ? 'PASS' : 'FAIL'}`);
    }
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(
      join(ROOT, 'bench/results/authzen-http.json'),
      `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds, requestsPerRound: n, decisionLog: values['decision-log'], results, target: 1.3 }, null, 2)}\n`,
    );
    for (const a of Object.values(agents)) a.destroy();
    process.exitCode = pass ? 0 : 1;
  } finally {
    for (const c of [echo, authzen]) if (c) process.kill(c.child.pid, 'SIGTERM');
  }
}
