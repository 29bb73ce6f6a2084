import { describe, expect, it } from 'vitest';
import { decide, explain, MemorySources, type AttributeSource } from '../../src/policy/index.js';
import { compileText } from './helpers.js';

const NOW = new Date('2026-11-25T10:07:30Z'); // Wednesday

function rules(body: string) {
  const result = compileText(`rules:\n${body}`);
  if (!result.set) throw new Error(result.diagnostics.map((d) => d.message).join('\n'));
  return result.set;
}

const rule = (id: string, effect: 'allow' | 'deny', condition?: string, extra = '') =>
  `  - id: ${id}\n    effect: ${effect}\n    actors: "*"\n    actions: [read]\n    resources: ["uon://svc/doc/*"]\n${condition ? `    condition: ${JSON.stringify(condition)}\n` : ''}${extra}`;

class CountingSource extends MemorySources implements AttributeSource {
  readonly reads: string[] = [];
  override getAttributes(id: string) {
    this.reads.push(id);
    return super.getAttributes(id);
  }
}

function ask(set: ReturnType<typeof rules>, request: Partial<Parameters<typeof decide>[1]> = {}, sources = new CountingSource(), now = NOW) {
  return decide(set, { actor: 'user:1', action: 'read', resource: 'uon://svc/doc/1', ...request }, { attributes: sources, relations: sources, now });
}

describe('combining', () => {
  it('denies by default', () => {
    const d = ask(rules(rule('a', 'allow', 'false')));
    expect(d.effect).toBe('DENY');
    expect(d.policyIds).toEqual([]);
    expect(d.reason).toMatch(/denied by default/);
    const none = ask(rules(rule('a', 'allow')), { action: 'write' });
    expect(none.reason).toBe('denied by default: no rule covers this action on this resource');
  });

  it('lets an applying deny override any allow, whatever the order', () => {
    const d = ask(rules(rule('a', 'allow') + rule('d', 'deny', 'true')));
    expect(d).toMatchObject({ effect: 'DENY', policyIds: ['t/d'] });
    const e = ask(rules(rule('d', 'deny', 'true') + rule('a', 'allow')));
    expect(e).toMatchObject({ effect: 'DENY', policyIds: ['t/d'] });
  });

  it('allows when an allow applies and no deny does', () => {
    const d = ask(rules(rule('a', 'allow') + rule('d', 'deny', 'false')));
    expect(d).toMatchObject({ effect: 'ALLOW', policyIds: ['t/a'] });
  });

  it('never grants on an erroring allow', () => {
    const d = ask(rules(rule('a', 'allow', 'actor.missing == "x"')));
    expect(d.effect).toBe('DENY');
    expect(d.errors).toEqual(['t/a: No such key: missing']);
    expect(d.reason).toContain('No such key: missing');
  });

  it('applies an erroring deny (fail closed)', () => {
    const d = ask(rules(rule('a', 'allow') + rule('d', 'deny', 'actor.missing == "x"')));
    expect(d).toMatchObject({ effect: 'DENY', policyIds: ['t/d'] });
    expect(d.reason).toMatch(/a failing deny applies/);
  });

  it('treats a non-bool result as an error', () => {
    const d = ask(rules(rule('a', 'allow', 'actor.flag')), {}, new CountingSource().setEntity('user:1', { flag: 'yes' }) as CountingSource);
    expect(d.effect).toBe('DENY');
    expect(d.errors[0]).toMatch(/not a bool/);
  });

  it('explains every candidate', () => {
    const set = rules(rule('a', 'allow', 'false') + rule('b', 'allow', 'actor.missing') + rule('d', 'deny', 'false'));
    const d = explain(set, { actor: 'user:1', action: 'read', resource: 'uon://svc/doc/1' }, { attributes: new MemorySources(), relations: new MemorySources(), now: NOW });
    expect(d.trace.map((t) => `${t.ruleId}:${t.outcome}`)).toEqual(['t/d:condition-false', 't/a:condition-false', 't/b:condition-error']);
  });
});

