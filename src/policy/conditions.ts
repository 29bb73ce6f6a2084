/**
 * Compiles one CEL condition: expands named expressions (V.name), parses it once, type-checks
 * it against the set's schema, enforces cost bounds, and records what it reads so the decision
 * point fetches only what is needed and knows when a decision depends on the clock.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { ROOT_VARIABLES, type RootVariable } from './cel-environment.js';
import { BAIL, compileFastCondition } from './fast-conditions.js';

/** How finely a condition looks at the clock; decides how long its decision may be cached. */
export type TimeGranularity = 'none' | 'quarter-hour' | 'minute' | 'instant';

export interface ConditionReads {
  /** Names read per root variable; '*' means the whole object. */
  fields: Record<RootVariable, Set<string>>;
  time: TimeGranularity;
  relations: boolean;
}

export interface CompiledCondition {
  readonly source: string;
  readonly evaluate: (context: Record<string, unknown>) => unknown;
  readonly reads: ConditionReads;
}

export interface ConditionProblem {
  /** Offset into the condition text as the author wrote it. */
  offset: number;
  message: string;
}

/** Named expressions of a set after expansion (their own V.x references resolved). */
export interface ExpressionTable {
  lookup(name: string): string | undefined;
  names(): string[];
}

export interface ConditionEnvironments {
  runtime: Environment;
  check: Environment;
  /** The set's constants (`C`), as registered in both environments. */
  constants: Readonly<Record<string, unknown>>;
}

/** Comprehension macros; nesting them multiplies cost, so nesting is bounded. */
const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);
export const MAX_COMPREHENSION_NESTING = 1;

/** Timestamp accessors that change at most every 15 minutes in any time zone. */
const COARSE_TIME_ACCESSORS = new Set(['getHours', 'getDayOfWeek', 'getDayOfMonth', 'getDate', 'getDayOfYear', 'getMonth', 'getFullYear']);

interface AstNode {
  op: string;
  args: unknown;
  start: number;
  end: number;
}

function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as AstNode).op === 'string';
}

function isRootIdent(node: unknown): node is AstNode & { args: RootVariable } {
  return isNode(node) && node.op === 'id' && (ROOT_VARIABLES as readonly string[]).includes(node.args as string);
}

/** Replaces V.<name> with the (parenthesised) named expression, keeping a map back to the original offsets. */
export function expandNamedExpressions<P extends { ast: unknown }>(
  text: string,
  parse: (text: string) => P,
  table: ExpressionTable,
): { text: string; mapOffset: (offset: number) => number; problems: ConditionProblem[]; parsed?: P } {
  const problems: ConditionProblem[] = [];
  const splices: Array<{ start: number; end: number; replacement: string }> = [];
  const parsed = parse(text);
  walk(parsed.ast, (node) => {
    if ((node.op === '.' || node.op === '.?') && Array.isArray(node.args)) {
      const [target, name] = node.args as [unknown, string];
      if (isNode(target) && target.op === 'id' && target.args === 'V') {
        const expansion = table.lookup(name);
        if (expansion === undefined) {
          const known = table.names();
          problems.push({ offset: node.start, message: `unknown expression 'V.${name}'${known.length ? ` (declared: ${known.join(', ')})` : ' (the set declares no expressions)'}` });
        } else {
          splices.push({ start: node.start, end: node.end, replacement: `(${expansion})` });
        }
        return false;
      }
    }
    if (node.op === 'id' && node.args === 'V') {
      problems.push({ offset: node.start, message: "'V' must be followed by an expression name, as in V.is_support" });
    }
    return true;
  });
  // Without V references the first parse is the program: no need to parse again.
  if (splices.length === 0) return { text, mapOffset: (o) => o, problems, parsed };
  splices.sort((a, b) => a.start - b.start);
  let out = '';
  let cursor = 0;
  const expandedRanges: Array<{ start: number; end: number }> = [];
  for (const s of splices) {
    out += text.slice(cursor, s.start);
    const start = out.length;
    out += s.replacement;
    expandedRanges.push({ start, end: out.length });
    cursor = s.end;
  }
  out += text.slice(cursor);
  // An offset inside an expansion maps to the V.name reference; after it, back by the growth so far.
  const mapOffset = (offset: number): number => {
    let growth = 0;
    for (let i = 0; i < splices.length; i++) {
      const range = expandedRanges[i];
      if (offset < range.start) break;
      if (offset < range.end) return splices[i].start;
      growth += range.end - range.start - (splices[i].end - splices[i].start);
    }
    return offset - growth;
  };
  return { text: out, mapOffset, problems };
}

