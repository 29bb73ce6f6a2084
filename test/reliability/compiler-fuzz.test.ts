/**
 * Bad policy input never crashes the compiler: random YAML, random CEL conditions, truncated and
 * mutated copies of the real payments policies, and pathological nesting all come back as a
 * CompileResult whose every diagnostic is located (file, line ≥ 1, column ≥ 1, inside the file).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicySet, formatDiagnostic, type CompileResult, type PolicySource } from '../../src/policy/index.js';
import { PAYMENTS_POLICIES, tally } from './helpers.js';

const FILE = 'policies/fuzz/main.yaml';

/** Compiles and checks the invariants every result must meet; returns the result. */
function compileChecked(sources: PolicySource[]): CompileResult {
  let result: CompileResult;
  try {
    result = compilePolicySet(sources);
  } catch (err) {
    throw new Error(`compilePolicySet threw on ${JSON.stringify(sources.map((s) => s.text)).slice(0, 2000)}: ${(err as Error)?.stack ?? String(err)}`);
  }
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (result.set === undefined) expect(errors.length, 'a rejected set names at least one error').toBeGreaterThan(0);
  else expect(errors, 'an accepted set has no errors').toEqual([]);
  for (const d of result.diagnostics) {
    const source = sources.find((s) => s.path === d.file);
    expect(source, `diagnostic names one of the files: ${formatDiagnostic(d)}`).toBeDefined();
    expect(Number.isInteger(d.line) && d.line >= 1, `line ≥ 1: ${formatDiagnostic(d)}`).toBe(true);
    expect(Number.isInteger(d.column) && d.column >= 1, `column ≥ 1: ${formatDiagnostic(d)}`).toBe(true);
    // Inside the file: at most one line past the last (an error "at end of input").
    expect(d.line).toBeLessThanOrEqual(source!.text.split('\n').length + 1);
    expect(d.message.length).toBeGreaterThan(0);
    expect(() => formatDiagnostic(d)).not.toThrow();
  }
  return result;
}

function one(text: string): PolicySource[] {
  return [{ path: FILE, setName: 'fuzz', text }];
}

function ruleWithCondition(condition: string): string {
  // JSON-quoted, so any string is a valid YAML scalar and the CEL text reaches the CEL parser.
  return `apiVersion: charter.dev/v1
rules:
  - id: r1
    effect: allow
    actors: "*"
    actions: [read]
    resources: ["uon://payments/payment/*"]
    condition: ${JSON.stringify(condition)}
`;
}

const CEL_TOKENS = [
  'actor', 'resource', 'env', 'action', '.', 'region', 'groups', 'amount', 'time', 'id', 'has(', 'size(', 'related(', 'matches(',
  'getHours(', '"Europe/London"', ')', '(', '[', ']', '{', '}', ',', ':', '?', '&&', '||', '!', '==', '!=', '<', '>=', '+', '-', '*', '/',
  '%', ' in ', '1', '0', '-1', '1.5', '1e308', '9223372036854775808', 'true', 'false', 'null', '"x"', "'y'", '"', "'", '\\', 'b"', 'r"',
  '.all(x, ', '.exists(x, ', '.map(x, ', 'x', 'C.', 'E.', 'timestamp("2024-01-01T00:00:00Z")', 'duration("1h")', 'int(', 'string(',
  '\u0000', '\u202e', '😀', '\ud800', ' ', '\n', '\t',
];

const celish = fc.array(fc.constantFrom(...CEL_TOKENS), { maxLength: 40 }).map((t) => t.join(''));
const anyText = fc.string({ unit: 'binary', maxLength: 200 });

const YAML_TOKENS = [
  'apiVersion: charter.dev/v1\n', 'rules:\n', '  - id: r1\n', '    effect: allow\n', '    effect: deny\n', '    actors: "*"\n',
  '    actions: [read]\n', '    resources: ["uon://a/b/*"]\n', '    condition: actor.region == "emea"\n', 'schema:\n', '  actor:\n',
  '    region: string\n', 'constants:\n', '  c: 1\n', 'expressions:\n', '  e: true\n', '- ', ': ', '{', '}', '[', ']', '&a ', '*a', '!!binary ',
  '!!python/object ', '|\n', '>-\n', '"', "'", '#', '\t', '  ', '\n', '---\n', '...\n', '%YAML 1.2\n', '? ', '<<: *a\n', '\ufeff', '\u0000',
  // Tags and forms a plain-YAML fast path (js-yaml) and the positioned parser may treat differently.
  '!!js/function ', '!!js/regexp /a/ ', '!!binary aGk= ', '!!timestamp 2001-12-14 ', '!!set ', '!!omap ', '? [a, b]\n', '{<<: *a}',
  '- &a {x: 1}\n', '- *a\n', '%TAG ! tag:x,2000:\n', '--- !x\n', '|+\n', '>2\n', '999999999999999999999999\n', '.nan\n',
];
const yamlish = fc.array(fc.constantFrom(...YAML_TOKENS), { maxLength: 60 }).map((t) => t.join(''));

