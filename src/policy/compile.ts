/**
 * Source files → PolicySet. Problems are collected, never thrown: an author sees every error
 * of every file in one run, each at its file:line:col.
 */
import { createHash } from 'node:crypto';
import type { Environment } from '@marcbachmann/cel-js';
import { ROOT_VARIABLES, celTypeName, runtimeBaseEnvironment, typedBaseEnvironment, type RootVariable } from './cel-environment.js';
import { compileCondition, finerTime, type CompiledCondition, type ConditionEnvironments, type ConditionReads, type ExpressionTable, type TimeGranularity } from './conditions.js';
import { sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { checkPattern, compilePattern, patternCovers, type SegmentPattern } from './patterns.js';
import { DEFAULT_CACHE_TTL_MS, type CompiledRule, type PolicySet, type PolicySetOptions } from './policy-set.js';
import { ANY_ACTION, ResourceIndex } from './resource-index.js';
import type { AttributeTypes, SourcePolicyFile, SourceRule, SourceSchema } from './source-model.js';
import { YamlDocument, type YamlPath } from './yaml-document.js';

export interface PolicySource {
  /** Path shown in diagnostics (relative to the directory given by the user). */
  path: string;
  /** The set the file belongs to (its directory). */
  setName: string;
  text: string;
}

export interface CompileResult {
  /** undefined when any error was found. */
  set: PolicySet | undefined;
  diagnostics: Diagnostic[];
}

interface ParsedFile {
  source: PolicySource;
  doc: YamlDocument;
  data: SourcePolicyFile;
}

interface Declared<T> {
  value: T;
  file: ParsedFile;
  path: YamlPath;
}

const SCHEMA_SECTIONS: Array<keyof SourceSchema> = ['actor', 'resource', 'context', 'actor_claims', 'action_properties'];
const SCHEMA_VARIABLE: Record<keyof SourceSchema, RootVariable> = {
  actor: 'actor',
  resource: 'resource',
  context: 'env',
  actor_claims: 'actor_claims',
  action_properties: 'action_properties',
};
const IMPLICIT_FIELDS: Partial<Record<keyof SourceSchema, AttributeTypes>> = {
  actor: { id: 'string' },
  resource: { id: 'string' },
  context: { time: 'timestamp' },
};

export function compilePolicySet(sources: PolicySource[], options: Partial<PolicySetOptions> = {}): CompileResult {
  const diagnostics: Diagnostic[] = [];
  const parsed: ParsedFile[] = [];
  for (const source of sources) {
    const doc = new YamlDocument(source.path, source.text);
    const valid = doc.validate('policy.schema.json');
    diagnostics.push(...doc.diagnostics);
    if (valid) parsed.push({ source, doc, data: doc.data as SourcePolicyFile });
  }

  const bySet = new Map<string, ParsedFile[]>();
  for (const file of parsed) {
    const list = bySet.get(file.source.setName) ?? [];
    list.push(file);
    bySet.set(file.source.setName, list);
  }

  const rules: CompiledRule[] = [];
  const index = new ResourceIndex<CompiledRule>();
  for (const [setName, files] of [...bySet].sort(([a], [b]) => a.localeCompare(b))) {
    compileSet(setName, files, rules, index, diagnostics);
  }
  diagnostics.push(...unreachableRuleWarnings(rules));

  const hasErrors = diagnostics.some((d) => d.severity === 'error');
  const set: PolicySet | undefined = hasErrors
    ? undefined
    : {
        revision: revisionOf(sources),
        ruleCount: rules.length,
        rules,
        setNames: [...bySet.keys()].sort(),
        files: sources.map((s) => s.path),
        index,
        options: { defaultCacheTtlMs: options.defaultCacheTtlMs ?? DEFAULT_CACHE_TTL_MS },
      };
  return { set, diagnostics: sortDiagnostics(diagnostics) };
}

/** Content hash over file names and contents, independent of read order. */
export function revisionOf(sources: PolicySource[]): string {
  const hash = createHash('sha256');
  for (const s of [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(s.path).update('\0').update(s.text).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

function compileSet(setName: string, files: ParsedFile[], rules: CompiledRule[], index: ResourceIndex<CompiledRule>, diagnostics: Diagnostic[]): void {
  const schema = mergeSchema(files, diagnostics);
  const constants = mergeNamed(files, 'constants', diagnostics);
  const expressionSources = mergeNamed(files, 'expressions', diagnostics);

  const envs = buildEnvironments(setName, schema, constants, diagnostics);
  if (envs === undefined) return;
  const expressions = expandExpressions(expressionSources as Map<string, Declared<string>>, envs, diagnostics);

  const seenIds = new Map<string, { file: ParsedFile; path: YamlPath }>();
  for (const file of files) {
    (file.data.rules ?? []).forEach((rule, i) => {
      const path: YamlPath = ['rules', i];
      const first = seenIds.get(rule.id);
      if (first !== undefined) {
        const at = first.file.doc.source.position(first.file.doc.offsetOf([...first.path, 'id']));
        diagnostics.push(file.doc.diagnostic([...path, 'id'], `duplicate rule id '${rule.id}' in set '${setName}' (first defined at ${first.file.source.path}:${at.line}:${at.column})`));
        return;
      }
      seenIds.set(rule.id, { file, path });
      const compiled = compileRule(setName, rule, file, path, envs, expressions, rules.length, diagnostics);
      if (compiled === undefined) return;
      rules.push(compiled);
      for (const pattern of compiled.resources) index.add(pattern, compiled.actions, compiled);
    });
  }
}

function mergeSchema(files: ParsedFile[], diagnostics: Diagnostic[]): Map<keyof SourceSchema, Map<string, Declared<string>>> {
  const merged = new Map<keyof SourceSchema, Map<string, Declared<string>>>();
  for (const file of files) {
    for (const section of SCHEMA_SECTIONS) {
      const types = file.data.schema?.[section];
      if (types === undefined) continue;
      const target = merged.get(section) ?? new Map<string, Declared<string>>();
      merged.set(section, target);
      for (const [name, type] of Object.entries(types)) {
        const path: YamlPath = ['schema', section, name];
        const implicit = IMPLICIT_FIELDS[section]?.[name];
        if (implicit !== undefined && implicit !== type) {
          diagnostics.push(file.doc.diagnostic(path, `'${name}' is reserved in ${section} (always ${implicit})`, 'error', true));
          continue;
        }
        const previous = target.get(name);
        if (previous !== undefined && previous.value !== type) {
          diagnostics.push(file.doc.diagnostic(path, `${section}.${name} is declared as ${type} here but as ${previous.value} in ${previous.file.source.path}`, 'error', true));
          continue;
        }
        target.set(name, { value: type, file, path });
      }
    }
  }
  return merged;
}

function mergeNamed(files: ParsedFile[], key: 'constants' | 'expressions', diagnostics: Diagnostic[]): Map<string, Declared<unknown>> {
  const merged = new Map<string, Declared<unknown>>();
  for (const file of files) {
    for (const [name, value] of Object.entries(file.data[key] ?? {})) {
      const path: YamlPath = [key, name];
      const previous = merged.get(name);
      if (previous !== undefined) {
        const at = previous.file.doc.source.position(previous.file.doc.offsetOf(previous.path, true));
        diagnostics.push(file.doc.diagnostic(path, `${key === 'constants' ? 'constant' : 'expression'} '${name}' is already declared at ${previous.file.source.path}:${at.line}:${at.column}`, 'error', true));
        continue;
      }
      merged.set(name, { value, file, path });
    }
  }
  return merged;
}

/** YAML integers become CEL ints and other numbers doubles, as if written as CEL literals. */
function celValue(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(celValue);
  return value;
}

function buildEnvironments(
  setName: string,
  schema: Map<keyof SourceSchema, Map<string, Declared<string>>>,
  constants: Map<string, Declared<unknown>>,
  diagnostics: Diagnostic[],
): ConditionEnvironments | undefined {
  const constantValues: Record<string, unknown> = {};
  for (const [name, declared] of constants) constantValues[name] = celValue(declared.value);
  const runtime = runtimeBaseEnvironment().clone();
  runtime.registerConstant('C', 'map', constantValues);
  runtime.registerVariable('V', 'map');
  if (schema.size === 0) return { runtime, check: runtime, constants: constantValues };

  const check = typedBaseEnvironment().clone();
  check.registerConstant('C', 'map', constantValues);
  let ok = true;
  for (const section of SCHEMA_SECTIONS) {
    const variable = SCHEMA_VARIABLE[section];
    const declared = schema.get(section);
    if (declared === undefined) {
      check.registerVariable(variable, 'map');
      continue;
    }
    const fields: Record<string, string> = {};
    for (const [name, type] of Object.entries(IMPLICIT_FIELDS[section] ?? {})) fields[name] = celTypeName(type);
    for (const [name, d] of declared) {
      fields[name] = celTypeName(d.value);
      // Validate each type on its own so a bad one is reported where it is written.
      try {
        typedProbe().registerVariable(`probe_${name}`, fields[name]);
      } catch (error) {
        ok = false;
        diagnostics.push(d.file.doc.diagnostic(d.path, `unknown type '${d.value}' for ${section}.${name}: ${(error as Error).message}`));
      }
    }
    try {
      check.registerVariable({ name: variable, schema: fields } as never);
    } catch (error) {
      ok = false;
      const first = declared.values().next().value as Declared<string>;
      diagnostics.push(first.file.doc.diagnostic(['schema', section], `schema.${section} in set '${setName}': ${(error as Error).message}`));
    }
  }
  check.registerVariable('V', 'map');
  return ok ? { runtime, check, constants: constantValues } : undefined;
}

function typedProbe(): Environment {
  return typedBaseEnvironment().clone();
}

/** Expands V.x references inside expressions (in dependency order) and checks each expression. */
function expandExpressions(declared: Map<string, Declared<string>>, envs: ConditionEnvironments, diagnostics: Diagnostic[]): ExpressionTable {
  const expanded = new Map<string, string | null>(); // null: failed or cyclic
  const visiting = new Set<string>();
  const table: ExpressionTable = {
    lookup: (name) => {
      const d = declared.get(name);
      if (d === undefined) return undefined;
      const done = expanded.get(name);
      if (done !== undefined) return done ?? 'false';
      if (visiting.has(name)) {
        diagnostics.push(d.file.doc.diagnostic(d.path, `expression '${name}' refers to itself (through ${[...visiting].join(' → ')})`, 'error', true));
        expanded.set(name, null);
        return 'false';
      }
      visiting.add(name);
      const result = compileCondition(d.value, envs, table);
      visiting.delete(name);
      if (result.condition === undefined) {
        for (const p of result.problems) diagnostics.push(d.file.doc.source.diagnostic(d.file.doc.offsetInString(d.path, d.value, p.offset), `expression '${name}': ${p.message}`));
        expanded.set(name, null);
        return 'false';
      }
      // Callers splice in the expanded text, so it must contain no V references itself.
      const text = result.expandedText ?? d.value;
      expanded.set(name, text);
      return text;
    },
    names: () => [...declared.keys()],
  };
  for (const name of declared.keys()) table.lookup(name);
  return table;
}

function compileRule(
  setName: string,
  rule: SourceRule,
  file: ParsedFile,
  path: YamlPath,
  envs: ConditionEnvironments,
  expressions: ExpressionTable,
  order: number,
  diagnostics: Diagnostic[],
): CompiledRule | undefined {
  let ok = true;
  const patternsOf = (list: string[], key: YamlPath): SegmentPattern[] =>
    list.map((text, i) => {
      const problem = checkPattern(text);
      if (problem !== undefined) {
        ok = false;
        diagnostics.push(file.doc.diagnostic([...key, i], problem));
      }
      return compilePattern(text);
    });

  const actors = rule.actors === '*' ? undefined : rule.actors;
  const actorPatterns = actors?.ids ? patternsOf(actors.ids, [...path, 'actors', 'ids']) : undefined;
  const resources = patternsOf(rule.resources, [...path, 'resources']);
  if (rule.actions.includes(ANY_ACTION) && rule.actions.length > 1) {
    diagnostics.push(file.doc.diagnostic([...path, 'actions'], "'*' already means every action; list it alone", 'warning'));
  }

  let condition: CompiledCondition | undefined;
  if (rule.condition !== undefined) {
    const result = compileCondition(rule.condition, envs, expressions);
    for (const p of result.problems) {
      ok = false;
      diagnostics.push(file.doc.source.diagnostic(file.doc.offsetInString([...path, 'condition'], rule.condition, p.offset), `rule '${rule.id}': ${p.message}`));
    }
    condition = result.condition;
  }
  if (!ok) return undefined;

  const fields = condition?.reads.fields;
  const time: TimeGranularity = condition ? condition.reads.time : 'none';
  let location: CompiledRule['location'] | undefined;
  const id = `${setName}/${rule.id}`;
  return {
    id,
    set: setName,
    effect: rule.effect,
    description: rule.description,
    actorPatterns,
    groups: actors?.groups,
    actions: rule.actions,
    resources,
    condition,
    actorOutcomes: condition !== undefined && readsOnlyActor(condition.reads) ? new WeakMap() : undefined,
    readsActorAttributes: actors?.groups !== undefined || readsBeyondId(fields?.actor),
    readsResourceAttributes: readsBeyondId(fields?.resource),
    time: finerTime(time, 'none'),
    relations: condition?.reads.relations ?? false,
    // Positions need the full YAML parse, which valid files skip: compute on first use.
    get location() {
      if (location === undefined) {
        const at = file.doc.source.position(file.doc.offsetOf(path));
        location = { file: file.source.path, line: at.line, column: at.column };
      }
      return location;
    },
    order,
    ids: Object.freeze([id]),
    appliedReason: `${rule.effect === 'allow' ? 'allowed' : 'denied'} by ${id}${rule.description ? ` (${rule.description})` : ''}`,
    lookupStamp: 0,
  };
}

function readsBeyondId(fields: Set<string> | undefined): boolean {
  return fields !== undefined && [...fields].some((f) => f !== 'id');
}

/** The condition reads actor attributes beyond `id`, and nothing else that can vary. */
function readsOnlyActor(reads: ConditionReads): boolean {
  if (reads.time !== 'none' || reads.relations || !readsBeyondId(reads.fields.actor)) return false;
  return ROOT_VARIABLES.every((root) => root === 'actor' || reads.fields[root].size === 0);
}

/**
 * An allow rule is unreachable when an unconditional deny covers all of its actors, actions
 * and resources; a rule whose condition is the literal `false` never applies either.
 */
function unreachableRuleWarnings(rules: CompiledRule[]): Diagnostic[] {
  const warnings: Diagnostic[] = [];
  const blanketDenies = rules.filter((r) => r.effect === 'deny' && r.condition === undefined && r.groups === undefined);
  for (const rule of rules) {
    const at = () => ({ file: rule.location.file, line: rule.location.line, column: rule.location.column, severity: 'warning' as const });
    if (rule.condition !== undefined && rule.condition.source.trim() === 'false') {
      warnings.push({ ...at(), message: `rule '${rule.id}' can never apply: its condition is false` });
      continue;
    }
    if (rule.effect !== 'allow') continue;
    const shadow = blanketDenies.find((deny) => denyCovers(deny, rule));
    if (shadow !== undefined) {
      warnings.push({ ...at(), message: `rule '${rule.id}' is unreachable: deny rule '${shadow.id}' (${shadow.location.file}:${shadow.location.line}) always overrides it` });
    }
  }
  return warnings;
}

function denyCovers(deny: CompiledRule, allow: CompiledRule): boolean {
  const actorsCovered =
    deny.actorPatterns === undefined ||
    (allow.actorPatterns !== undefined && allow.actorPatterns.every((a) => deny.actorPatterns!.some((d) => patternCovers(d, a))));
  const actionsCovered = deny.actions.includes(ANY_ACTION) || (!allow.actions.includes(ANY_ACTION) && allow.actions.every((a) => deny.actions.includes(a)));
  const resourcesCovered = allow.resources.every((a) => deny.resources.some((d) => patternCovers(d, a)));
  return actorsCovered && actionsCovered && resourcesCovered;
}