/** Depth-first walk; the visitor returns false to skip a node's children. */
export function walk(ast: unknown, visit: (node: AstNode, parent: AstNode | undefined) => boolean, parent?: AstNode): void {
  if (Array.isArray(ast)) {
    for (const item of ast) walk(item, visit, parent);
    return;
  }
  if (!isNode(ast)) return;
  if (!visit(ast, parent)) return;
  if (ast.op === 'value' || ast.op === 'id') return;
  walk(ast.args, visit, ast);
}

function emptyReads(): ConditionReads {
  return {
    fields: { actor: new Set(), resource: new Set(), action: new Set(), env: new Set(), actor_claims: new Set(), action_properties: new Set() },
    time: 'none',
    relations: false,
  };
}

const TIME_RANK: Record<TimeGranularity, number> = { none: 0, 'quarter-hour': 1, minute: 2, instant: 3 };

export function finerTime(a: TimeGranularity, b: TimeGranularity): TimeGranularity {
  return TIME_RANK[a] >= TIME_RANK[b] ? a : b;
}

/** What the condition reads, and cost-bound violations. */
export function analyzeCondition(ast: unknown): { reads: ConditionReads; problems: ConditionProblem[] } {
  const reads = emptyReads();
  const problems: ConditionProblem[] = [];

  const noteTimeUse = (node: AstNode, parent: AstNode | undefined): void => {
    let granularity: TimeGranularity = 'instant';
    if (parent && parent.op === 'rcall' && Array.isArray(parent.args) && parent.args[1] === node) {
      const method = parent.args[0] as string;
      if (COARSE_TIME_ACCESSORS.has(method)) granularity = 'quarter-hour';
      else if (method === 'getMinutes') granularity = 'minute';
    }
    reads.time = finerTime(reads.time, granularity);
  };

  const visit = (node: AstNode, parent: AstNode | undefined, nesting: number): void => {
    if ((node.op === '.' || node.op === '.?') && Array.isArray(node.args) && isRootIdent(node.args[0])) {
      const root = node.args[0].args;
      const field = node.args[1] as string;
      reads.fields[root].add(field);
      if (root === 'env' && field === 'time') noteTimeUse(node, parent);
      return;
    }
    if (isRootIdent(node)) {
      reads.fields[node.args].add('*');
      if (node.args === 'env') reads.time = 'instant';
      return;
    }
    let childNesting = nesting;
    if (node.op === 'call' || node.op === 'rcall') {
      const args = node.args as unknown[];
      const name = args[0] as string;
      if (node.op === 'call' && (name === 'related' || name === 'hasTuple')) reads.relations = true;
      if (node.op === 'rcall' && COMPREHENSIONS.has(name)) {
        childNesting = nesting + 1;
        if (childNesting > MAX_COMPREHENSION_NESTING) {
          problems.push({ offset: node.start, message: `comprehension '${name}' nested inside another: conditions may nest at most ${MAX_COMPREHENSION_NESTING} level (cost bound)` });
        }
      }
      if (node.op === 'rcall' && name === 'matches') {
        const pattern = (args[2] as unknown[])[0];
        if (!isNode(pattern) || pattern.op !== 'value' || typeof pattern.args !== 'string') {
          problems.push({ offset: node.start, message: 'matches() needs a literal pattern (a pattern built at run time could take unbounded time)' });
        } else if (unsafeRegex(pattern.args)) {
          problems.push({ offset: pattern.start, message: `pattern ${JSON.stringify(pattern.args)} nests quantifiers, which can take exponential time; simplify it` });
        } else {
          try {
            new RegExp(pattern.args, 'u');
          } catch (e) {
            problems.push({ offset: pattern.start, message: `invalid pattern: ${(e as Error).message}` });
          }
        }
      }
    }
    const children = node.args;
    const each = (child: unknown): void => {
      if (Array.isArray(child)) child.forEach(each);
      else if (isNode(child)) visit(child, node, childNesting);
    };
    if (node.op !== 'value' && node.op !== 'id') each(children);
  };

  if (isNode(ast)) visit(ast, undefined, 0);
  return { reads, problems };
}

