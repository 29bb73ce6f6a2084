/**
 * npm run bench — every benchmark, one after another, each in a fresh Node process (so one
 * suite's JIT state and garbage do not colour the next), then the report (summary.md, the
 * chart, the generated section of docs/benchmarks.md).
 *
 * Own suites: micro, load, peers, ci. Suites other engineers keep in bench/ (grpc-*, client-*,
 * revocation*, authzen-*, store*) run after them when present and committed; their own results
 * files are theirs. Not run here: bench/policy-engine.mjs (a standalone script whose refund
 * loop takes tens of minutes on this machine; bench:micro covers the same cases) and long soak
 * runs. Exit 1 if any suite failed (the others still run).
 *
 *   npm run bench                node bench/run.mjs --quick        node bench/run.mjs --own
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './lib/payments.mjs';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, own: { type: 'boolean', default: false } } });
const BENCH = join(ROOT, 'bench');
const quick = values.quick ? ['--quick'] : [];
const suites = [
  ['micro', ['micro.mjs', ...quick]],
  ['load', ['load.mjs', ...quick]],
  ['peers', ['peers.mjs', ...quick]],
  ['ci', ['ci.mjs'], values.quick ? { BENCH_QUICK: '1' } : {}],
];
if (!values.own) {
  // Only committed files (a colleague's scratch file in a working tree is not a suite).
  let files;
  try {
    files = execFileSync('git', ['ls-files', '.'], { cwd: BENCH, encoding: 'utf8' }).split('\n').filter((f) => f && !f.includes('/'));
  } catch {
    files = readdirSync(BENCH);
  }
  const others = files
    .filter((f) => /^(grpc-|client-|revocation|authzen-|store).*\.mjs$/.test(f) && f !== 'grpc-workers.mjs')
    .sort();
  for (const f of others) suites.push([f.replace(/\.mjs$/, ''), [f, ...(values.quick && /grpc-load/.test(f) ? ['--quick'] : [])]]);
}

const failed = [];
for (const [name, args, env] of suites) {
  process.stdout.write(`\n=== ${name}: node bench/${args.join(' ')}\n`);
  const t = Date.now();
  // From the repository root: some suites read policies/ relative to it.
  const run = () => spawnSync(process.execPath, [join('bench', args[0]), ...args.slice(1)], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...(values.quick ? { BENCH_QUICK: '1' } : {}), ...env } });
  let r = run();
  if (r.signal) {
    // A process killed by a signal (seen once: a V8 fatal error in deoptimisation with the wasm
    // peer loaded) says nothing about the code measured: run the suite once more.
    process.stdout.write(`=== ${name}: died by ${r.signal}; running it once more\n`);
    r = run();
  }
  process.stdout.write(`=== ${name}: ${r.status === 0 ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t) / 1000).toFixed(0)} s\n`);
  if (r.status !== 0) failed.push(name);
}
spawnSync(process.execPath, [join('bench', 'report.mjs')], { cwd: ROOT, stdio: 'inherit' });
if (failed.length) {
  process.stdout.write(`\nfailed: ${failed.join(', ')}\n`);
  process.exit(1);
}
