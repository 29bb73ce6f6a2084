/** Reads a policy directory tree: every *.yaml / *.yml except policy tests (*.test.yaml). */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { compilePolicySet, type CompileResult, type PolicySource } from './compile.js';
import type { PolicySetOptions } from './policy-set.js';

const POLICY_FILE = /\.ya?ml$/;
export const TEST_FILE = /\.test\.ya?ml$/;

/**
 * Lists files under `dir` whose names match, skipping dotfiles and node_modules; sorted.
 * Symbolic links are followed (a Kubernetes ConfigMap volume is made of them), each real
 * directory visited once so a link cycle cannot loop.
 */
export async function listFiles(dir: string, accept: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const seenDirs = new Set<string>();
  const visit = async (current: string): Promise<void> => {
    const real = await realpath(current);
    if (seenDirs.has(real)) return;
    seenDirs.add(real);
    const entries = await readdir(current, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = join(current, entry.name);
      let kind: { isDirectory(): boolean; isFile(): boolean } = entry;
      if (entry.isSymbolicLink()) {
        const target = await stat(full).catch(() => undefined);
        if (target === undefined) continue; // a dangling link names nothing to load
        kind = target;
      }
      if (kind.isDirectory()) await visit(full);
      else if (kind.isFile() && accept(entry.name)) out.push(full);
    }
  };
  await visit(dir);
  return out.sort();
}

export async function readPolicySources(dir: string): Promise<PolicySource[]> {
  const root = resolve(dir);
  const files = await listFiles(root, (name) => POLICY_FILE.test(name) && !TEST_FILE.test(name));
  return Promise.all(
    files.map(async (file) => {
      const rel = relative(root, dirname(file));
      return {
        path: join(dir, relative(root, file)),
        setName: rel === '' ? basename(root) : rel.split(sep).join('/'),
        text: await readFile(file, 'utf8'),
      };
    }),
  );
}

export async function loadPolicies(dir: string, options: Partial<PolicySetOptions> = {}): Promise<CompileResult> {
  const info = await stat(dir).catch(() => undefined);
  const problem = (message: string): CompileResult => ({ set: undefined, diagnostics: [{ file: dir, line: 1, column: 1, message, severity: 'error' }] });
  if (info === undefined) return problem('policy directory does not exist');
  if (!info.isDirectory()) return problem('not a directory');
  let sources: PolicySource[];
  try {
    sources = await readPolicySources(dir);
  } catch (error) {
    return problem(`cannot read policies: ${(error as Error).message}`);
  }
  if (sources.length === 0) return problem('no policy files (*.yaml) found');
  return compilePolicySet(sources, options);
}
