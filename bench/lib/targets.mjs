/**
 * The servers the load benchmarks talk to, each started as a child process, and the request
 * they are all asked (the payments read: Alice reads an emea payment from GB → ALLOW).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { jsonGrpcPort, startChild } from './children.mjs';
import { clientConstructor } from './echo-proto.mjs';
import { makeClient, unary, waitForReady } from './load.mjs';
import { READ_REQUEST, ROOT } from './payments.mjs';

const str = (s) => ({ stringValue: s });

/** READ_REQUEST as a charter.v1.AuthorizeRequest (proto-loader object form). */
export const AUTHORIZE_REQUEST = Object.freeze({
  actor: READ_REQUEST.actor,
  action: READ_REQUEST.action,
  resource: READ_REQUEST.resource,
  context: { fields: { ip: str(READ_REQUEST.context.ip), country: str(READ_REQUEST.context.country) } },
});

export function batchRequest(size) {
  return { requests: Array.from({ length: size }, () => AUTHORIZE_REQUEST) };
}

export function storeBuilt() {
  return existsSync(join(ROOT, 'dist', 'store', 'index.js'));
}

export function serveBuilt() {
  return existsSync(join(ROOT, 'dist', 'server', 'run.js')) && existsSync(join(ROOT, 'dist', 'cli', 'commands', 'serve.js'));
}

export function startEcho() {
  return startChild('echo', process.execPath, [join(ROOT, 'bench', 'lib', 'echo-server.mjs')], { readyPort: jsonGrpcPort });
}

/**
 * Charter as users run it: `charter serve` (bundled policies, demo LMDB store seeded from
 * policies/payments/data.ndjson), with its defaults: metrics on, every decision logged. The
 * decision log goes to /dev/null so its full cost (sampling, serialising) is paid without
 * filling a disk. decisionLog: a path, or 'off'.
 * Falls back to startServer over an in-memory store when the LMDB store is not built.
 */
export async function startCharter({ decisionLog = '/dev/null' } = {}) {
  if (storeBuilt() && serveBuilt()) {
    const args = [join(ROOT, 'bin', 'charter.js'), 'serve', '--policies', join(ROOT, 'policies'), '--grpc-port', '0', '--http-port=-1', '--host', '127.0.0.1', '--decision-log', decisionLog, '--no-watch', '--log-level', 'info'];
    const child = await startChild('charter', process.execPath, args, { readyPort: jsonGrpcPort });
    child.variant = `charter serve (LMDB demo store, metrics on, decision log ${decisionLog === 'off' ? 'off' : `to ${decisionLog}`})`;
    return child;
  }
  const child = await startChild('charter-memory', process.execPath, [join(ROOT, 'bench', 'lib', 'charter-memory-server.mjs')], { readyPort: jsonGrpcPort });
  child.variant = 'startServer over an in-memory store (src/store not built; decision log off)';
  return child;
}

/** A connected Authorization client and its call functions. */
export async function authorizationClient(port) {
  const client = makeClient(clientConstructor('Authorization'), port);
  await waitForReady(client);
  return { client, authorize: unary(client, 'Authorize'), batch: unary(client, 'BatchAuthorize'), close: () => client.close() };
}

export function sidecarBuilt() {
  return existsSync(join(ROOT, 'dist', 'sidecar', 'index.js')) && existsSync(join(ROOT, 'dist', 'cli', 'commands', 'sidecar.js'));
}

/** `charter sidecar` in front of the Charter server on `upstreamPort` (its own process). */
export function startSidecar(upstreamPort) {
  const args = [join(ROOT, 'bin', 'charter.js'), 'sidecar', '--upstream', `127.0.0.1:${upstreamPort}`, '--listen', '127.0.0.1:0', '--http-port=-1', '--log-level', 'info'];
  return startChild('sidecar', process.execPath, args, {
    readyPort: (line) => {
      if (!line.startsWith('{')) return 0;
      try {
        const m = /:(\d+)$/.exec(JSON.parse(line).address ?? '');
        return m ? Number(m[1]) : 0;
      } catch {
        return 0;
      }
    },
  });
}
