/**
 * bench:client — what a cache hit costs in CharterClient, against the floor: a bare lru-cache
 * get with a template-string key built from the same three fields, measured in the same run.
 * Target: the hit costs at most 2× the floor.
 *
 * Cases run interleaved (A, B, C, A, B, C, ...) after a warm-up; each result is the median of
 * the rounds (bench/lib/timing.mjs). The client's first answers come from a real
 * `charter serve` (child process); during the timed rounds the client must not miss once.
 *
 *   npm run bench:client            (BENCH_QUICK=1 for shorter rounds)
 */
import { LRUCache } from 'lru-cache';
import { clientBuilt } from './lib/client-hit.mjs';
import { machineLine } from './lib/machine.mjs';
import { ALICE, P100 } from './lib/payments.mjs';
import { startCharter } from './lib/targets.mjs';
import { measureInterleaved, measureInterleavedAsync, sinkValue } from './lib/timing.mjs';

const log = (msg) => process.stdout.write(`${msg}\n`);
const quick = process.env.BENCH_QUICK === '1';
const timing = quick ? { warmupMs: 200, roundMs: 20, rounds: 9 } : { warmupMs: 400, roundMs: 50, rounds: 21 };

if (!clientBuilt()) {
  process.stderr.write('bench:client: dist/client is missing; run `npm run build` first\n');
  process.exit(2);
}
const { CharterClient } = await import('../dist/client/index.js');

log(`bench:client on ${machineLine()}`);
const server = await startCharter({ decisionLog: 'off' });
const client = new CharterClient({ target: `127.0.0.1:${server.port}`, cache: { maxEntries: 10_000, ttlMs: 600_000 }, deadlineMs: 5_000 });
try {
  if (!(await client.ready(10_000))) throw new Error('the invalidation stream did not connect');

  // One hot request (what bench:ci gates) and 1 000 distinct ones (a working set, rotating).
  // The hot request as four equal but separate objects picked by the loop index: with one
  // constant (frozen) object the JIT may fold the floor's key into a constant string and skip
  // the key build the floor is meant to include (same fix as bench/lib/inprocess.mjs).
  const hots = Array.from({ length: 4 }, () => ({ actor: ALICE, action: 'read', resource: P100 }));
  const hot = hots[0];
  const many = Array.from({ length: 1_000 }, (_, i) => Object.freeze({ actor: `spiffe://personnel.acme.test/eid/${1001 + (i % 8)}`, action: i % 2 ? 'read' : 'refund', resource: `uon://payments/payment/p-${i}` }));
  const withContexts = Array.from({ length: 4 }, () => ({ ...hot, context: { ip: '10.1.2.3', country: 'GB' } }));
  const withContext = withContexts[0];
  const first = await client.check(hot);
  if (!first.allowed) throw new Error(`fixture broken: expected ALLOW, got ${first.reason}`);
  await client.check(withContext);
  for (let i = 0; i < many.length; i += 500) await client.checkMany(many.slice(i, i + 500));
  const warm = client.stats();
  if (warm.size < many.length + 2) throw new Error(`not everything was cached: ${JSON.stringify(warm)}`);

  const lru = new LRUCache({ max: 10_000 });
  lru.set(`${hot.actor}\u0000${hot.action}\u0000${hot.resource}`, { effect: 'ALLOW' });
  for (const r of many) lru.set(`${r.actor}\u0000${r.action}\u0000${r.resource}`, { effect: 'DENY' });
  const M = many.length;

  const sync = measureInterleaved(
    {
      floor_hot: (i) => {
        const r = hots[i & 3];
        return lru.get(`${r.actor}\u0000${r.action}\u0000${r.resource}`) !== undefined;
      },
      client_hot: (i) => client.check(hots[i & 3]),
      floor_1000: (i) => {
        const r = many[i % M];
        return lru.get(`${r.actor}\u0000${r.action}\u0000${r.resource}`) !== undefined;
      },
      client_1000: (i) => client.check(many[i % M]),
      client_hot_with_context: (i) => client.check(withContexts[i & 3]),
    },
    timing,
  );
  const awaited = await measureInterleavedAsync(
    {
      floor_hot_awaited: async (i) => {
        const r = hots[i & 3];
        return (await lru.get(`${r.actor}\u0000${r.action}\u0000${r.resource}`)) !== undefined;
      },
      client_hot_awaited: async (i) => (await client.check(hots[i & 3])).allowed,
    },
    { ...timing, rounds: Math.max(7, timing.rounds >> 1) },
  );

  const after = client.stats();
  if (after.misses !== warm.misses || after.rpcs !== warm.rpcs) throw new Error(`a timed check missed the cache: ${JSON.stringify({ warm, after })}`);

  const all = { ...sync, ...awaited };
  log('');
  log('case                          ns/op   (median of rounds, spread)');
  for (const [name, v] of Object.entries(all)) log(`  ${name.padEnd(26)} ${v.ns.toFixed(1).padStart(8)}   (${v.rounds.length} rounds, spread ${(v.spread * 100).toFixed(0)}%)`);
  const ratios = {
    hot: all.client_hot.ns / all.floor_hot.ns,
    working_set_1000: all.client_1000.ns / all.floor_1000.ns,
    awaited: all.client_hot_awaited.ns / all.floor_hot_awaited.ns,
  };
  log('');
  for (const [name, r] of Object.entries(ratios)) log(`  ratio client/floor ${name.padEnd(18)} ${r.toFixed(2)}×  ${r <= 2 ? 'ok (≤ 2×)' : 'OVER 2×'}`);
  log(`  hits during the run: ${after.hits - warm.hits}, misses: ${after.misses - warm.misses} (sink ${sinkValue()})`);
  process.exitCode = ratios.hot <= 2 && ratios.working_set_1000 <= 2 ? 0 : 1;
} finally {
  client.close();
  await server.stop();
}
