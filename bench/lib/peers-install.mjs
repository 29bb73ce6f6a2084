/**
 * Peers are not dependencies of Charter: `npm run bench:peers` installs them on demand into
 * bench/.peers/ (git-ignored) with the ordinary npm client, at the versions pinned in
 * bench/peers/package.json.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { ROOT } from './payments.mjs';

export const PEERS_DIR = join(ROOT, 'bench', '.peers');
const MANIFEST = join(ROOT, 'bench', 'peers', 'package.json');

function installedVersions() {
  const want = JSON.parse(readFileSync(MANIFEST, 'utf8')).dependencies;
  const have = {};
  for (const name of Object.keys(want)) {
    const p = join(PEERS_DIR, 'node_modules', name, 'package.json');
    have[name] = existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')).version : undefined;
  }
  return { want, have };
}

/** Installs the pinned peers unless they are already there. Returns their versions. */
export function ensurePeers(log = () => {}) {
  let { want, have } = installedVersions();
  if (Object.keys(want).some((n) => have[n] !== want[n])) {
    mkdirSync(PEERS_DIR, { recursive: true });
    copyFileSync(MANIFEST, join(PEERS_DIR, 'package.json'));
    log(`installing peers into bench/.peers: ${Object.entries(want).map(([n, v]) => `${n}@${v}`).join(', ')}`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel', 'error'], { cwd: PEERS_DIR, stdio: ['ignore', 'inherit', 'inherit'] });
    ({ have } = installedVersions());
  }
  return have;
}

/** require() resolving from bench/.peers. */
export const peerRequire = createRequire(join(PEERS_DIR, 'package.json'));

export function cerbosBinary() {
  return join(PEERS_DIR, 'node_modules', '@cerbos', 'cerbos-linux-x64', 'cerbos-linux-x64');
}
