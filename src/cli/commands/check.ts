/** `charter check DIR`: compile every policy file, print every problem, exit 1 on any error. */
import { parseArgs } from 'node:util';
import { formatDiagnostic, loadPolicies } from '../../policy/index.js';

const HELP = `Usage: charter check [--quiet] DIR

Compiles and validates every policy file (*.yaml, except *.test.yaml) under DIR.
Prints each problem as file:line:col: message with the offending line, and exits 1
when any error is found (warnings alone exit 0).
`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, quiet: { type: 'boolean', short: 'q' } } });
  } catch (error) {
    process.stderr.write(`charter check: ${(error as Error).message}\n\n${HELP}`);
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
  const result = await loadPolicies(dir);
  for (const d of result.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = result.diagnostics.length - errors;
  if (result.set === undefined) {
    process.stderr.write(`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`);
    return 1;
  }
  if (!parsed.values.quiet) {
    process.stdout.write(
      `ok: ${result.set.ruleCount} rules in ${result.set.setNames.length} set${result.set.setNames.length === 1 ? '' : 's'} (${result.set.setNames.join(', ')}), ${result.set.files.length} files, revision ${result.set.revision}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}\n`,
    );
  }
  return 0;
}
