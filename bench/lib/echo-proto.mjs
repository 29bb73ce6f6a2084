/**
 * The charter.v1 protos as Charter's server loads them (same loader options), for the echo
 * baseline and the benchmark clients. Uses dist/server/proto.js when the server is built, and
 * otherwise loads proto/ itself with the same options.
 */
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import { loadPackageDefinition } from '@grpc/grpc-js';

export const DEFAULT_LIMITS = { maxMessageBytes: 4 * 1024 * 1024 };
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
const OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

let definition;
async function load() {
  try {
    const m = await import('../../dist/server/proto.js');
    const limits = await import('../../dist/server/limits.js');
    DEFAULT_LIMITS.maxMessageBytes = limits.DEFAULT_LIMITS.maxMessageBytes;
    return m.charterPackageDefinition();
  } catch {
    return protoLoader.loadSync(['charter/v1/authorization.proto'], OPTIONS);
  }
}
definition = await load();

export function serviceDefinitionForBench(name) {
  return definition[`charter.v1.${name}`];
}

/** A client constructor for charter.v1.<name>. */
export function clientConstructor(name) {
  return loadPackageDefinition(definition).charter.v1[name];
}