describe('matching', () => {
  const matcherSet = rules(`  - id: ids
    effect: allow
    actors: { ids: ["spiffe://prod.test/workload/*/production"] }
    actions: [call]
    resources: ["uon://api/**"]
  - id: groups
    effect: allow
    actors: { groups: [ops, sre] }
    actions: ["*"]
    resources: ["uon://infra/*/*"]
  - id: both
    effect: allow
    actors: { ids: ["spiffe://corp.test/**"], groups: [admins] }
    actions: [admin]
    resources: ["**"]
`);
  const sources = new CountingSource()
    .setEntity('spiffe://x/u/ops', { groups: ['ops'] })
    .setEntity('spiffe://corp.test/u/1', { groups: ['admins'] })
    .setEntity('spiffe://other.test/u/1', { groups: ['admins'] }) as CountingSource;
  const check = (actor: string, action: string, resource: string) => ask(matcherSet, { actor, action, resource }, sources).effect;

  it('matches SPIFFE patterns segment by segment', () => {
    expect(check('spiffe://prod.test/workload/checkout/production', 'call', 'uon://api/x/y/z')).toBe('ALLOW');
    expect(check('spiffe://prod.test/workload/checkout/staging', 'call', 'uon://api/x')).toBe('DENY');
    expect(check('spiffe://prod.test/workload/a/b/production', 'call', 'uon://api/x')).toBe('DENY');
  });

  it('matches groups from stored attributes, any of them', () => {
    expect(check('spiffe://x/u/ops', 'restart', 'uon://infra/db/1')).toBe('ALLOW');
    expect(check('spiffe://x/u/ops', 'restart', 'uon://infra/db/1/extra')).toBe('DENY');
    expect(check('spiffe://x/u/unknown', 'restart', 'uon://infra/db/1')).toBe('DENY');
  });

  it('requires both ids and groups when both are given', () => {
    expect(check('spiffe://corp.test/u/1', 'admin', 'anything-at-all')).toBe('ALLOW');
    expect(check('spiffe://other.test/u/1', 'admin', 'anything-at-all')).toBe('DENY');
  });
});

describe('attributes', () => {
  const set = rules(rule('a', 'allow', 'resource.owner == actor.id && actor_claims.mfa == true'));

  it('lets stored resource attributes win over caller-supplied ones', () => {
    const sources = new CountingSource().setEntity('uon://svc/doc/1', { owner: 'user:2' }) as CountingSource;
    const d = ask(set, { resourceAttributes: { owner: 'user:1' }, actorClaims: { mfa: true } }, sources);
    expect(d.effect).toBe('DENY');
  });

  it('fills gaps from caller-supplied resource attributes', () => {
    const d = ask(set, { resourceAttributes: { owner: 'user:1' }, actorClaims: { mfa: true } });
    expect(d.effect).toBe('ALLOW');
  });

  it('never lets a caller override a resource id', () => {
    const idSet = rules(rule('a', 'allow', 'resource.id == "uon://svc/doc/secret"'));
    expect(ask(idSet, { resourceAttributes: { id: 'uon://svc/doc/secret' } }).effect).toBe('DENY');
  });

  it('keeps actor claims apart from stored actor attributes', () => {
    const claimsSet = rules(rule('a', 'allow', 'actor.role == "admin"'));
    const d = ask(claimsSet, { actorClaims: { role: 'admin' } });
    expect(d.effect).toBe('DENY');
  });

  it('does not let the caller set the clock', () => {
    const timeSet = rules(rule('a', 'allow', 'env.time.getFullYear() == 2026'));
    expect(ask(timeSet, { context: { time: '1999-01-01T00:00:00Z' } }).effect).toBe('ALLOW');
  });

  it('never shows a caller-supplied time, however a condition looks for it', () => {
    const context = { time: 'caller', region: 'emea' };
    // A rule that does not read the clock still cannot see the caller's `time`.
    expect(ask(rules(rule('a', 'allow', 'env.region == "emea" && !has(env.time)')), { context }).effect).toBe('DENY');
    expect(ask(rules(rule('a', 'allow', 'env.region == "emea" && "time" in env')), { context }).effect).toBe('ALLOW');
    expect(ask(rules(rule('a', 'allow', 'env["time"] == "caller"')), { context }).effect).toBe('DENY');
    expect(ask(rules(rule('a', 'allow', '"time" in env && env.region == "emea"')), { context: { region: 'emea' } }).effect).toBe('ALLOW');
    // A rule that does not read the clock sees the caller's context, without a `time` key.
    expect(ask(rules(rule('a', 'allow', 'env.region == "emea"')), { context }).effect).toBe('ALLOW');
    expect(context).toEqual({ time: 'caller', region: 'emea' }); // untouched
  });

  it('adds the clock for a later rule after an earlier one that did not need it', () => {
    const set = rules(rule('a', 'allow', 'env.region == "amer"') + rule('b', 'allow', 'env.region == "emea" && env.time.getFullYear() >= 2026'));
    const d = ask(set, { context: { region: 'emea' } });
    expect(d.effect).toBe('ALLOW');
    expect(d.policyIds).toHaveLength(1);
    expect(d.policyIds[0]).toMatch(/\/b$/);
    expect(d.dependsOnTime).toBe(true);
  });

  it('fetches only what candidate rules read', () => {
    const idOnly = rules(rule('a', 'allow', 'actor.id == "user:1"'));
    const sources = new CountingSource();
    const d = ask(idOnly, {}, sources);
    expect(d.effect).toBe('ALLOW');
    expect(sources.reads).toEqual([]);
    expect(d.entityIds).toEqual([]);

    const both = rules(rule('a', 'allow', 'actor.x == resource.x'));
    const s2 = new CountingSource();
    const d2 = ask(both, {}, s2);
    expect(s2.reads).toEqual(['user:1', 'uon://svc/doc/1']);
    expect(d2.entityIds).toEqual(['user:1', 'uon://svc/doc/1']);

    const s3 = new CountingSource();
    ask(both, { action: 'write' }, s3);
    expect(s3.reads).toEqual([]);
  });

  it('reads each entity once per decision', () => {
    const set2 = rules(rule('a', 'allow', 'actor.x == 1.0') + rule('b', 'allow', 'actor.y == 1.0') + rule('d', 'deny', 'has(actor.z)'));
    const sources = new CountingSource().setEntity('user:1', { y: 1 }) as CountingSource;
    expect(ask(set2, {}, sources).effect).toBe('ALLOW');
    expect(sources.reads).toEqual(['user:1']);
  });
});

