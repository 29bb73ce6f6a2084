#!/usr/bin/env node
// A small gRPC client for smoke tests of a running Charter server (used by scripts/image-test.sh).
//
//   node scripts/grpc-probe.mjs health    --target 127.0.0.1:50051 [--service NAME] [--wait SECONDS]
//   node scripts/grpc-probe.mjs authorize --target 127.0.0.1:50051 --actor ID --action NAME
//                                         --resource UON [--context JSON] [--expect DECISION_ALLOW]
//
// health: grpc.health.v1.Health/Check, retried until SERVING or --wait runs out (default 0: once).
// authorize: charter.v1.Authorization/Authorize; prints the response as JSON, and with --expect
// exits 1 unless the decision is the expected one. Exit 2 on usage errors or RPC failures.
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

const AUTHORIZATION_PROTO = fileURLToPath(new URL('../proto/charter/v1/authorization.proto', import.meta.url));
const LOADER_OPTIONS = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true };
const RPC_DEADLINE_MS = 3000;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    target: { type: 'string', default: '127.0.0.1:50051' },
    service: { type: 'string', default: '' },
    wait: { type: 'string', default: '0' },
    actor: { type: 'string' },
    action: { type: 'string' },
    resource: { type: 'string' },
    context: { type: 'string' },
    expect: { type: 'string' },
  },
});

function loadService(protoFile, packagePath, serviceName) {
  const definition = protoLoader.loadSync(protoFile, LOADER_OPTIONS);
  let namespace = grpc.loadPackageDefinition(definition);
  for (const part of packagePath.split('.')) namespace = namespace[part];
  return new namespace[serviceName](values.target, grpc.credentials.createInsecure());
}

function call(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + RPC_DEADLINE_MS }, (error, response) =>
      error ? reject(error) : resolve(response));
  });
}

async function health() {
  const client = loadService(healthProtoPath, 'grpc.health.v1', 'Health');
  const deadline = Date.now() + Number(values.wait) * 1000;
  let last = 'no answer';
  try {
    for (;;) {
      try {
        const response = await call(client, 'check', { service: values.service });
        last = response.status;
        if (response.status === 'SERVING') {
          process.stdout.write(`health ${values.target} service='${values.service}': SERVING\n`);
          return 0;
        }
      } catch (error) {
        last = error.details || error.message;
      }
      if (Date.now() >= deadline) break;
      await sleep(250);
    }
  } finally {
    client.close();
  }
  process.stderr.write(`health ${values.target} service='${values.service}': ${last}\n`);
  return 2;
}

async function authorize() {
  for (const name of ['actor', 'action', 'resource']) {
    if (!values[name]) throw new UsageError(`authorize needs --${name}`);
  }
  const client = loadService(AUTHORIZATION_PROTO, 'charter.v1', 'Authorization');
  const request = { actor: values.actor, action: values.action, resource: values.resource };
  if (values.context) request.context = toStruct(JSON.parse(values.context));
  try {
    const response = await call(client, 'authorize', request);
    process.stdout.write(`${JSON.stringify(response)}\n`);
    if (values.expect && response.decision !== values.expect) {
      process.stderr.write(`authorize: expected ${values.expect}, got ${response.decision} (${response.reason})\n`);
      return 1;
    }
    return 0;
  } catch (error) {
    process.stderr.write(`authorize ${values.target}: ${error.message}\n`);
    return 2;
  } finally {
    client.close();
  }
}

// google.protobuf.Struct as proto-loader expects it (no JSON mapping for Struct in grpc-js).
function toValue(value) {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  switch (typeof value) {
    case 'number': return { numberValue: value };
    case 'string': return { stringValue: value };
    case 'boolean': return { boolValue: value };
    default: return { structValue: toStruct(value) };
  }
}
function toStruct(object) {
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, toValue(v)])) };
}

class UsageError extends Error {}

const commands = { health, authorize };
const command = commands[positionals[0]];
try {
  if (!command) throw new UsageError(`usage: grpc-probe.mjs health|authorize --target HOST:PORT [options]`);
  process.exitCode = await command();
} catch (error) {
  process.stderr.write(`grpc-probe: ${error.message}\n`);
  process.exitCode = 2;
}
