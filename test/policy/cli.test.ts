import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bin/charter.js');

async function charter(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('charter check / charter test (built CLI)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'charter-cli-'));
    cpSync(join(import.meta.dirname, '../../policies/payments'), join(dir, 'payments'), { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes the bundled policies', async () => {
    const check = await charter('check', 'policies');
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^ok: \d+ rules/);
    const test = await charter('test', 'policies');
    expect(test.code, test.stdout).toBe(0);
    expect(test.stdout).toMatch(/^(\d+) passed, 0 failed$/m);
    expect(Number(/^(\d+) passed/m.exec(test.stdout)![1])).toBeGreaterThanOrEqual(36);
  });

  it('reports a broken condition as file:line:col and exits 1', async () => {
    const file = join(dir, 'payments', 'payments.yaml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('condition: V.same_region\n', 'condition: V.same_region && actor.region ==\n'));
    try {
      const check = await charter('check', dir);
      expect(check.code).toBe(1);
      expect(check.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: rule 'payment-read': CEL: `));
      expect(check.stderr).toContain('condition: V.same_region && actor.region ==');
      expect(check.stderr).toMatch(/\n\s+\^/);
      const test = await charter('test', dir);
      expect(test.code).toBe(1);
      expect(test.stdout).toMatch(/0 passed, 1 failed/);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('explains failing cases and writes JUnit XML', async () => {
    const testFile = join(dir, 'payments', 'wrong.test.yaml');
    writeFileSync(
      testFile,
      `apiVersion: charter.dev/v1
fixtures: { data: [data.ndjson] }
cases:
  - name: wrongly expects other-region read
    request: { actor: spiffe://personnel.acme.test/eid/1001, action: read, resource: uon://payments/payment/p-200 }
    expected: ALLOW
`,
    );
    const junit = join(dir, 'report.xml');
    try {
      const result = await charter('test', '--junit', junit, dir);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('FAIL');
      expect(result.stdout).toContain('wrongly expects other-region read');
      expect(result.stdout).toContain('expected ALLOW, got DENY');
      expect(result.stdout).toContain('allow payments/payment-read: condition false');
      expect(result.stdout).toMatch(/^\d+ passed, 1 failed$/m);
      const xml = readFileSync(junit, 'utf8');
      expect(xml).toContain('<testsuites');
      expect(xml).toContain('failures="1"');
      expect(xml).toContain('<failure message="expected ALLOW, got DENY">');
    } finally {
      rmSync(testFile);
    }
  });

  it('fails clearly on a missing directory and on bad usage', async () => {
    const missing = await charter('check', join(dir, 'nope'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('policy directory does not exist');
    const usage = await charter('check');
    expect(usage.code).toBe(2);
    const unknown = await charter('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  });
});

describe('loading through symbolic links (Kubernetes ConfigMap volumes)', () => {
  it('follows linked files and directories, once, skipping dot-directories', async () => {
    const { loadPolicies } = await import('../../src/policy/index.js');
    const { mkdirSync, symlinkSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'charter-links-'));
    try {
      // The kubelet layout: files are links into a hidden, atomically swapped ..data directory.
      mkdirSync(join(dir, '..2026_11_26'));
      writeFileSync(
        join(dir, '..2026_11_26', 'p.yaml'),
        'apiVersion: charter.dev/v1\nrules:\n  - id: r\n    effect: allow\n    actors: "*"\n    actions: [read]\n    resources: ["**"]\n',
      );
      symlinkSync('..2026_11_26', join(dir, '..data'));
      symlinkSync(join('..data', 'p.yaml'), join(dir, 'p.yaml'));
      symlinkSync('.', join(dir, 'loop')); // a cycle must not be followed forever
      symlinkSync('missing.yaml', join(dir, 'dangling.yaml'));
      const result = await loadPolicies(dir);
      expect(result.diagnostics).toEqual([]);
      expect(result.set?.ruleCount).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