describe('caching hints', () => {
  it('gives the default TTL to decisions that do not read the clock', () => {
    const d = ask(rules(rule('a', 'allow')));
    expect(d.dependsOnTime).toBe(false);
    expect(d.cacheTtlMs).toBe(60_000);
  });

  it('caches hour/weekday decisions only until the next quarter hour', () => {
    const set = rules(rule('a', 'allow', 'env.time.getHours("Asia/Kolkata") >= 9'));
    const d = ask(set, {}, new CountingSource(), new Date('2026-11-25T10:14:20Z'));
    expect(d.dependsOnTime).toBe(true);
    // 10:14:20 → the next quarter hour is 10:15:00 (Kolkata's hour changes at :30 UTC).
    expect(d.cacheTtlMs).toBe(40_000);
    // Further away than the default TTL: the default caps it.
    expect(ask(set).cacheTtlMs).toBe(60_000);
  });

  it('caches minute decisions until the next minute, and instant comparisons not at all', () => {
    expect(ask(rules(rule('a', 'allow', 'env.time.getMinutes() > 5'))).cacheTtlMs).toBe(30_000);
    expect(ask(rules(rule('a', 'allow', 'env.time > timestamp("2026-01-01T00:00:00Z")'))).cacheTtlMs).toBe(0);
  });

  it('marks decisions that read relationships', () => {
    const set = rules(rule('a', 'allow', 'related(resource.id, "viewer", actor.id)'));
    const sources = new CountingSource().addTuple('uon://svc/doc/1', 'viewer', 'team:x').addTuple('team:x', 'member', 'user:1') as CountingSource;
    const d = ask(set, {}, sources);
    expect(d).toMatchObject({ effect: 'ALLOW', dependsOnRelations: true });
    expect(ask(set, { actor: 'user:2' }, sources).effect).toBe('DENY');
  });
});

