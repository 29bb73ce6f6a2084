/**
 * The package definition served by server reflection, with file descriptors that tools which
 * link them (buf curl, grpcurl) accept. proto-loader synthesises one descriptor per package
 * from protobufjs, and those differ from what protoc emits in ways such tools reject:
 *   - no `dependency` list (charter_v1.proto uses google.protobuf.Struct without importing it);
 *   - type references relative to their scope ("google.protobuf.Struct", "Value") rather than
 *     fully qualified (".google.protobuf.Struct");
 *   - map entry types named after the field ("Fields") rather than "FieldsEntry";
 *   - the well-known types in a file named `google_protobuf.proto`, which a client that ships
 *     its own google/protobuf/struct.proto sees as a second definition of the same types.
 * Field names are the .proto's own (snake_case): this definition is loaded with keepCase.
 */
import { createRequire } from 'node:module';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { PROTO_DIR, PROTO_FILES } from './proto.js';

interface FieldDescriptor {
  name: string;
  label?: number | string;
  typeName?: string;
}
interface MessageDescriptor {
  name: string;
  field: FieldDescriptor[];
  nestedType: MessageDescriptor[];
  enumType: { name: string }[];
  options?: { mapEntry?: boolean } | null;
}
interface FileDescriptor {
  name: string;
  package: string;
  dependency: string[];
  messageType: MessageDescriptor[];
  enumType: { name: string }[];
  service: { method: { inputType?: string; outputType?: string }[] }[];
}
interface DescriptorCodec {
  decode(bytes: Uint8Array): FileDescriptor;
  encode(file: FileDescriptor): { finish(): Uint8Array };
}

// The protobufjs that proto-loader itself uses (its descriptor extension), not a copy of our own.
const requireHere = createRequire(import.meta.url);
const requireFromLoader = createRequire(requireHere.resolve('@grpc/proto-loader'));
const FileDescriptorProto = (requireFromLoader('protobufjs/ext/descriptor') as { FileDescriptorProto: DescriptorCodec }).FileDescriptorProto;

const STRUCT_TYPES = new Set(['Struct', 'Value', 'ListValue', 'NullValue']);

function camel(name: string): string {
  return name.replace(/(?:^|_)([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Fixes a set of file descriptors as described above; returns them encoded. */
export function linkFileDescriptors(encoded: Uint8Array[]): Buffer[] {
  const files = encoded.map((b) => FileDescriptorProto.decode(b));
  // Canonical file names for the well-known types we use.
  for (const f of files) {
    const types = [...f.messageType.map((m) => m.name), ...f.enumType.map((e) => e.name)];
    if (f.package === 'google.protobuf' && types.length > 0 && types.every((t) => STRUCT_TYPES.has(t))) f.name = 'google/protobuf/struct.proto';
  }
  // Map entries: "<Field>Entry", as protoc names them.
  const renameEntries = (m: MessageDescriptor): void => {
    for (const field of m.field) {
      const entry = m.nestedType.find((n) => n.name === field.typeName && n.options?.mapEntry);
      if (entry) {
        entry.name = `${camel(field.name)}Entry`;
        field.typeName = entry.name;
      }
    }
    m.nestedType.forEach(renameEntries);
  };
  for (const f of files) f.messageType.forEach(renameEntries);
  // Every message and enum, fully qualified, and the file that defines it.
  const definedIn = new Map<string, FileDescriptor>();
  const index = (scope: string, m: MessageDescriptor, f: FileDescriptor): void => {
    const fqn = scope ? `${scope}.${m.name}` : m.name;
    definedIn.set(fqn, f);
    for (const e of m.enumType) definedIn.set(`${fqn}.${e.name}`, f);
    for (const n of m.nestedType) index(fqn, n, f);
  };
  for (const f of files) {
    for (const m of f.messageType) index(f.package, m, f);
    for (const e of f.enumType) definedIn.set(f.package ? `${f.package}.${e.name}` : e.name, f);
  }
  // Protobuf scoping: try the name inside the innermost scope, then each enclosing one.
  const resolve = (name: string, scope: string): string | undefined => {
    if (name.startsWith('.')) return definedIn.has(name.slice(1)) ? name.slice(1) : undefined;
    for (let s = scope; ; s = s.includes('.') ? s.slice(0, s.lastIndexOf('.')) : '') {
      const candidate = s ? `${s}.${name}` : name;
      if (definedIn.has(candidate)) return candidate;
      if (s === '') return undefined;
    }
  };
  for (const f of files) {
    const deps = new Set(f.dependency);
    const use = (fqn: string | undefined): void => {
      const target = fqn === undefined ? undefined : definedIn.get(fqn);
      if (target && target !== f) deps.add(target.name);
    };
    const qualify = (scope: string, m: MessageDescriptor): void => {
      const fqn = scope ? `${scope}.${m.name}` : m.name;
      for (const field of m.field) {
        if (!field.typeName) continue;
        const resolved = resolve(field.typeName, fqn);
        if (resolved) {
          field.typeName = `.${resolved}`;
          use(resolved);
        }
      }
      for (const n of m.nestedType) qualify(fqn, n);
    };
    for (const m of f.messageType) qualify(f.package, m);
    for (const s of f.service) {
      for (const method of s.method) {
        for (const key of ['inputType', 'outputType'] as const) {
          const name = method[key];
          if (!name) continue;
          const resolved = resolve(name, f.package);
          if (resolved) {
            method[key] = `.${resolved}`;
            use(resolved);
          }
        }
      }
    }
    f.dependency = [...deps];
  }
  return files.map((f) => Buffer.from(FileDescriptorProto.encode(f).finish()));
}

let cached: protoLoader.PackageDefinition | undefined;

/** Charter's services and grpc.health.v1, with linkable file descriptors. */
export function reflectionPackageDefinition(): protoLoader.PackageDefinition {
  if (cached) return cached;
  const merged: protoLoader.PackageDefinition = {
    ...protoLoader.loadSync(PROTO_FILES, { keepCase: true, includeDirs: [PROTO_DIR] }),
    ...protoLoader.loadSync(healthProtoPath, { keepCase: true }),
  };
  const linked = new Map<string, Buffer[]>();
  const out: protoLoader.PackageDefinition = {};
  for (const [name, def] of Object.entries(merged)) {
    const files = (def as { fileDescriptorProtos?: Uint8Array[] }).fileDescriptorProtos;
    if (!Array.isArray(files)) {
      out[name] = def;
      continue;
    }
    const key = files.map((b) => Buffer.from(b).toString('base64')).join(',');
    let fixed = linked.get(key);
    if (!fixed) {
      fixed = linkFileDescriptors(files);
      linked.set(key, fixed);
    }
    out[name] = { ...def, fileDescriptorProtos: fixed } as typeof def;
  }
  cached = out;
  return out;
}
