/**
 * bench:micro — per-operation costs with benny (benchmark.js statistics: many samples, mean
 * and margin of error), grouped so each suite compares like with like:
 *   cel       one decision per rule family (region, time window, relationship), one rule loaded
 *   decide    the payments read with the bundled rules vs with 10,000 more
 *   store     LMDB AttributeStore getAttributes() and related() through a nested team
 *   cache     the cached client check vs the floor (bare lru-cache get, template-string key)
 *
 *   npm run bench:micro           node bench/micro.mjs --quick
 *
 * Writes bench/results/micro.json (and benny's own JSON under bench/results/raw/).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import benny from 'benny';
import { warmClient, clientBuilt } from './lib/client-hit.mjs';
import { decisionCases, lruFloorCase } from './lib/inprocess.mjs';
import { machineInfo, machineLine } from './lib/machine.mjs';
import { GRACE, P100, ALICE, PAYMENTS_DIR, ROOT, TOPIC } from './lib/payments.mjs';
import { round } from './lib/stats.mjs';
import { startCharter } from './lib/targets.mjs';
import { consume } from './lib/timing.mjs';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const caseOptions = values.quick ? { maxTime: 0.5, minSamples: 5 } : { maxTime: 2, minSamples: 10 };
const log = (msg) => process.stdout.write(`${msg}\n`);
const started = Date.now();
log(`bench:micro on ${machineLine()}`);

const RAW = join(ROOT, 'bench', 'results', 'raw');
mkdirSync(RAW, { recursive: true });
const result = { machine: machineInfo(), date: new Date().toISOString(), suites: {}, notes: [] };

async function suite(name, cases) {
  const summary = await benny.suite(
    name,
    ...Object.entries(cases).map(([caseName, fn]) => benny.add(caseName, () => consume(fn()), caseOptions)),
    benny.cycle((r) => `    ${r.name.padEnd(34)} ${(1e9 / r.ops).toFixed(1).padStart(10)} ns/op  ±${r.margin.toFixed(1)}%  (${r.samples} samples)`),
    benny.save({ file: name, folder: RAW, format: 'json' }),
  );
  result.suites[name] = Object.fromEntries(
    summary.results.map((r) => [r.name, { ns: round(1e9 / r.ops, 1), ops: Math.round(r.ops), margin_pct: round(r.margin, 2), samples: r.samples, median_ns: round(r.details.median * 1e9, 1) }]),
  );
}

const { cases, familyCases, sets } = decisionCases();
result.rules = { bundled: sets.smallRules, large: sets.largeRules };
await suite('cel', familyCases);
await suite('decide', { [`decide_${sets.smallRules}_rules`]: cases.decide_inprocess, [`decide_${sets.largeRules}_rules`]: cases.decide_inprocess_10k_policies });

// The LMDB store: reads of the bundled data.
if (existsSync(join(ROOT, 'dist', 'store', 'index.js'))) {
  const { AttributeStore, importNdjson } = await import('../dist/store/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'charter-bench-store-'));
  const store = AttributeStore.open(dir);
  try {
    await importNdjson(store, [join(PAYMENTS_DIR, 'data.ndjson')]);
    if (!store.getAttributes(ALICE) || !store.related(TOPIC, 'owner', GRACE)) throw new Error('store fixture broken');
    await suite('store', {
      store_get: () => store.getAttributes(P100) !== undefined,
      store_related_nested: () => store.related(TOPIC, 'owner', GRACE),
      store_related_absent: () => store.related(TOPIC, 'owner', ALICE + '-nobody'),
    });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
} else result.notes.push('src/store not built: store suite not measured');

// The client cache against its floor.
{
  let charter;
  let client;
  try {
    if (clientBuilt()) {
      charter = await startCharter();
      client = await warmClient(charter.port);
    } else result.notes.push('client SDK not built: only the floor was measured');
    await suite('cache', { lru_floor: lruFloorCase(), ...(client ? { client_cache_hit: client.hit } : {}) });
    if (client && client.stats().misses > 1) throw new Error(`client cache case did not hit: ${JSON.stringify(client.stats())}`);
  } finally {
    client?.close();
    await charter?.stop();
  }
}

result.seconds = round((Date.now() - started) / 1000, 1);
writeFileSync(join(ROOT, 'bench', 'results', 'micro.json'), JSON.stringify(result, null, 2) + '\n');
log(`wrote bench/results/micro.json (${result.seconds} s)`);
