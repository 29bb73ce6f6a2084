/**
 * Policy tests: `*.test.yaml` files declaring fixtures (entities, relations, NDJSON data, a
 * fixed clock) and cases with the expected decision. Adding a case is adding data, not code.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { formatDiagnostic, type Diagnostic } from '../diagnostics.js';
import { explain, type DecisionRequest, type ExplainedDecision } from '../evaluate.js';
import { listFiles, TEST_FILE } from '../load.js';
import { MemorySources } from '../memory-sources.js';
import type { PolicySet } from '../policy-set.js';
import { YamlDocument } from '../yaml-document.js';

interface SourceCase {
  name: string;
  request: {
    actor: string;
    action: string;
    resource: string;
    context?: Record<string, unknown>;
    resource_attributes?: Record<string, unknown>;
    actor_claims?: Record<string, unknown>;
    action_properties?: Record<string, unknown>;
  };
  now?: string;
  expected: 'ALLOW' | 'DENY';
  expected_policies?: string[];
}

interface SourceTestFile {
  name?: string;
  fixtures?: {
    data?: string[];
    entities?: Record<string, Record<string, unknown>>;
    relations?: Array<{ object: string; relation: string; subject: string }>;
    now?: string;
  };
  cases: SourceCase[];
}

export interface CaseResult {
  suite: string;
  file: string;
  line: number;
  name: string;
  passed: boolean;
  expected: 'ALLOW' | 'DENY';
  decision: ExplainedDecision;
  /** Why the case failed, beyond the effect (e.g. unexpected deciding rules). */
  mismatch?: string;
  durationMs: number;
}

export interface TestRun {
  results: CaseResult[];
  /** Problems with the test files themselves (they count as failures). */
  diagnostics: Diagnostic[];
}

export async function runPolicyTests(dir: string, set: PolicySet): Promise<TestRun> {
  const files = await listFiles(dir, (name) => TEST_FILE.test(name));
  const run: TestRun = { results: [], diagnostics: [] };
  for (const file of files) await runTestFile(file, set, run);
  return run;
}

async function runTestFile(file: string, set: PolicySet, run: TestRun): Promise<void> {
  const doc = new YamlDocument(file, await readFile(file, 'utf8'));
  if (!doc.validate('policy-test.schema.json')) {
    run.diagnostics.push(...doc.diagnostics);
    return;
  }
  const spec = doc.data as SourceTestFile;
  const sources = new MemorySources();
  for (const dataFile of spec.fixtures?.data ?? []) {
    const path = resolve(dirname(file), dataFile);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      run.diagnostics.push(doc.diagnostic(['fixtures', 'data'], `cannot read ${dataFile}: ${(error as Error).message}`));
      return;
    }
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() === '') continue;
      try {
        sources.applyRecord(JSON.parse(lines[i]));
      } catch (error) {
        run.diagnostics.push({ file: path, line: i + 1, column: 1, severity: 'error', message: (error as Error).message, snippet: lines[i] });
        return;
      }
    }
  }
  for (const [id, attributes] of Object.entries(spec.fixtures?.entities ?? {})) sources.setEntity(id, attributes);
  for (const t of spec.fixtures?.relations ?? []) sources.addTuple(t.object, t.relation, t.subject);

  const suite = spec.name ?? file;
  spec.cases.forEach((c, i) => {
    const nowText = c.now ?? spec.fixtures?.now;
    const now = nowText === undefined ? new Date() : new Date(nowText);
    const request: DecisionRequest = {
      actor: c.request.actor,
      action: c.request.action,
      resource: c.request.resource,
      context: c.request.context,
      resourceAttributes: c.request.resource_attributes,
      actorClaims: c.request.actor_claims,
      actionProperties: c.request.action_properties,
    };
    const started = performance.now();
    const decision = explain(set, request, { attributes: sources, relations: sources, now });
    const durationMs = performance.now() - started;
    let mismatch: string | undefined;
    if (decision.effect !== c.expected) mismatch = `expected ${c.expected}, got ${decision.effect}`;
    else if (c.expected_policies !== undefined && !sameMembers(c.expected_policies, decision.policyIds)) {
      mismatch = `expected deciding rules [${c.expected_policies.join(', ')}], got [${decision.policyIds.join(', ')}]`;
    }
    const position = doc.source.position(doc.offsetOf(['cases', i]));
    run.results.push({ suite, file, line: position.line, name: c.name, passed: mismatch === undefined, expected: c.expected, decision, mismatch, durationMs });
  });
}

function sameMembers(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** The explanation printed for a failing case: what decided, and what every candidate did. */
export function describeFailure(result: CaseResult): string {
  const d = result.decision;
  const lines = [`FAIL ${result.file}:${result.line} ${result.name}`, `  ${result.mismatch}`, `  reason: ${d.reason}`];
  if (d.policyIds.length > 0) lines.push(`  deciding rules: ${d.policyIds.join(', ')}`);
  if (d.trace.length === 0) lines.push('  no rule covers this action on this resource');
  for (const t of d.trace) lines.push(`  - ${t.effect} ${t.ruleId}: ${t.outcome.replace(/-/g, ' ')}${t.detail ? ` (${t.detail})` : ''}`);
  return lines.join('\n');
}

export function summarize(run: TestRun): { passed: number; failed: number } {
  const passed = run.results.filter((r) => r.passed).length;
  return { passed, failed: run.results.length - passed + run.diagnostics.filter((d) => d.severity === 'error').length };
}

export function formatTestDiagnostics(run: TestRun): string[] {
  return run.diagnostics.map(formatDiagnostic);
}
