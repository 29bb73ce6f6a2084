/** grpc.health.v1, server reflection, and the HTTP endpoints. */
import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson } from '../../src/server/http.js';
import { call, startHarness, type Harness } from './helpers.js';

const require = createRequire(import.meta.url);

function healthClient(target: string): Client & { Check: Function } {
  const def = protoLoader.loadSync(healthProto, { keepCase: true, enums: String, defaults: true });
  const ns = loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: new (t: string, c: unknown) => Client & { Check: Function } } } } };
  return new ns.grpc.health.v1.Health(target, credentials.createInsecure());
}

function reflectionClient(target: string): Client & { ServerReflectionInfo: Function } {
  const protoFile = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
  const def = protoLoader.loadSync(protoFile, { keepCase: true, enums: String, defaults: true, oneofs: true });
  const ns = loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: new (t: string, c: unknown) => Client & { ServerReflectionInfo: Function } } } } };
  return new ns.grpc.reflection.v1.ServerReflection(target, credentials.createInsecure());
}

function check(client: Client & { Check: Function }, service: string): Promise<{ status: string }> {
  return new Promise((resolve, reject) => client.Check({ service }, (err: ServiceError | null, res: { status: string }) => (err ? reject(err) : resolve(res))));
}

function reflect(client: Client & { ServerReflectionInfo: Function }, request: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on('data', (res: Record<string, unknown>) => {
      resolve(res);
      stream.end();
    });
    stream.on('error', reject);
    stream.write(request);
  });
}

