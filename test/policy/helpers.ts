import { compilePolicySet, type CompileResult } from '../../src/policy/index.js';

/** Compiles one in-memory policy file of set "t" (header added). */
export function compileText(body: string, extraFiles: Record<string, string> = {}): CompileResult {
  const sources = [{ path: 'policies/t/main.yaml', setName: 't', text: `apiVersion: charter.dev/v1\n${body}` }];
  for (const [name, text] of Object.entries(extraFiles)) sources.push({ path: `policies/t/${name}`, setName: 't', text });
  return compilePolicySet(sources);
}

export function errorsOf(result: CompileResult): string[] {
  return result.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.column} ${d.message}`);
}
