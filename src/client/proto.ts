/**
 * The client's view of the public API: `proto/charter/v1/*.proto`, loaded with proto-loader.
 * The proto directory is found relative to this module (`../../proto/`), which is the same path
 * from src/client, dist/client and an installed package (its "files" include proto/).
 */
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ChannelCredentials, type Client, type ServiceDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const CLIENT_PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
const PROTO_FILES = ['charter/v1/authorization.proto', 'charter/v1/admin.proto'];

/** camelCase fields, uint64 as numbers, enums as their names, defaults filled in, oneof `kind` set. */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [CLIENT_PROTO_DIR],
};

let definition: protoLoader.PackageDefinition | undefined;

export function clientPackageDefinition(): protoLoader.PackageDefinition {
  definition ??= protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
  return definition;
}

export type StubConstructor = new (target: string, creds: ChannelCredentials, options?: object) => Client;

export function stubConstructors(): { Authorization: StubConstructor; Invalidation: StubConstructor } {
  const ns = loadPackageDefinition(clientPackageDefinition()) as unknown as { charter: { v1: Record<string, StubConstructor> } };
  return { Authorization: ns.charter.v1.Authorization, Invalidation: ns.charter.v1.Invalidation };
}

/** The `charter.v1.Authorization` service definition (the sidecar serves it). */
export function authorizationServiceDefinition(): ServiceDefinition {
  return clientPackageDefinition()['charter.v1.Authorization'] as unknown as ServiceDefinition;
}

/** google.protobuf.Struct / Value as proto-loader encodes and decodes them. */
export interface StructMessage {
  fields?: Record<string, ValueMessage> | null;
}
export interface ValueMessage {
  kind?: string;
  nullValue?: unknown;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage | null;
  listValue?: { values?: ValueMessage[] | null } | null;
}

export interface AuthorizeRequestMessage {
  actor: string;
  action: string;
  resource: string;
  context?: StructMessage | null;
  resourceAttributes?: StructMessage | null;
  actorClaims?: StructMessage | null;
}

export interface AuthorizeResponseMessage {
  decision: string | number;
  policyIds: string[];
  reason: string;
  policyRevision: string;
  attributeRevision: number;
  cacheTtlMs: number;
  dependsOnTime: boolean;
  entityIds: string[];
  dependsOnRelations: boolean;
}

export interface InvalidationEventMessage {
  policyRevision: string;
  attributeRevision: number;
  flushAll: boolean;
  entityIds: string[];
  tuples: { object: string; relation: string; subject: string }[];
  /** Nothing changed; the stream is alive. */
  heartbeat?: boolean;
}

/** Plain object → Struct message. */
export function objectToStruct(obj: Record<string, unknown>): StructMessage {
  const fields: Record<string, ValueMessage> = {};
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    if (v !== undefined) fields[key] = jsToValue(v);
  }
  return { fields };
}

function jsToValue(v: unknown): ValueMessage {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'number':
      return { numberValue: v };
    case 'bigint':
      return { numberValue: Number(v) };
    case 'boolean':
      return { boolValue: v };
    case 'object':
      if (v === null) return { nullValue: 0 };
      if (Array.isArray(v)) return { listValue: { values: v.map(jsToValue) } };
      if (v instanceof Date) return { stringValue: v.toISOString() };
      return { structValue: objectToStruct(v as Record<string, unknown>) };
    default:
      return { nullValue: 0 };
  }
}
