/** `charter test DIR`: run the policy test files under DIR against the policies under DIR. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatDiagnostic, loadPolicies } from '../../policy/index.js';
import { toJUnit } from '../../policy/testing/junit.js';
import { describeFailure, runPolicyTests, summarize } from '../../policy/testing/policy-tests.js';

const HELP = `Usage: charter test [--junit FILE] [--verbose] DIR

Compiles the policies under DIR, then runs every policy test file (*.test.yaml) under DIR.
For each failing case it prints the deciding rules and what every candidate rule did.
Ends with "N passed, N failed"; exits 1 on any failure.
`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, junit: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } },
    });
  } catch (error) {
    process.stderr.write(`charter test: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(HELP);
    return 2;
  }
  const dir = parsed.positionals[0];
  const compiled = await loadPolicies(dir);
  for (const d of compiled.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (compiled.set === undefined) {
    process.stderr.write('policies do not compile; no test was run\n');
    process.stdout.write('0 passed, 1 failed\n');
    return 1;
  }
  const testRun = await runPolicyTests(dir, compiled.set);
  for (const d of testRun.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  for (const r of testRun.results) {
    if (!r.passed) process.stdout.write(`${describeFailure(r)}\n`);
    else if (parsed.values.verbose) process.stdout.write(`ok   ${r.name} (${r.decision.effect}: ${r.decision.reason})\n`);
  }
  if (parsed.values.junit) await writeFile(parsed.values.junit, toJUnit(testRun));
  const { passed, failed } = summarize(testRun);
  if (testRun.results.length === 0 && testRun.diagnostics.length === 0) {
    process.stderr.write(`no policy test files (*.test.yaml) under ${dir}\n`);
    process.stdout.write('0 passed, 1 failed\n');
    return 1;
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
}
