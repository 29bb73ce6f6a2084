/** JUnit XML for CI systems that render test reports (`charter test --junit FILE`). */
import { describeFailure, type TestRun } from './policy-tests.js';

function escape(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export function toJUnit(run: TestRun): string {
  const suites = new Map<string, TestRun['results']>();
  for (const r of run.results) {
    const list = suites.get(r.suite) ?? [];
    list.push(r);
    suites.set(r.suite, list);
  }
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = run.results.length;
  const failures = run.results.filter((r) => !r.passed).length;
  out.push(`<testsuites name="charter policy tests" tests="${total}" failures="${failures}" errors="${run.diagnostics.length}">`);
  for (const [name, results] of suites) {
    const failed = results.filter((r) => !r.passed).length;
    const seconds = results.reduce((s, r) => s + r.durationMs, 0) / 1000;
    out.push(`  <testsuite name="${escape(name)}" tests="${results.length}" failures="${failed}" time="${seconds.toFixed(6)}">`);
    for (const r of results) {
      out.push(`    <testcase classname="${escape(name)}" name="${escape(r.name)}" file="${escape(r.file)}" line="${r.line}" time="${(r.durationMs / 1000).toFixed(6)}">`);
      if (!r.passed) out.push(`      <failure message="${escape(r.mismatch ?? 'failed')}">${escape(describeFailure(r))}</failure>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  if (run.diagnostics.length > 0) {
    out.push(`  <testsuite name="test files" tests="${run.diagnostics.length}" errors="${run.diagnostics.length}">`);
    for (const d of run.diagnostics) {
      out.push(`    <testcase name="${escape(`${d.file}:${d.line}:${d.column}`)}"><error message="${escape(d.message)}"/></testcase>`);
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
