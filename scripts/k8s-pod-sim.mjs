// Runs a rendered Deployment's init containers on this machine, against ConfigMap volumes laid
// out as the kubelet lays them out (a timestamped folder, a `..data` link to it, and one
// symbolic link per top-level entry), then checks what the main container would see: that
// `charter check` and `charter test` pass on its policy folder and that its store was seeded.
// Used by scripts/k8s-check.mjs; it catches what a schema cannot (a script error, a loader that
// does not follow the ConfigMap's links, a path the items mapping got wrong).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHARTER = join(ROOT, 'bin', 'charter.js');

/** Writes a ConfigMap volume as the kubelet does; `items` maps keys to paths (else key = path). */
function materializeConfigMap(dir, configMap, items) {
  const stamp = '..2026_01_01_00_00_00.000000001';
  const files = items ? items.map(({ key, path }) => [key, path]) : Object.keys(configMap.data ?? {}).map((k) => [k, k]);
  for (const [key, path] of files) {
    const full = join(dir, stamp, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, configMap.data?.[key] ?? '');
  }
  mkdirSync(dir, { recursive: true });
  symlinkSync(stamp, join(dir, '..data'));
  for (const top of new Set(files.map(([, path]) => path.split('/')[0]))) symlinkSync(join('..data', top), join(dir, top));
}

/** Replaces every mount path in `text` by its folder on this machine, in one pass (longest first). */
function rewritePaths(text, mounts) {
  const targets = new Map([...mounts, ['/app/bin/charter.js', CHARTER]]);
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`(${[...targets.keys()].sort((a, b) => b.length - a.length).map(escape).join('|')})(?=/|\\b|$)`, 'g');
  return text.replace(pattern, (match) => targets.get(match));
}

/**
 * @returns {{ name: string, ok: boolean, details: string[] }[]} one result per step
 */
export function simulateDeployment(deployment, configMaps) {
  const results = [];
  const spec = deployment.spec.template.spec;
  const work = mkdtempSync(join(tmpdir(), 'charter-pod-sim-'));
  try {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
      return [{ name: 'pod simulation', ok: false, details: ['dist/ is missing: run `npm run build` first'] }];
    }
    // Volumes: ConfigMaps as the kubelet writes them, emptyDirs as empty folders.
    const volumes = new Map();
    for (const volume of spec.volumes ?? []) {
      const local = join(work, 'volumes', volume.name);
      volumes.set(volume.name, local);
      if (volume.configMap) {
        const configMap = configMaps.find((c) => c.metadata.name === volume.configMap.name);
        if (!configMap) {
          if (volume.configMap.optional) mkdirSync(local, { recursive: true });
          else results.push({ name: `volume ${volume.name}`, ok: false, details: [`ConfigMap ${volume.configMap.name} is not in the render`] });
          continue;
        }
        materializeConfigMap(local, configMap, volume.configMap.items);
      } else {
        mkdirSync(local, { recursive: true });
      }
    }
    const mountsOf = (container) =>
      new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, volumes.get(m.name)]));

    for (const container of spec.initContainers ?? []) {
      const mounts = mountsOf(container);
      const [shell, flag, script] = container.command ?? [];
      if (shell !== '/bin/sh' || flag !== '-c') {
        results.push({ name: `init container ${container.name}`, ok: false, details: ['only `/bin/sh -c SCRIPT` init containers can be simulated'] });
        continue;
      }
      const env = { PATH: process.env.PATH, HOME: work };
      for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = rewritePaths(e.value, mounts);
      const run = spawnSync('/bin/sh', ['-c', rewritePaths(script, mounts)], { env, encoding: 'utf8', timeout: 60_000 });
      const output = `${run.stdout}${run.stderr}`.trim().split('\n').filter(Boolean);
      results.push({ name: `init container ${container.name}`, ok: run.status === 0, details: run.status === 0 ? output.slice(-2) : output });
    }

    const main = spec.containers[0];
    const mounts = mountsOf(main);
    const envOf = (name) => {
      const value = (main.env ?? []).find((e) => e.name === name)?.value;
      return value === undefined ? undefined : rewritePaths(value, mounts);
    };
    const policies = envOf('CHARTER_POLICIES');
    for (const command of ['check', 'test']) {
      const run = spawnSync(process.execPath, [CHARTER, command, policies], { encoding: 'utf8', timeout: 120_000 });
      const output = `${run.stdout}${run.stderr}`.trim().split('\n').filter(Boolean);
      results.push({ name: `charter ${command} on the pod's CHARTER_POLICIES`, ok: run.status === 0, details: run.status === 0 ? output.slice(-1) : output.slice(-15) });
    }
    const data = envOf('CHARTER_DATA');
    const seeded = data !== undefined && existsSync(join(data, 'data.mdb'));
    results.push({ name: "the pod's CHARTER_DATA store was seeded", ok: seeded, details: seeded ? [] : [`no LMDB store in ${data}`] });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}
