/**
 * bench:peers — Charter side by side with its peers, on the same payments rules, in the same
 * run, in interleaved rounds:
 *   - over gRPC: Charter Authorize vs Cerbos CheckResources (the real Cerbos server binary)
 *     vs the bare grpc-js echo baseline; p50/p99 one call at a time, decisions/s at 64 in
 *     flight; every server in its own child process, one client process, same channel options;
 *   - in process: Charter decide() vs Cedar (cedar-wasm) vs casbin, ns per decision, on the
 *     payments read rule alone and with the guardrails that apply to a read.
 * Peers are installed on demand into bench/.peers (not dependencies of Charter).
 *
 *   npm run bench:peers          node bench/peers.mjs --quick
 *
 * Writes bench/results/peers.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decide } from '../dist/policy/index.js';
import { cerbosClient, cerbosEffect, cerbosRequest, startCerbos } from './lib/cerbos.mjs';
import { BUSINESS_HOURS } from './lib/inprocess.mjs';
import { casbinCases, cedarCases } from './lib/inproc-peers.mjs';
import { compareInterleaved } from './lib/load.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { READ_REQUEST, ROOT, compileOrThrow, paymentsMemorySources, paymentsSources, singleRuleSet } from './lib/payments.mjs';
import { ensurePeers } from './lib/peers-install.mjs';
import { round } from './lib/stats.mjs';
import { AUTHORIZE_REQUEST, authorizationClient, startCharter, startEcho } from './lib/targets.mjs';
import { measureInterleaved, sinkValue } from './lib/timing.mjs';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, 'skip-grpc': { type: 'boolean', default: false }, 'cedar-child': { type: 'boolean', default: false } } });
const quick = values.quick;
const log = (msg) => process.stdout.write(`${msg}\n`);
const started = Date.now();
const TIMING = quick ? { warmupMs: 500, roundMs: 30, rounds: 7 } : { warmupMs: 2000, roundMs: 80, rounds: 15 };

// Cedar runs in a process of its own: with Cedar's wasm and Charter's evaluator both hot in one
// Node 20 process, V8 intermittently dies with a fatal error in deoptimisation ("unreachable
// code" in DoComputeBuiltinContinuation) — a V8 bug, not something either library does wrong.
if (values['cedar-child']) {
  const cedar = cedarCases();
  const r = measureInterleaved({ cedar_single: cedar.single, cedar_guarded: cedar.guarded }, TIMING);
  process.stdout.write(`${JSON.stringify({ version: cedar.version, results: r, sink: sinkValue() })}\n`);
  process.exit(0);
}

function measureCedarInChild() {
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--cedar-child', ...(quick ? ['--quick'] : [])], { encoding: 'utf8', maxBuffer: 16 << 20 });
    const last = r.stdout.trim().split('\n').pop();
    if (r.status === 0 && last?.startsWith('{')) return JSON.parse(last);
    log(`    Cedar child process ${r.signal ? `died by ${r.signal}` : `exited ${r.status}`}${attempt === 0 ? '; once more' : ''}`);
  }
  return undefined;
}

log(`bench:peers on ${machineLine()}`);
const versions = ensurePeers(log);
log(`  peers: ${Object.entries(versions).map(([n, v]) => `${n}@${v}`).join(', ')}`);
const result = { machine: machineInfo(), date: new Date().toISOString(), versions, inprocess: {}, grpc: {}, notes: [] };

// In process ------------------------------------------------------------------------------
{
  const src = paymentsMemorySources();
  const sources = { attributes: src, relations: src, now: BUSINESS_HOURS };
  const single = singleRuleSet('payment-read');
  const guarded = compileOrThrow(paymentsSources());
  for (const set of [single, guarded]) if (decide(set, READ_REQUEST, sources).effect !== 'ALLOW') throw new Error('Charter fixture broken');
  const casbin = await casbinCases();
  log('  in process (ns per decision, median of interleaved rounds; Cedar in its own process):');
  const cedar = measureCedarInChild();
  const r = measureInterleaved(
    {
      charter_single: () => decide(single, READ_REQUEST, sources).effect === 'ALLOW',
      casbin_single: casbin.single,
      charter_guarded: () => decide(guarded, READ_REQUEST, sources).effect === 'ALLOW',
      casbin_guarded: casbin.guarded,
    },
    TIMING,
  );
  if (cedar) Object.assign(r, cedar.results);
  else result.notes.push('Cedar: its process died twice; not measured in this run');
  for (const [k, v] of Object.entries(r)) {
    result.inprocess[k] = { ns: round(v.ns, 0), spread: round(v.spread, 2), rounds: v.rounds.map((x) => round(x, 0)) };
    log(`    ${k.padEnd(18)} ${v.ns.toFixed(0).padStart(10)} ns  (spread ${(v.spread * 100).toFixed(0)}%)`);
  }
  result.inprocess_versions = { cedar: cedar?.version, casbin: casbin.version };
  result.notes.push('Cedar is measured in a child process of its own (same timing method) right before Charter and casbin: a V8 fatal error strikes when its wasm and Charter share a Node 20 process.');
  result.notes.push(
    'In process, Charter reads attributes from its in-memory AttributeSource (MemorySources) itself; Cedar gets its entities (actor, groups, payment) with every request, as its API requires; casbin gets attribute objects with the request.',
  );
}

// Over gRPC -------------------------------------------------------------------------------
if (!values['skip-grpc']) {
  let echo;
  let charter;
  let cerbos;
  try {
    [echo, charter, cerbos] = await Promise.all([startEcho(), startCharter(), startCerbos()]);
    log(`  servers: echo pid ${echo.pid}, charter pid ${charter.pid} (${charter.variant}), cerbos pid ${cerbos.pid}`);
    const e = await authorizationClient(echo.port);
    const c = await authorizationClient(charter.port);
    const k = await cerbosClient(cerbos.port);
    const cerbosReq = cerbosRequest('read');
    const [ca, ka] = [await c.authorize(AUTHORIZE_REQUEST), await k.check(cerbosReq)];
    if (ca.decision !== 'DECISION_ALLOW') throw new Error(`Charter answered ${ca.decision}`);
    if (cerbosEffect(ka) !== 'EFFECT_ALLOW') throw new Error(`Cerbos answered ${JSON.stringify(ka)}`);
    // The translation really decides: another region, or a request from abroad, is denied.
    const otherRegion = cerbosRequest('read');
    otherRegion.principal.attr.region = { stringValue: 'amer' };
    const abroad = cerbosRequest('read');
    abroad.principal.attr.request_country = { stringValue: 'FR' };
    for (const req of [otherRegion, abroad]) {
      const res = await k.check(req);
      if (cerbosEffect(res) !== 'EFFECT_DENY') throw new Error(`Cerbos policy translation broken: expected DENY, got ${JSON.stringify(res)}`);
    }
    log('  over gRPC (interleaved rounds):');
    const load = await compareInterleaved(
      [
        { name: 'echo', call: e.authorize, request: AUTHORIZE_REQUEST, pid: echo.pid },
        { name: 'charter', call: c.authorize, request: AUTHORIZE_REQUEST, pid: charter.pid },
        { name: 'cerbos', call: k.check, request: cerbosReq, pid: cerbos.pid },
      ],
      quick ? { rounds: 3, sequentialMs: 500, concurrentMs: 800, warmupMs: 1000, log } : { rounds: 7, sequentialMs: 1000, concurrentMs: 1500, warmupMs: 3000, log },
    );
    result.grpc = load;
    result.grpc_servers = { charter: charter.variant, cerbos: `cerbos server ${versions['@cerbos/cerbos-linux-x64']} (disk policies, audit log off)`, echo: 'bare grpc-js, constant response' };
    result.notes.push(
      'Cerbos has no attribute store: its request carries the actor and payment attributes that Charter reads from its own store, and the request ip/country as principal attributes.',
    );
    for (const x of [e, c, k]) x.close();
  } finally {
    await Promise.all([echo?.stop(), charter?.stop(), cerbos?.stop()]);
  }
}

result.seconds = round((Date.now() - started) / 1000, 1);
result.sink = sinkValue();
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(join(ROOT, 'bench', 'results', 'peers.json'), JSON.stringify(result, null, 2) + '\n');
log(`wrote bench/results/peers.json (${result.seconds} s)`);
