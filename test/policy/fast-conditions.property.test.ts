/**
 * The condition fast path against cel-js: random conditions from (and around) the subset it
 * handles, evaluated over random attributes of every JSON type. Whenever the fast path answers
 * it must answer what cel-js answers; when it bails, the compiled condition must give cel-js's
 * own result or error.
 */
import { describe, expect, it } from 'vitest';
import { runtimeBaseEnvironment } from '../../src/policy/cel-environment.js';
import { BAIL, compileFastCondition } from '../../src/policy/fast-conditions.js';
import { seededRandom } from '../random.js';
import { compileText } from './helpers.js';

const next = seededRandom(20261126);
const pick = <T>(items: readonly T[]): T => items[next(items.length)];

const CONSTANTS = { roles: ['admin', 'editor'], name: 'x', on: true };
const OBJECTS = ['actor', 'resource', 'env'];
const FIELDS = ['a', 'b', 'roles', 'flag', 'missing', 'toString'];
const VALUES: unknown[] = ['x', 'y', 'admin', '', true, false, 1, 2.5, null, ['x', 'admin'], ['editor'], ['x', 1], [], { a: 'x' }];

function field(): string {
  return `${pick(OBJECTS)}.${pick(FIELDS)}`;
}
function operand(): string {
  return pick([field(), field(), '"x"', '"admin"', 'true', 'false', 'action', 'C.name', 'C.on', '1']);
}
function list(): string {
  return pick([field(), '["x", "admin"]', 'C.roles', '[]', '["x", 1]']);
}

function condition(depth: number): string {
  const leaves = [
    () => pick(['true', 'false']),
    () => `has(${field()})`,
    () => field(),
    () => `${operand()} == ${operand()}`,
    () => `${operand()} != ${operand()}`,
    () => `${pick(['"x"', '"admin"', field()])} in ${list()}`,
    () => `${pick(['hasAny', 'hasAll'])}(${list()}, ${list()})`,
    // Outside the subset: the whole condition goes to cel-js.
    () => pick([`size(${field()}) > 0`, `${field()}.startsWith("x")`, `${field()} == null`]),
  ];
  if (depth === 0 || next(3) === 0) return pick(leaves)();
  switch (next(4)) {
    case 0:
      return `!(${condition(depth - 1)})`;
    case 1:
      return `(${condition(depth - 1)}) || (${condition(depth - 1)})`;
    default:
      return `(${condition(depth - 1)}) && (${condition(depth - 1)})`;
  }
}

function attributes(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) if (f !== 'toString' && next(4) !== 0) out[f] = pick(VALUES);
  return out;
}

type Outcome = { value: unknown } | { error: string };
function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe('condition fast path', () => {
  it('answers only what cel-js answers, over random conditions and attributes', () => {
    const env = runtimeBaseEnvironment().clone();
    env.registerConstant('C', 'map', CONSTANTS);
    let compared = 0;
    let answered = 0;
    let compiledFast = 0;
    for (let i = 0; i < 3000; i++) {
      const text = condition(3);
      const program = env.parse(text);
      if (!program.check().valid) continue;
      const fast = compileFastCondition(program.ast, CONSTANTS);
      if (fast === undefined) continue;
      compiledFast++;
      for (let k = 0; k < 5; k++) {
        const context = { actor: attributes(), resource: attributes(), env: attributes(), action: pick(['read', 'x']), actor_claims: {}, action_properties: {} };
        const expected = outcome(() => program(context));
        const answer = fast(context);
        compared++;
        if (answer === BAIL) continue;
        answered++;
        expect({ value: answer }, `${text} over ${JSON.stringify(context)}`).toEqual(expected);
      }
    }
    // The test means something only if the fast path both compiles and answers often.
    expect(compiledFast).toBeGreaterThan(1000);
    expect(answered / compared).toBeGreaterThan(0.3);
  });

  it('gives cel-js its own result or error for compiled conditions when it bails', () => {
    const body = `constants:\n  roles: [admin]\nrules:\n  - id: r\n    effect: allow\n    actors: "*"\n    actions: [read]\n    resources: ["**"]\n    condition: has(actor.roles) && hasAny(actor.roles, C.roles) && resource.owner == actor.email\n`;
    const rule = compileText(body).set!.rules[0];
    const evaluate = rule.condition!.evaluate;
    const actor = { roles: ['admin'], email: 'a@x' };
    expect(evaluate({ actor, resource: { owner: 'a@x' } })).toBe(true);
    expect(evaluate({ actor, resource: { owner: 'b@x' } })).toBe(false);
    // A number where a string is compared: the fast path bails, cel-js answers (false).
    expect(evaluate({ actor, resource: { owner: 7 } })).toBe(false);
    // A missing key: cel-js's error, with its message.
    expect(() => evaluate({ actor, resource: {} })).toThrow(/No such key: owner/);
    expect(() => evaluate({ actor: { roles: 'admin' }, resource: { owner: 'a@x' } })).toThrow();
  });
});
