/**
 * Loads the public API (`proto/charter/v1`) once per process. The loader options are part of
 * the server's contract with its handlers: camelCase field names, 64-bit integers as numbers,
 * enums as strings, defaults filled in and `kind` set on oneofs (see ./struct.ts).
 */
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';

/** `proto/` at the package root; the same relative path from src/server and dist/server. */
export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
export const PROTO_FILES = ['charter/v1/authorization.proto', 'charter/v1/admin.proto'];

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let cached: protoLoader.PackageDefinition | undefined;

export function charterPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
  return cached;
}

export function serviceDefinition(name: 'Authorization' | 'Admin' | 'Invalidation'): ServiceDefinition {
  return charterPackageDefinition()[`charter.v1.${name}`] as unknown as ServiceDefinition;
}
