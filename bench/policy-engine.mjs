// Policy engine speed (issue targets): a payments decision with attributes in memory,
// the same decision with 10,000 extra rules loaded, and compiling 10,000 rules.
// Run: npm run build && node bench/policy-engine.mjs
import { readFileSync } from 'node:fs';
import { compilePolicySet, decide, MemorySources } from '../dist/policy/index.js';
import { readPolicySources } from '../dist/policy/load.js';

const payments = await readPolicySources('policies/payments');
function synthetic(n) {
  const rules = [];
  for (let i = 0; i < n; i++) {
    rules.push(`  - id: r${i}\n    effect: ${i % 10 === 0 ? 'deny' : 'allow'}\n    actors: "*"\n    actions: [read, write]\n    resources: ["uon://svc-${i}/thing/*"]\n    condition: resource.owner == actor.id && env.time.getHours("UTC") >= ${i % 24}`);
  }
  return { path: 'bench/synthetic.yaml', setName: 'synthetic', text: `apiVersion: charter.dev/v1\nrules:\n${rules.join('\n')}\n` };
}
const sources = new MemorySources();
for (const line of readFileSync('policies/payments/data.ndjson', 'utf8').split('\n')) if (line.trim()) sources.applyRecord(JSON.parse(line));

function median(xs) { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; }
function nsPerDecision(set, request, iterations = 200_000) {
  const now = new Date('2026-11-25T10:30:00Z');
  const src = { attributes: sources, relations: sources, now };
  for (let i = 0; i < 20_000; i++) decide(set, request, src); // warm-up
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) decide(set, request, src);
    rounds.push(Number(process.hrtime.bigint() - t) / iterations);
  }
  return median(rounds);
}

const t0 = performance.now();
const big = compilePolicySet([...payments, synthetic(10_000)]);
const compileMs = performance.now() - t0;
if (!big.set) throw new Error('synthetic set failed to compile');
const small = compilePolicySet(payments).set;
const read = { actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100' };
const refund = { ...read, action: 'refund', context: { ip: '10.2.3.4' } };
const results = {};
// Interleave small and big so drift on a shared machine hits both alike.
const small1 = [], big1 = [], smallRefund = [];
for (let r = 0; r < 3; r++) {
  small1.push(nsPerDecision(small, read, 100_000));
  big1.push(nsPerDecision(big.set, read, 100_000));
  smallRefund.push(nsPerDecision(small, refund, 100_000));
}
results.decide_read_ns = median(small1);
results.decide_read_10k_rules_ns = median(big1);
results.decide_refund_ns = median(smallRefund);
results.ratio_10k_vs_small = results.decide_read_10k_rules_ns / results.decide_read_ns;
results.compile_10k_rules_ms = compileMs;
results.rules_small = small.ruleCount;
results.rules_big = big.set.ruleCount;
console.log(JSON.stringify(results, null, 2));
