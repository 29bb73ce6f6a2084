import { describe, expect, it } from 'vitest';
import { compilePolicySet, formatDiagnostic } from '../../src/policy/index.js';
import { compileText, errorsOf } from './helpers.js';

const RULE = `rules:
  - id: r1
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["uon://a/b/*"]
`;

describe('structure errors', () => {
  it('reports unknown keys with a suggestion, at the key', () => {
    const result = compileText(`rules:\n  - id: r1\n    efect: allow\n    actors: "*"\n    actions: [read]\n    resources: ["x"]\n`);
    expect(result.set).toBeUndefined();
    const errors = errorsOf(result);
    expect(errors).toContain("4:5 rules[0]: unknown key 'efect' (did you mean 'effect'?)");
    expect(errors).toContain("3:5 rules[0]: missing required key 'effect'");
  });

  it('reports wrong types and bad enum values', () => {
    const errors = errorsOf(compileText(`rules:\n  - id: r1\n    effect: permit\n    actors: "*"\n    actions: read\n    resources: ["x"]\n`));
    expect(errors).toContain('4:13 rules[0].effect: must be one of: allow, deny');
    expect(errors.some((e) => e.startsWith('6:14 rules[0].actions: must be array'))).toBe(true);
  });

  it('explains the actors forms', () => {
    const errors = errorsOf(compileText(RULE.replace('actors: "*"', 'actors: everyone')));
    expect(errors).toEqual(['5:13 rules[0].actors: must be "*" (any actor) or a map with \'ids\' and/or \'groups\'']);
  });

  it('rejects a missing or wrong apiVersion', () => {
    const result = compilePolicySet([{ path: 'p.yaml', setName: 's', text: RULE }]);
    expect(errorsOf(result)).toEqual(["1:1 missing required key 'apiVersion'"]);
    const wrong = compilePolicySet([{ path: 'p.yaml', setName: 's', text: `apiVersion: charter.dev/v9\n${RULE}` }]);
    expect(errorsOf(wrong)).toEqual(["1:13 apiVersion: must be 'charter.dev/v1'"]);
  });

  it('reports YAML syntax errors with positions', () => {
    const errors = errorsOf(compileText('rules:\n  - id: [unclosed\n'));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^\d+:\d+ YAML: /);
  });

  it('rejects partial-segment wildcards', () => {
    const errors = errorsOf(compileText(RULE.replace('uon://a/b/*', 'uon://a/b/p-*')));
    expect(errors).toEqual(["7:17 wildcards must be whole segments ('*' or '**'), not 'p-*'"]);
  });

  it('reports duplicate rule ids, across files of a set, pointing at the first', () => {
    const result = compileText(RULE, { 'other.yaml': `apiVersion: charter.dev/v1\n${RULE}` });
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0].file).toBe('policies/t/other.yaml');
    expect(errors[0].message).toBe("duplicate rule id 'r1' in set 't' (first defined at policies/t/main.yaml:3:9)");
  });

  it('allows the same rule id in different sets', () => {
    const result = compilePolicySet([
      { path: 'a/x.yaml', setName: 'a', text: `apiVersion: charter.dev/v1\n${RULE}` },
      { path: 'b/x.yaml', setName: 'b', text: `apiVersion: charter.dev/v1\n${RULE}` },
    ]);
    expect(result.set?.rules.map((r) => r.id)).toEqual(['a/r1', 'b/r1']);
  });
});

describe('condition errors', () => {
  it('reports every broken condition at file:line:col, not just the first', () => {
    const text = `rules:
  - id: a
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: actor.region == 
  - id: b
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: actor.region == unknownThing
`;
    const result = compileText(text);
    const errors = errorsOf(result);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^8:31 rule 'a': CEL: Unexpected token/);
    expect(errors[1]).toBe("14:32 rule 'b': CEL: Unknown variable: unknownThing");
    const rendered = formatDiagnostic(result.diagnostics[1]);
    expect(rendered).toContain('policies/t/main.yaml:14:32:');
    expect(rendered).toContain('14 |     condition: actor.region == unknownThing');
  });

  it('locates errors inside block scalars', () => {
    const errors = errorsOf(
      compileText(`rules:
  - id: a
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: |
      actor.region == "emea" &&
        resource.amount <= "ten" + 1
`),
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^10:\d+ rule 'a': CEL: /);
  });

  it('type-checks against the declared schema', () => {
    const errors = errorsOf(
      compileText(`schema:
  actor: { region: string }
rules:
  - id: typo
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: actor.regoin == "emea"
  - id: type
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: actor.region == 3
`),
    );
    expect(errors).toEqual(["10:22 rule 'typo': CEL: No such key: regoin", "16:16 rule 'type': CEL: no such overload: string == int"]);
  });

  it('rejects a condition that is not a bool', () => {
    const errors = errorsOf(compileText(RULE + '    condition: \'"text"\'\n'));
    expect(errors).toEqual(["8:17 rule 'r1': a condition must be a bool, but this is string"]);
  });

  it('reports unknown and cyclic named expressions', () => {
    const errors = errorsOf(
      compileText(`expressions:
  a: V.b
  b: V.a
rules:
  - id: r1
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: V.missing
`),
    );
    expect(errors.some((e) => e.includes("expression 'a' refers to itself") || e.includes("expression 'b' refers to itself"))).toBe(true);
    expect(errors).toContain("11:16 rule 'r1': unknown expression 'V.missing' (declared: a, b)");
  });

  it('bounds cost: nested comprehensions and unsafe patterns are refused', () => {
    const errors = errorsOf(
      compileText(`rules:
  - id: nested
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: actor.groups.exists(g, actor.groups.exists(h, g == h))
  - id: regex
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: actor.name.matches("(a+)+$")
  - id: dynamic-regex
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["**"]
    condition: actor.name.matches(env.pattern)
`),
    );
    expect(errors).toHaveLength(3);
    expect(errors[0]).toContain('nested inside another');
    expect(errors[1]).toContain('nests quantifiers');
    expect(errors[2]).toContain('needs a literal pattern');
  });

  it('refuses huge expressions (structural limit)', () => {
    const big = Array.from({ length: 1500 }, (_, i) => `actor.a${i} == 1`).join(' || ');
    const errors = errorsOf(compileText(RULE + `    condition: ${JSON.stringify(big)}\n`));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/AST|nodes|limit/i);
  });
});

describe('warnings', () => {
  it('warns about allow rules an unconditional deny always overrides', () => {
    const result = compileText(`rules:
  - id: never
    effect: allow
    actors: { ids: ["spiffe://x/**"] }
    actions: [read]
    resources: ["uon://svc/thing/*"]
  - id: blanket
    effect: deny
    actors: "*"
    actions: ["*"]
    resources: ["uon://svc/**"]
  - id: fine
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["uon://other/*"]
`);
    expect(result.set).toBeDefined();
    const warnings = result.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
    expect(warnings).toEqual(["rule 't/never' is unreachable: deny rule 't/blanket' (policies/t/main.yaml:8) always overrides it"]);
  });
});

describe('revision', () => {
  it('is a content hash: same content same revision, any change a new one', () => {
    const a = compileText(RULE).set!;
    const b = compileText(RULE).set!;
    const c = compileText(RULE.replace('read', 'write')).set!;
    expect(a.revision).toBe(b.revision);
    expect(a.revision).not.toBe(c.revision);
    expect(a.revision).toMatch(/^[0-9a-f]{16}$/);
  });
});
