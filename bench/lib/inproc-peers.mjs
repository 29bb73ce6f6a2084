/**
 * In-process peers on an equivalent ABAC rule: Cedar (@cedar-policy/cedar-wasm, policies
 * pre-parsed once, entities passed per request as Cedar requires) and casbin (node-casbin,
 * enforceSync). Each returns decision functions that must answer ALLOW for Alice reading p-100.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALICE, ROOT, paymentsRecords } from './payments.mjs';
import { peerRequire } from './peers-install.mjs';

const PEERS = join(ROOT, 'bench', 'peers');

function fixtures() {
  const records = paymentsRecords();
  const alice = records.find((r) => r.id === ALICE).attributes;
  const p100 = records.find((r) => r.id === 'uon://payments/payment/p-100').attributes;
  return { alice, p100 };
}

export function cedarCases() {
  const cedar = peerRequire('@cedar-policy/cedar-wasm/nodejs');
  const text = readFileSync(join(PEERS, 'cedar', 'payments.cedar'), 'utf8');
  const singleText = text.split(/\n(?=@id\()/).find((part) => part.startsWith('@id("payment-read")'));
  for (const [id, t] of [['single', singleText], ['guarded', text]]) {
    const r = cedar.preparsePolicySet(id, { staticPolicies: t });
    if (r.type !== 'success') throw new Error(`Cedar policies do not parse: ${JSON.stringify(r.errors ?? r)}`);
  }
  const { alice, p100 } = fixtures();
  const entities = [
    {
      uid: { type: 'User', id: ALICE },
      attrs: { region: alice.region, country: alice.country, timezone: alice.timezone, name: alice.name, employee_id: alice.employee_id },
      parents: alice.groups.map((g) => ({ type: 'Group', id: g })),
    },
    ...alice.groups.map((g) => ({ uid: { type: 'Group', id: g }, attrs: {}, parents: [] })),
    // Cedar has no floating-point type: the amount travels in cents.
    { uid: { type: 'Payment', id: 'p-100' }, attrs: { customer_region: p100.customer_region, amount_cents: Math.round(p100.amount * 100), currency: p100.currency }, parents: [] },
  ];
  const call = (set) => ({
    principal: { type: 'User', id: ALICE },
    action: { type: 'Action', id: 'read' },
    resource: { type: 'Payment', id: 'p-100' },
    context: { ip: '10.1.2.3', country: 'GB' },
    preparsedPolicySetId: set,
    entities,
  });
  const single = call('single');
  const guarded = call('guarded');
  const decide = (c) => {
    const a = cedar.statefulIsAuthorized(c);
    return a.type === 'success' && a.response.decision === 'allow';
  };
  for (const c of [single, guarded]) {
    const a = cedar.statefulIsAuthorized(c);
    if (!(a.type === 'success' && a.response.decision === 'allow')) throw new Error(`Cedar fixture broken: ${JSON.stringify(a)}`);
  }
  // A deny must be a deny (the rules really run).
  const other = { ...guarded, context: { ip: '10.1.2.3', country: 'FR' } };
  if (decide(other)) throw new Error('Cedar fixture broken: home-country guardrail did not deny');
  return { version: cedar.getCedarVersion?.() ?? 'unknown', single: () => decide(single), guarded: () => decide(guarded) };
}

export async function casbinCases() {
  const casbin = peerRequire('casbin');
  const { PAYMENT_READ, GUARDRAILS, GROUPINGS } = await import('../peers/casbin/policies.mjs');
  const modelText = readFileSync(join(PEERS, 'casbin', 'model.conf'), 'utf8');
  const make = async (rows) => {
    const e = await casbin.newEnforcer(casbin.newModelFromString(modelText));
    for (const row of rows) await e.addPolicy(...row);
    for (const g of GROUPINGS) await e.addGroupingPolicy(...g);
    return e;
  };
  const single = await make([PAYMENT_READ]);
  const guarded = await make([PAYMENT_READ, ...GUARDRAILS]);
  const { alice, p100 } = fixtures();
  const sub = { id: ALICE, region: alice.region, country: alice.country, suspended: false };
  const obj = { id: 'uon://payments/payment/p-100', customer_region: p100.customer_region, amount: p100.amount };
  const env = { ip: '10.1.2.3', country: 'GB' };
  for (const e of [single, guarded]) if (e.enforceSync(sub, obj, 'read', env) !== true) throw new Error('casbin fixture broken: expected allow');
  if (guarded.enforceSync(sub, obj, 'read', { ...env, country: 'FR' }) !== false) throw new Error('casbin fixture broken: home-country guardrail did not deny');
  if (single.enforceSync({ ...sub, region: 'amer' }, obj, 'read', env) !== false) throw new Error('casbin fixture broken: region rule did not deny');
  let version = 'unknown';
  try {
    version = JSON.parse(readFileSync(peerRequire.resolve('casbin/package.json'), 'utf8')).version;
  } catch {
    /* exports map may hide package.json */
  }
  return { version, single: () => single.enforceSync(sub, obj, 'read', env), guarded: () => guarded.enforceSync(sub, obj, 'read', env) };
}
