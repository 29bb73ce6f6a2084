/**
 * A fast path for the commonest conditions: role, ownership and equality checks over string and
 * boolean attributes. A condition written only with the operations below becomes a tree of
 * closures at load time; evaluating it reads the attributes directly instead of walking
 * cel-js's typed AST with its overload lookups (0.49 µs → a few tens of ns warm, and much less
 * memory touched per decision, which is what a decision costs when the server's caches are cold).
 *
 * The closures only ever answer when the answer is certain: any value outside what they handle
 * (a number, null, a missing or inherited key, a non-string list element, a non-bool operand)
 * makes them answer BAIL, and the caller evaluates the condition with cel-js, which also gives
 * the error message. So the fast path can only return what cel-js returns; a differential test
 * (test/policy/fast-conditions.property.test.ts) holds it to that.
 *
 * Handled: string and bool literals, lists of string literals, the root variables, `x.f` on
 * plain objects, `C.name` constants, `has(x.f)`, `==`, `!=`, `in` (string in a list of strings),
 * `!`, `&&`, `||`, `hasAny`, `hasAll`.
 */
import { ROOT_VARIABLES } from './cel-environment.js';
import { someProbe } from './functions/lists.js';

export const BAIL: unique symbol = Symbol('bail');

type Context = Record<string, unknown>;
type Node = (ctx: Context) => unknown;
export type FastCondition = (ctx: Context) => boolean | typeof BAIL;

interface AstNode {
  op: string;
  args: unknown;
}

function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as AstNode).op === 'string';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The closure for `ast`, or undefined when the condition uses anything outside the subset. */
export function compileFastCondition(ast: unknown, constants: Readonly<Record<string, unknown>>): FastCondition | undefined {
  const root = build(ast, constants);
  if (root === undefined) return undefined;
  return (ctx) => {
    const value = root(ctx);
    return typeof value === 'boolean' ? value : BAIL;
  };
}

function build(node: unknown, constants: Readonly<Record<string, unknown>>): Node | undefined {
  if (!isNode(node)) return undefined;
  const args = node.args;
  switch (node.op) {
    case 'value': {
      if (typeof args !== 'string' && typeof args !== 'boolean') return undefined;
      return () => args;
    }
    case 'list': {
      if (!Array.isArray(args) || !args.every((item) => isNode(item) && item.op === 'value' && typeof item.args === 'string')) return undefined;
      const list = Object.freeze(args.map((item: AstNode) => item.args as string));
      return () => list;
    }
    case 'id': {
      const name = args as string;
      if (!(ROOT_VARIABLES as readonly string[]).includes(name)) return undefined;
      return (ctx) => ctx[name];
    }
    case '.': {
      const [target, field] = args as [unknown, string];
      if (isNode(target) && target.op === 'id' && target.args === 'C') {
        if (!Object.hasOwn(constants, field)) return undefined;
        const value = constants[field];
        return () => value;
      }
      const of = build(target, constants);
      if (of === undefined) return undefined;
      return (ctx) => member(of(ctx), field);
    }
    case 'call': {
      const [name, callArgs] = args as [string, unknown[]];
      if (name === 'has' && callArgs.length === 1) return buildHas(callArgs[0], constants);
      if (name === 'hasAny') return both(callArgs, constants, (l, p) => (Array.isArray(l) && Array.isArray(p) ? someProbe(l, p, true) : BAIL));
      if (name === 'hasAll') return both(callArgs, constants, (l, p) => (Array.isArray(l) && Array.isArray(p) ? !someProbe(l, p, false) : BAIL));
      return undefined;
    }
    case '!_': {
      const operand = build(args, constants);
      if (operand === undefined) return undefined;
      return (ctx) => {
        const v = operand(ctx);
        return typeof v === 'boolean' ? !v : BAIL;
      };
    }
    case '&&':
    case '||': {
      const [l, r] = pair(args, constants);
      if (l === undefined || r === undefined) return undefined;
      // The left side decides alone when it is false (&&) or true (||), whatever the right
      // side would be, error included: CEL's logical operators absorb errors that way.
      const decides = node.op === '||';
      return (ctx) => {
        const left = l(ctx);
        if (left === decides) return decides;
        if (typeof left !== 'boolean') return BAIL;
        const right = r(ctx);
        return typeof right === 'boolean' ? right : BAIL;
      };
    }
    case '==':
    case '!=': {
      const negate = node.op === '!=';
      return both(args, constants, (a, b) =>
        (typeof a === 'string' && typeof b === 'string') || (typeof a === 'boolean' && typeof b === 'boolean') ? (a === b) !== negate : BAIL,
      );
    }
    case 'in':
      return both(args, constants, (needle, list) => {
        if (typeof needle !== 'string' || !Array.isArray(list)) return BAIL;
        let found = false;
        for (const item of list) {
          if (typeof item !== 'string') return BAIL;
          if (item === needle) found = true;
        }
        return found;
      });
    default:
      return undefined;
  }
}

function pair(args: unknown, constants: Readonly<Record<string, unknown>>): [Node | undefined, Node | undefined] {
  if (!Array.isArray(args) || args.length !== 2) return [undefined, undefined];
  return [build(args[0], constants), build(args[1], constants)];
}

/** A two-operand operation that needs both values (every one here but && and ||). */
function both(args: unknown, constants: Readonly<Record<string, unknown>>, op: (a: unknown, b: unknown) => unknown): Node | undefined {
  const [l, r] = pair(args, constants);
  if (l === undefined || r === undefined) return undefined;
  return (ctx) => op(l(ctx), r(ctx));
}

/** `x.f`: the value of an own key of a plain object; anything else is cel-js's to answer. */
function member(object: unknown, field: string): unknown {
  if (!isPlainObject(object) || !Object.hasOwn(object, field)) return BAIL;
  const value = object[field];
  return value === undefined ? BAIL : value;
}

/** `has(x.f)`: an own key of a plain object, or no such key at all (inherited ones bail). */
function buildHas(selector: unknown, constants: Readonly<Record<string, unknown>>): Node | undefined {
  if (!isNode(selector) || selector.op !== '.') return undefined;
  const [target, field] = selector.args as [unknown, string];
  const of = build(target, constants);
  if (of === undefined) return undefined;
  return (ctx) => {
    const object = of(ctx);
    if (!isPlainObject(object)) return BAIL;
    if (Object.hasOwn(object, field)) return object[field] === undefined ? BAIL : true;
    return field in object ? BAIL : false;
  };
}
