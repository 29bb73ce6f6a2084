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
 *   node bench/authzen-http.mjs --rounds 5 --requests 2000
 *
 * Writes bench/results/authzen-http.json.
 */
import { fork, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
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
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '2000' },
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
  const args = [join(ROOT, 'bin/charter.js'), 'serve', '--grpc-port', '0', '--http-port', '0', '--decision-log', '/dev/null', '--no-watch'];
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
    for (const w of Object.keys(workloads)) samples[w] = { echo: [], authzen: [] };
    for (let r = 0; r < rounds; r++) {
      // Alternate who goes first so drift (thermal, GC, other tenants) hits both alike.
      const order = r % 2 === 0 ? ['echo', 'authzen'] : ['authzen', 'echo'];
      for (const [w, make] of Object.entries(workloads)) for (const name of order) await measure(agents[name], ports[name], n, samples[w][name], make);
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
      const ratio = stats.authzen.p50 / stats.echo.p50;
      pass &&= ratio <= 1.3;
      results[w] = { stats, ratioP50: ratio };
      log(`  ${w}:`);
      log(`    echo     p50 ${r2(stats.echo.p50)} µs   p90 ${r2(stats.echo.p90)} µs   p99 ${r2(stats.echo.p99)} µs`);
      log(`    authzen  p50 ${r2(stats.authzen.p50)} µs   p90 ${r2(stats.authzen.p90)} µs   p99 ${r2(stats.authzen.p99)} µs`);
      log(`    ratio p50 authzen/echo = ${r2(ratio)} (target ≤ 1.3) ${ratio <= 1.3 ? 'PASS' : 'FAIL'}`);
    }
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(
      join(ROOT, 'bench/results/authzen-http.json'),
      `${JSON.stringify({ date: new Date().toISOString(), node: process.version, rounds, requestsPerRound: n, results, target: 1.3 }, null, 2)}\n`,
    );
    for (const a of Object.values(agents)) a.destroy();
    process.exitCode = pass ? 0 : 1;
  } finally {
    for (const c of [echo, authzen]) if (c) process.kill(c.child.pid, 'SIGTERM');
  }
}