function paymentsSources(): PolicySource[] {
  return readdirSync(PAYMENTS_POLICIES)
    .filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'))
    .sort()
    .map((f) => ({ path: `policies/payments/${f}`, setName: 'payments', text: readFileSync(join(PAYMENTS_POLICIES, f), 'utf8') }));
}

describe('the compiler on bad input (property-based)', () => {
  it('random CEL in a condition: a compiled set or errors located in the file, never a throw', () => {
    const outcomes = tally();
    fc.assert(
      fc.property(fc.oneof(celish, anyText), (cel) => {
        const r = compileChecked(one(ruleWithCondition(cel)));
        outcomes.add(r.set ? 'compiled' : 'rejected');
        if (!r.set) {
          // The error is about the condition: at or after the condition's line (line 8).
          const errors = r.diagnostics.filter((d) => d.severity === 'error');
          expect(errors.some((d) => d.line >= 8), errors.map(formatDiagnostic).join('\n')).toBe(true);
        }
      }),
      { numRuns: 600 },
    );
    expect(outcomes.get('rejected')).toBeGreaterThan(0);
    outcomes.report('random CEL conditions');
  });

  it('random YAML documents: never a throw, every diagnostic located', () => {
    const outcomes = tally();
    fc.assert(
      fc.property(fc.oneof(yamlish, anyText, fc.json()), (text) => {
        outcomes.add(compileChecked(one(text)).set ? 'compiled' : 'rejected');
      }),
      { numRuns: 600 },
    );
    expect(outcomes.get('rejected')).toBeGreaterThan(0);
    outcomes.report('random YAML documents');
  });

  it('the payments policies truncated anywhere (a half-written file): never a throw, every diagnostic located', () => {
    const sources = paymentsSources();
    expect(compileChecked(sources).set, 'the untouched payments set compiles').toBeDefined();
    const outcomes = tally();
    fc.assert(
      fc.property(fc.nat(sources.length - 1), fc.double({ min: 0, max: 1, noNaN: true }), (which, at) => {
        const copy = sources.map((s) => ({ ...s }));
        copy[which].text = copy[which].text.slice(0, Math.floor(copy[which].text.length * at));
        outcomes.add(compileChecked(copy).set ? 'compiled' : 'rejected');
      }),
      { numRuns: 150 },
    );
    outcomes.report('truncated payments files');
  });

  it('the payments policies with random bytes spliced in: never a throw, every diagnostic located', () => {
    const sources = paymentsSources();
    const outcomes = tally();
    fc.assert(
      fc.property(fc.nat(sources.length - 1), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(20), fc.oneof(anyText, celish, yamlish), (which, at, cut, insert) => {
        const copy = sources.map((s) => ({ ...s }));
        const t = copy[which].text;
        const i = Math.floor(t.length * at);
        copy[which].text = t.slice(0, i) + insert + t.slice(i + cut);
        outcomes.add(compileChecked(copy).set ? 'compiled' : 'rejected');
      }),
      { numRuns: 150 },
    );
    expect(outcomes.get('rejected')).toBeGreaterThan(0);
    outcomes.report('mutated payments files');
  });

  it('pathological nesting and size are refused with a located error, not a stack overflow', () => {
    const cases = [
      '('.repeat(20_000) + 'true' + ')'.repeat(20_000),
      '!'.repeat(50_000) + 'true',
      Array.from({ length: 5_000 }, () => 'true').join(' && '),
      '['.repeat(10_000) + ']'.repeat(10_000) + ' == []',
      'actor.region' + '.x'.repeat(20_000) + ' == "a"',
      'actor.region.matches("(a+)+$")',
      'actor.groups.all(g, actor.groups.exists(h, h == g))',
    ];
    for (const cel of cases) {
      const r = compileChecked(one(ruleWithCondition(cel)));
      expect(r.set === undefined, `refused: ${cel.slice(0, 60)}…`).toBe(true);
    }
    // A long literal is one AST node: allowed, and compiled without trouble.
    expect(compileChecked(one(ruleWithCondition(`"${'a'.repeat(1_000_000)}" == actor.region`))).set === undefined).toBe(false);
    // Deeply nested YAML (flow and block) is a located error or a valid set, never a crash.
    compileChecked(one('['.repeat(50_000)));
    compileChecked(one('{a: '.repeat(10_000) + '1' + '}'.repeat(10_000)));
    compileChecked(one(Array.from({ length: 2_000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n')));
    // A billion-laughs style alias bomb stays cheap (aliases are references, not copies).
    const bomb = ['apiVersion: charter.dev/v1', 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++) bomb.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    const started = performance.now();
    const r = compileChecked(one(bomb.join('\n')));
    expect(r.set === undefined).toBe(true);
    expect(r.diagnostics.some((d) => /alias/i.test(d.message) && d.line === 3), 'the bomb is reported at its first alias').toBe(true);
    // An alias to no anchor (e.g. a merge key written before its anchor) is a located error too.
    const unresolved = compileChecked(one('apiVersion: charter.dev/v1\n<<: *a\n'));
    expect(unresolved.diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`)).toContain('2:5 YAML: Unresolved alias (the anchor must be set before the alias): a');
    expect(performance.now() - started, 'alias bomb compiles in bounded time').toBeLessThan(10_000);
  });
});