// A condition that reads only the actor's attributes is evaluated once per attributes object
// (the store hands out one frozen object per entity and revision). These check that no outcome
// outlives its object and that nothing else is remembered.
describe('conditions that read only the actor', () => {
  const actorOnly = (set: ReturnType<typeof rules>, id: string) => set.rules.find((r) => r.id === `t/${id}`)!.actorOutcomes;

  it('are recognised: actor attributes and constants only, nothing that varies otherwise', () => {
    const set = rules(
      rule('only-actor', 'allow', 'has(actor.roles) && "admin" in actor.roles') +
        rule('actor-and-resource', 'allow', 'actor.team == resource.team') +
        rule('actor-and-env', 'allow', 'actor.region == env.region') +
        rule('actor-and-clock', 'allow', 'actor.on_call && env.time.getHours("UTC") < 9') +
        rule('actor-and-relation', 'allow', 'actor.team != "" && related("team:x", "member", actor.id)') +
        rule('actor-and-action', 'allow', 'actor.level > 1 && action == "read"') +
        rule('actor-and-claims', 'allow', 'actor.region == actor_claims.region') +
        rule('id-only', 'allow', 'actor.id == "user:1"') +
        rule('constant', 'allow', 'true'),
    );
    expect(actorOnly(set, 'only-actor')).toBeInstanceOf(WeakMap);
    for (const id of ['actor-and-resource', 'actor-and-env', 'actor-and-clock', 'actor-and-relation', 'actor-and-action', 'actor-and-claims', 'id-only', 'constant']) {
      expect(actorOnly(set, id), id).toBeUndefined();
    }
  });

  it('follow a change to the actor (a new attributes object) and are never shared between actors', () => {
    const set = rules(rule('d', 'deny', 'has(actor.suspended) && actor.suspended') + rule('a', 'allow'));
    const sources = new CountingSource().setEntity('user:1', { suspended: false }).setEntity('user:2', { suspended: true });
    expect(ask(set, {}, sources).effect).toBe('ALLOW');
    expect(ask(set, { actor: 'user:2' }, sources).effect).toBe('DENY');
    expect(ask(set, {}, sources).effect).toBe('ALLOW');
    sources.setEntity('user:1', { suspended: true }); // as after a write: another object
    expect(ask(set, {}, sources)).toMatchObject({ effect: 'DENY', policyIds: ['t/d'] });
    // An actor the store does not know is evaluated as `{id}` every time.
    expect(ask(set, { actor: 'user:3' }, sources).effect).toBe('ALLOW');
  });

  it('are remembered for the in-memory fixtures too: they keep a deeply frozen copy', () => {
    const attributes = { roles: ['admin'], nested: { level: 2 } };
    const sources = new CountingSource().setEntity('user:1', attributes);
    attributes.roles.push('changed');
    const kept = sources.getAttributes('user:1')!;
    expect(kept).toEqual({ roles: ['admin'], nested: { level: 2 } });
    expect(Object.isFrozen(kept) && Object.isFrozen(kept.roles) && Object.isFrozen(kept.nested)).toBe(true);
    expect(sources.getAttributes('user:1')).toBe(kept);
  });

  it('are not remembered for an attributes object that is not frozen: it may change in place', () => {
    const set = rules(rule('d', 'deny', 'has(actor.suspended) && actor.suspended') + rule('a', 'allow'));
    const actor: Record<string, unknown> = { suspended: false };
    const source = new CountingSource();
    source.getAttributes = (id: string) => (id === 'user:1' ? actor : undefined);
    expect(ask(set, {}, source).effect).toBe('ALLOW');
    actor.suspended = true;
    expect(ask(set, {}, source)).toMatchObject({ effect: 'DENY', policyIds: ['t/d'] });
  });

  it('remember errors too, and a mixed condition is evaluated for every request', () => {
    const set = rules(rule('a', 'allow', 'actor.level > 1'));
    const sources = new CountingSource().setEntity('user:1', { team: 'x' }).setEntity('uon://svc/doc/1', { team: 'x' }).setEntity('uon://svc/doc/2', { team: 'y' });
    const first = ask(set, {}, sources);
    expect(first.errors).toEqual(['t/a: No such key: level']);
    expect(ask(set, {}, sources).errors).toEqual(['t/a: No such key: level']);
    const mixed = rules(rule('m', 'allow', 'actor.team == resource.team'));
    expect(ask(mixed, {}, sources).effect).toBe('ALLOW');
    expect(ask(mixed, { resource: 'uon://svc/doc/2' }, sources).effect).toBe('DENY');
  });
});
