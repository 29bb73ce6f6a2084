/**
 * The payments scenario as benchmark fixtures: the bundled policy files, the bundled data,
 * synthetic extra rules (to show that the rule count does not change a decision's cost),
 * and the requests every benchmark asks.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePolicySet, MemorySources } from '../../dist/policy/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PAYMENTS_DIR = join(ROOT, 'policies', 'payments');

export const ALICE = 'spiffe://personnel.acme.test/eid/1001'; // payment-support, emea, GB
export const GRACE = 'spiffe://personnel.acme.test/eid/1007'; // member of team:payments through team:payments-oncall
export const P100 = 'uon://payments/payment/p-100'; // emea, 250 EUR
export const TOPIC = 'uon://kafka/topic/payments.settled';

/** The request all transports are compared on: Alice reads an emea payment from GB. ALLOW. */
export const READ_REQUEST = Object.freeze({ actor: ALICE, action: 'read', resource: P100, context: { ip: '10.1.2.3', country: 'GB' } });
/** Refund: region + amount + business hours in the actor's time zone (time-window family). */
export const REFUND_REQUEST = Object.freeze({ actor: ALICE, action: 'refund', resource: P100, context: { ip: '10.1.2.3', country: 'GB' } });
/** Publish to a topic owned by a team Grace belongs to through a nested team (relationship family). */
export const PUBLISH_REQUEST = Object.freeze({ actor: GRACE, action: 'publish', resource: TOPIC, context: {} });

/** The bundled payments policy files, as compiler sources. */
export function paymentsSources() {
  return readdirSync(PAYMENTS_DIR)
    .filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f))
    .sort()
    .map((f) => ({ path: `payments/${f}`, setName: 'payments', text: readFileSync(join(PAYMENTS_DIR, f), 'utf8') }));
}

export function declarationsSource() {
  return paymentsSources().find((s) => s.path.endsWith('_declarations.yaml'));
}

/** `count` synthetic rules over other resource prefixes, in the policy format of policies/payments. */
export function syntheticSource(count) {
  const lines = ['apiVersion: charter.dev/v1', `description: ${count} synthetic rules over uon://svc-<i>/ (benchmark only).`, 'rules:'];
  for (let i = 0; i < count; i++) {
    const family = i % 3;
    lines.push(`  - id: synthetic-${i}`);
    lines.push(`    effect: ${i % 10 === 9 ? 'deny' : 'allow'}`);
    lines.push('    actors:');
    lines.push(`      groups: [group-${i % 50}]`);
    lines.push(`    actions: [read, write, refund]`);
    lines.push(`    resources: ["uon://svc-${i}/thing/*"]`);
    if (family === 0) lines.push('    condition: actor.region == resource.customer_region');
    else if (family === 1) lines.push('    condition: resource.amount <= C.max_refund_amount');
    else lines.push('    condition: related(resource.id, "owner", actor.id)');
  }
  return { path: 'payments/synthetic.yaml', setName: 'payments', text: lines.join('\n') + '\n' };
}

export function compileOrThrow(sources) {
  const { set, diagnostics } = compilePolicySet(sources);
  if (!set) throw new Error(`benchmark policies do not compile:\n${diagnostics.map((d) => `${d.path ?? d.file ?? ''}:${d.line ?? ''}: ${d.message}`).join('\n')}`);
  return set;
}

export function countRules(sources) {
  return sources.reduce((n, s) => n + (s.text.match(/^\s*- id: /gm) ?? []).length, 0);
}

/** The bundled payments set (its own rules only), and the same plus `extra` synthetic rules. */
export function paymentsPolicySets(extra = 10_000) {
  const small = paymentsSources();
  const large = [...small, syntheticSource(extra)];
  return {
    small: compileOrThrow(small),
    large: compileOrThrow(large),
    smallRules: countRules(small),
    largeRules: countRules(large),
  };
}

/** A set of the declarations plus a single rule taken from the bundled files (one rule family). */
export function singleRuleSet(ruleId) {
  const sources = paymentsSources();
  for (const s of sources) {
    const re = new RegExp(`^  - id: ${ruleId}\\n(?:(?!  - id: )[\\s\\S])*`, 'm');
    const m = s.text.match(re);
    if (m) {
      const text = `apiVersion: charter.dev/v1\ndescription: benchmark, one rule\nrules:\n${m[0]}`;
      return compileOrThrow([declarationsSource(), { path: 'payments/one-rule.yaml', setName: 'payments', text }]);
    }
  }
  throw new Error(`no rule ${ruleId} in policies/payments`);
}

export function paymentsRecords() {
  return readFileSync(join(PAYMENTS_DIR, 'data.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

/** The bundled data in an in-memory source (the evaluator's reference AttributeSource). */
export function paymentsMemorySources() {
  const src = new MemorySources();
  for (const r of paymentsRecords()) src.applyRecord(r);
  return src;
}