describe('health, reflection and HTTP', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      configureHttp: (router) => {
        router.add('POST', '/test/echo', (_req, res) => sendJson(res, 200, { echoed: true }));
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reports SERVING for the server and each Charter service', async () => {
    const client = healthClient(h.target);
    expect((await check(client, '')).status).toBe('SERVING');
    expect((await check(client, 'charter.v1.Authorization')).status).toBe('SERVING');
    expect((await check(client, 'charter.v1.Admin')).status).toBe('SERVING');
    await expect(check(client, 'no.such.Service')).rejects.toMatchObject({ code: 5 });
    client.close();
  });

  it('lists services and serves file descriptors through reflection', async () => {
    const client = reflectionClient(h.target);
    const list = await reflect(client, { list_services: '' });
    const names = ((list.list_services_response as { service: { name: string }[] }).service ?? []).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['charter.v1.Authorization', 'charter.v1.Admin', 'charter.v1.Invalidation', 'grpc.health.v1.Health']));
    const files = await reflect(client, { file_containing_symbol: 'charter.v1.Authorization' });
    const protos = (files.file_descriptor_response as { file_descriptor_proto: Buffer[] }).file_descriptor_proto;
    expect(protos.length).toBeGreaterThan(0);
    expect(Buffer.concat(protos).toString('latin1')).toContain('AuthorizeRequest');
    client.close();
  });

  it('serves file descriptors a client can link and use (what buf curl and grpcurl need)', async () => {
    const client = reflectionClient(h.target);
    const res = await reflect(client, { file_containing_symbol: 'charter.v1.Authorization' });
    client.close();
    const { default: descriptor } = await import('protobufjs/ext/descriptor/index.js');
    const files = (res.file_descriptor_response as { file_descriptor_proto: Buffer[] }).file_descriptor_proto.map((b) => descriptor.FileDescriptorProto.decode(b) as unknown as {
      name: string;
      dependency: string[];
      messageType: { name: string; field: { name: string; typeName?: string }[]; nestedType: { name: string }[] }[];
    });
    const charter = files.find((f) => f.messageType.some((m) => m.name === 'AuthorizeRequest'))!;
    const struct = files.find((f) => f.name === 'google/protobuf/struct.proto')!;
    expect(struct, files.map((f) => f.name).join(', ')).toBeDefined();
    expect(charter.dependency).toContain('google/protobuf/struct.proto');
    const request = charter.messageType.find((m) => m.name === 'AuthorizeRequest')!;
    expect(request.field.map((f) => f.name)).toEqual(['actor', 'action', 'resource', 'context', 'resource_attributes', 'actor_claims']);
    for (const f of files) for (const m of f.messageType) for (const field of m.field) if (field.typeName) expect(field.typeName.startsWith('.'), `${m.name}.${field.name}: ${field.typeName}`).toBe(true);
    expect(struct.messageType.find((m) => m.name === 'Struct')!.nestedType.map((n) => n.name)).toEqual(['FieldsEntry']);
    // Build types from nothing but the reflected descriptors, and ask a question with them.
    const protobuf = (await import('protobufjs')).default;
    const root = (protobuf.Root as unknown as { fromDescriptor(set: unknown): protobuf.Root }).fromDescriptor({ file: [struct, charter] });
    const Req = root.lookupType('charter.v1.AuthorizeRequest');
    const Res = root.lookupType('charter.v1.AuthorizeResponse');
    const body = Req.encode(
      Req.fromObject({
        actor: 'spiffe://personnel.acme.test/eid/1001',
        action: 'read',
        resource: 'uon://payments/payment/p-999',
        // protobufjs builds a map field from a descriptor as its wire form: repeated entries.
        resource_attributes: { fields: [{ key: 'customer_region', value: { stringValue: 'emea' } }] },
      }),
    ).finish();
    const { Client, credentials, Metadata } = await import('@grpc/grpc-js');
    const raw = new Client(h.target, credentials.createInsecure());
    const answer = await new Promise<Buffer>((resolve, reject) =>
      raw.makeUnaryRequest('/charter.v1.Authorization/Authorize', (b: Buffer) => b, (b: Buffer) => b, Buffer.from(body), new Metadata(), (err, r) => (err ? reject(err) : resolve(r!))),
    );
    raw.close();
    expect(Res.toObject(Res.decode(answer), { enums: String })).toMatchObject({ decision: 'DECISION_ALLOW', policy_ids: ['payments/payment-read'] });
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    await call(h.client(), 'authorization', 'Authorize', { actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100' });
    const healthz = await fetch(`${h.http}/healthz`);
    expect(healthz.status).toBe(200);
    const readyz = await fetch(`${h.http}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.json()).toMatchObject({ status: 'ready', policyRevision: h.server.decisionPoint.policyRevision });
    const metrics = await (await fetch(`${h.http}/metrics`)).text();
    expect(metrics).toMatch(/^charter_decisions_total\{effect="ALLOW",transport="grpc"\} [1-9]\d*$/m);
    for (const name of [
      'charter_decision_duration_seconds_bucket',
      'charter_policy_reloads_total',
      'charter_policy_reload_failures_total',
      'charter_policy_revision_info',
      'charter_attribute_revision',
      'charter_invalidation_subscribers',
    ]) {
      expect(metrics).toContain(name);
    }
  });

  it('routes added by other transports, 404 and 405', async () => {
    const echo = await fetch(`${h.http}/test/echo`, { method: 'POST', body: '{}' });
    expect(await echo.json()).toEqual({ echoed: true });
    expect((await fetch(`${h.http}/nope`)).status).toBe(404);
    const wrong = await fetch(`${h.http}/metrics`, { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toContain('GET');
  });

  it('turns NOT_SERVING while draining and ends invalidation streams cleanly', async () => {
    const h2 = await startHarness();
    const client = healthClient(h2.target) as unknown as Client & { Watch: Function };
    const statuses: string[] = [];
    const watch = client.Watch({ service: '' });
    watch.on('data', (r: { status: string }) => statuses.push(r.status));
    watch.on('error', () => {});
    const sub = (h2.client().invalidation as unknown as { Subscribe(r: object): NodeJS.EventEmitter }).Subscribe({});
    let subscriptionEnded = false;
    sub.on('data', () => {});
    sub.on('error', () => {});
    sub.on('end', () => (subscriptionEnded = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(statuses).toEqual(['SERVING']);
    await h2.server.close(300);
    expect(statuses).toContain('NOT_SERVING');
    await new Promise((r) => setTimeout(r, 100));
    expect(subscriptionEnded).toBe(true);
    await expect(fetch(`${h2.http}/readyz`)).rejects.toThrow();
    client.close();
    await h2.close();
  });
});
