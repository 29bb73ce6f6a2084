/** The small pure pieces of the server: configuration, Struct conversion, SAN parsing. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseServeArgs, serveUsage } from '../../src/server/config.js';
import { spiffeIdProblem } from '../../src/server/limits.js';
import { createServerMetrics } from '../../src/server/metrics.js';
import { spiffeIdOfCertificate } from '../../src/server/security.js';
import { jsToValue, objectToStruct, structToObject, valueToJs } from '../../src/server/struct.js';
import { charterPackageDefinition } from '../../src/server/proto.js';

describe('serve configuration', () => {
  it('has the documented defaults', () => {
    const r = parseServeArgs([], {});
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.config).toMatchObject({ host: '127.0.0.1', grpcPort: 50051, httpPort: 8080, policiesDir: undefined, dataDir: undefined, workers: 1, logLevel: 'info', decisionLogSampleRate: 1 });
    expect(r.config.limits).toMatchObject({ maxMessageBytes: 1048576, maxFieldBytes: 1024, maxBatchSize: 1000 });
  });

  it('reads CHARTER_* variables, and flags win over them', () => {
    const env = { CHARTER_GRPC_PORT: '7000', CHARTER_HTTP_PORT: '7001', CHARTER_HOST: '::1', CHARTER_POLICIES: '/p', CHARTER_DATA: '/d', CHARTER_LOG_LEVEL: 'debug' };
    const fromEnv = parseServeArgs([], env);
    expect(fromEnv.kind === 'ok' && fromEnv.config).toMatchObject({ grpcPort: 7000, httpPort: 7001, host: '::1', policiesDir: '/p', dataDir: '/d', logLevel: 'debug' });
    const flags = parseServeArgs(['--grpc-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--policies', '/q', '--data', '/e', '--log-level', 'warn'], env);
    expect(flags.kind === 'ok' && flags.config).toMatchObject({ grpcPort: 0, httpPort: 0, host: '127.0.0.1', policiesDir: '/q', dataDir: '/e', logLevel: 'warn' });
  });

  it('parses repeatable and list settings', () => {
    const r = parseServeArgs(['--tls-cert', 'c', '--tls-key', 'k', '--tls-ca', 'ca', '--admin-spiffe-id', 'spiffe://a/x', '--admin-spiffe-id', 'spiffe://a/y', '--redact-context-keys', 'ip, token', '--decision-log-sample-rate', '0.1'], {});
    expect(r.kind === 'ok' && r.config).toMatchObject({ adminSpiffeIds: ['spiffe://a/x', 'spiffe://a/y'], redactContextKeys: ['ip', 'token'], decisionLogSampleRate: 0.1, tls: { cert: 'c', key: 'k', ca: 'ca' } });
    const env = parseServeArgs([], { CHARTER_TLS_CERT: 'c', CHARTER_TLS_KEY: 'k', CHARTER_TLS_CA: 'ca', CHARTER_ADMIN_SPIFFE_IDS: 'spiffe://a/x,spiffe://a/y' });
    expect(env.kind === 'ok' && env.config.adminSpiffeIds).toEqual(['spiffe://a/x', 'spiffe://a/y']);
  });

  it.each([
    [['--grpc-port', 'abc'], /--grpc-port must be an integer/],
    [['--grpc-port', '70000'], /between 0 and 65535/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--tls-cert', 'c'], /--tls-cert and --tls-key go together/],
    [['--admin-spiffe-id', 'spiffe://a/x'], /needs mTLS/],
    [['--host', '0.0.0.0', '--admin-insecure-loopback'], /only allowed on a loopback host/],
    [['--admin-token', 'short'], /at least 16 characters/],
    [['--decision-log-sample-rate', '2'], /from 0 to 1/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['--http-api-key', 'short'], /--http-api-key must be at least/],
  ])('rejects %j', (args, message) => {
    const r = parseServeArgs(args, {});
    expect(r.kind).toBe('error');
    expect(r.kind === 'error' && r.message).toMatch(message);
  });

  it('has --help text naming every environment variable', () => {
    expect(parseServeArgs(['--help'], {}).kind).toBe('help');
    for (const v of ['CHARTER_GRPC_PORT', 'CHARTER_HTTP_PORT', 'CHARTER_HOST', 'CHARTER_POLICIES', 'CHARTER_DATA', 'CHARTER_LOG_LEVEL']) expect(serveUsage()).toContain(v);
  });
});

describe('Struct conversion', () => {
  const json = fc.jsonValue({ maxDepth: 4 }).filter((v) => v !== null && typeof v === 'object' && !Array.isArray(v)) as fc.Arbitrary<Record<string, unknown>>;

  it('round-trips JSON objects through the wire encoding', () => {
    const method = (charterPackageDefinition()['charter.v1.Authorization'] as unknown as Record<string, { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): { context: unknown } }>).Authorize;
    fc.assert(
      fc.property(json, (obj) => {
        const wire = method.requestSerialize({ actor: 'a', action: 'b', resource: 'c', context: objectToStruct(obj) });
        const back = structToObject(method.requestDeserialize(wire).context as never) ?? {};
        // JSON has no -0; protobuf doubles keep it. protobufjs drops map keys named
        // "__proto__" while decoding (it assigns them), so they cannot survive the wire.
        const withoutProto = (text: string) => JSON.parse(text, (key, value) => (key === '__proto__' ? undefined : value));
        expect(JSON.parse(JSON.stringify(back))).toEqual(withoutProto(JSON.stringify(obj)));
      }),
      { numRuns: 200 },
    );
  });

  it('converts values decoded without oneof names', () => {
    expect(valueToJs({ stringValue: 'x' })).toBe('x');
    expect(valueToJs({ listValue: { values: [{ numberValue: 1 }, { boolValue: false }] } })).toEqual([1, false]);
    expect(valueToJs({ structValue: { fields: { a: { nullValue: 0 } } } })).toEqual({ a: null });
    expect(structToObject(null)).toBeUndefined();
    expect(structToObject({ fields: {} })).toBeUndefined();
    expect(jsToValue(new Date(0))).toEqual({ stringValue: '1970-01-01T00:00:00.000Z' });
  });
});

describe('SPIFFE ID from a certificate', () => {
  it('finds the URI SAN among others', () => {
    expect(spiffeIdOfCertificate({ subjectaltname: 'DNS:a.test, URI:spiffe://acme.test/x, IP Address:127.0.0.1' })).toBe('spiffe://acme.test/x');
    expect(spiffeIdOfCertificate({ subjectaltname: 'URI:https://example.test, URI:"spiffe://acme.test/a,b"' })).toBe('spiffe://acme.test/a,b');
    expect(spiffeIdOfCertificate({ subjectaltname: 'DNS:a.test' })).toBeUndefined();
    expect(spiffeIdOfCertificate(undefined)).toBeUndefined();
  });
});

describe('SPIFFE ID validation', () => {
  // The specification's rules, written out plainly: the validator's one-regex fast path must
  // accept exactly what these accept.
  function specValid(id: string): boolean {
    if (!id.startsWith('spiffe://')) return false;
    const [td, ...path] = id.slice('spiffe://'.length).split('/');
    if (!/^[a-z0-9._-]+$/.test(td)) return false;
    return path.every((s) => s !== '' && s !== '.' && s !== '..' && /^[A-Za-z0-9._-]+$/.test(s));
  }

  it('accepts and refuses what the specification does', () => {
    const piece = fc.constantFrom('a', 'Z', '9', '.', '..', '-', '_', '/', '//', ' ', 'é', ':', 'x.y');
    const id = fc.array(piece, { maxLength: 12 }).map((parts) => `spiffe://${parts.join('')}`);
    fc.assert(
      fc.property(id, (value) => {
        expect(spiffeIdProblem(value) === undefined).toBe(specValid(value));
      }),
      { numRuns: 5000 },
    );
  });

  it('names the problem', () => {
    expect(spiffeIdProblem('spiffe://acme.test/ns/./x')).toBe('path segment "." or ".."');
    expect(spiffeIdProblem('spiffe://acme.test/ns/..')).toBe('path segment "." or ".."');
    expect(spiffeIdProblem('spiffe://Acme/x')).toMatch(/trust domain/);
    expect(spiffeIdProblem('spiffe://acme.test/')).toBe('trailing "/"');
    expect(spiffeIdProblem('spiffe://acme.test/a/')).toBe('empty path segment');
    expect(spiffeIdProblem('spiffe://acme.test/ns/.hidden')).toBeUndefined();
    expect(spiffeIdProblem('spiffe://acme.test')).toBeUndefined();
  });
});

describe('decision tallies', () => {
  const valueOf = async (metrics: ReturnType<typeof createServerMetrics>, name: string, labels: Record<string, string>) => {
    const values = (await metrics.registry.getMetricsAsJSON()).flatMap((m) => m.values.map((v) => ({ ...v, name: (v as { metricName?: string }).metricName ?? m.name })));
    const match = values.find((v) => v.name === name && Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want));
    return match?.value;
  };

  it('reach prom-client before every scrape, without waiting for their timer', async () => {
    const metrics = createServerMetrics({ defaultMetrics: false });
    const tally = metrics.tally('Authorize', 'grpc');
    tally.record(true, 0.0001);
    tally.record(true, 0.0002);
    tally.record(false, 0.003);
    expect(await valueOf(metrics, 'charter_decisions_total', { effect: 'ALLOW', transport: 'grpc' })).toBe(2);
    expect(await valueOf(metrics, 'charter_decisions_total', { effect: 'DENY', transport: 'grpc' })).toBe(1);
    expect(await valueOf(metrics, 'charter_decision_duration_seconds_count', { rpc: 'Authorize' })).toBe(3);
    expect(await valueOf(metrics, 'charter_decision_duration_seconds_bucket', { rpc: 'Authorize', le: '0.00025' })).toBe(2);
    // Counted once: the scrape emptied the tally.
    expect(await valueOf(metrics, 'charter_decisions_total', { effect: 'ALLOW', transport: 'grpc' })).toBe(2);
  });

  it('count decisions without a latency, and keep more than one batch', async () => {
    const metrics = createServerMetrics({ defaultMetrics: false });
    const tally = metrics.tally('BatchAuthorize', 'grpc');
    for (let i = 0; i < 3000; i++) tally.record(i % 3 !== 0, i < 1500 ? 0.001 : Number.NaN);
    tally.observe(0.5);
    expect(await valueOf(metrics, 'charter_decisions_total', { effect: 'ALLOW', transport: 'grpc' })).toBe(2000);
    expect(await valueOf(metrics, 'charter_decisions_total', { effect: 'DENY', transport: 'grpc' })).toBe(1000);
    expect(await valueOf(metrics, 'charter_decision_duration_seconds_count', { rpc: 'BatchAuthorize' })).toBe(1501);
  });
});
