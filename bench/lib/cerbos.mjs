/**
 * Cerbos, the closest peer, as a real server process (the binary shipped in the npm package
 * @cerbos/cerbos-linux-x64), with the payments read/refund rules translated in
 * bench/peers/cerbos/policies, called over gRPC (CheckResources) by the same load driver.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { loadPackageDefinition } from '@grpc/grpc-js';
import { startChild } from './children.mjs';
import { makeClient, unary, waitForReady } from './load.mjs';
import { ALICE, ROOT, paymentsRecords } from './payments.mjs';
import { cerbosBinary } from './peers-install.mjs';

const CERBOS_DIR = join(ROOT, 'bench', 'peers', 'cerbos');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startCerbos() {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const args = [
    'server',
    `--config=${join(CERBOS_DIR, 'config.yaml')}`,
    `--set=server.grpcListenAddr=127.0.0.1:${grpcPort}`,
    `--set=server.httpListenAddr=127.0.0.1:${httpPort}`,
    `--set=storage.disk.directory=${join(CERBOS_DIR, 'policies')}`,
    '--log-level=info',
  ];
  const child = await startChild('cerbos', cerbosBinary(), args, {
    readyPort: (line) => (/starting grpc server/i.test(line) ? grpcPort : 0),
    env: { CERBOS_NO_TELEMETRY: '1' },
  });
  child.port = grpcPort;
  return child;
}

const value = (v) =>
  typeof v === 'string' ? { stringValue: v } : typeof v === 'number' ? { numberValue: v } : typeof v === 'boolean' ? { boolValue: v } : Array.isArray(v) ? { listValue: { values: v.map(value) } } : { nullValue: 0 };

function attrs(obj) {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, value(v)]));
}

/**
 * The benchmark request for Cerbos: Alice reads p-100 from GB. Cerbos has no attribute store,
 * so the attributes Charter reads from its store are sent in the request.
 */
export function cerbosRequest(action = 'read') {
  const records = paymentsRecords();
  const alice = records.find((r) => r.id === ALICE).attributes;
  const p100 = records.find((r) => r.id === 'uon://payments/payment/p-100').attributes;
  const { groups, ...principalAttrs } = alice;
  return {
    requestId: '',
    includeMeta: false,
    principal: { id: ALICE, roles: groups, attr: attrs({ ...principalAttrs, request_ip: '10.1.2.3', request_country: 'GB' }) },
    resources: [{ actions: [action], resource: { kind: 'payment', id: 'p-100', attr: attrs(p100) } }],
  };
}

export async function cerbosClient(port) {
  const def = protoLoader.loadSync(join(CERBOS_DIR, 'check.proto'), { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true });
  const Ctor = loadPackageDefinition(def).cerbos.svc.v1.CerbosService;
  const client = makeClient(Ctor, port);
  await waitForReady(client);
  return { client, check: unary(client, 'CheckResources'), close: () => client.close() };
}

export function cerbosEffect(response, action = 'read') {
  return response.results?.[0]?.actions?.[action];
}