/** A quantified group that itself contains a quantifier: the classic catastrophic-backtracking shape. */
function unsafeRegex(pattern: string): boolean {
  return /\([^)]*[+*}][^)]*\)\s*[+*{]/.test(pattern) || /\\[1-9]/.test(pattern);
}

/**
 * Parses and checks a condition. The runtime environment evaluates; the check environment (typed
 * when the set declares a schema) catches unknown attributes and type errors at load time.
 */
export function compileCondition(
  text: string,
  envs: ConditionEnvironments,
  expressions: ExpressionTable,
): { condition?: CompiledCondition; problems: ConditionProblem[]; expandedText?: string } {
  let expanded: ReturnType<typeof expandNamedExpressions<ReturnType<Environment['parse']>>>;
  try {
    expanded = expandNamedExpressions(text, (t) => envs.runtime.parse(t), expressions);
  } catch (error) {
    return { problems: [celProblem(error, (o) => o)] };
  }
  if (expanded.problems.length > 0) return { problems: expanded.problems };
  const problems: ConditionProblem[] = [];
  let program: ReturnType<Environment['parse']>;
  try {
    program = expanded.parsed ?? envs.runtime.parse(expanded.text);
  } catch (error) {
    return { problems: [celProblem(error, expanded.mapOffset)] };
  }
  // The runtime check also resolves overloads once, so evaluation does not re-check per call.
  const runtimeCheck = program.check();
  // Without a schema the runtime environment is the check environment: one check is enough.
  const typed = envs.check === envs.runtime ? runtimeCheck : envs.check.check(expanded.text);
  if (!typed.valid) {
    problems.push(celProblem(typed.error, expanded.mapOffset));
  } else if (typed.type !== 'bool' && typed.type !== 'dyn') {
    problems.push({ offset: 0, message: `a condition must be a bool, but this is ${typed.type}` });
  } else if (!runtimeCheck.valid) {
    problems.push(celProblem(runtimeCheck.error, expanded.mapOffset));
  }
  const analysis = analyzeCondition(program.ast);
  for (const p of analysis.problems) problems.push({ offset: expanded.mapOffset(p.offset), message: p.message });
  if (problems.length > 0) return { problems };
  const celEvaluate = program as unknown as CompiledCondition['evaluate'];
  const fast = compileFastCondition(program.ast, envs.constants);
  const evaluate: CompiledCondition['evaluate'] =
    fast === undefined
      ? celEvaluate
      : (context) => {
          const answer = fast(context);
          return answer === BAIL ? celEvaluate(context) : answer;
        };
  return {
    condition: { source: text, evaluate, reads: analysis.reads },
    problems,
    expandedText: expanded.text,
  };
}

function celProblem(error: unknown, mapOffset: (o: number) => number): ConditionProblem {
  const e = error as { message?: string; range?: { start: number }; summary?: string } | undefined;
  const message = (e?.summary ?? e?.message ?? String(error)).split('\n')[0];
  return { offset: mapOffset(e?.range?.start ?? 0), message: `CEL: ${message}` };
}
