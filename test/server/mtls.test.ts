/**
 * TLS, mTLS, the caller's SPIFFE ID reaching policies as env.peer_spiffe_id, and Admin access
 * by SPIFFE ID. Certificates are made by openssl in a temp dir.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectToStruct } from '../../src/server/struct.js';
import { call, callError, copyPolicies, startHarness, tempDir, type Harness } from './helpers.js';

const ADMIN = 'spiffe://acme.test/ops/admin';
const GATEWAY = 'spiffe://acme.test/workload/gateway';
const OTHER = 'spiffe://acme.test/workload/other';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCertificates(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=charter-test-ca', '-days', '2']);
  const leaf = (name: string, ext: string): void => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('admin', `subjectAltName=URI:${ADMIN}\nextendedKeyUsage=clientAuth\n`);
  leaf('gateway', `subjectAltName=DNS:gateway.acme.test,URI:${GATEWAY}\nextendedKeyUsage=clientAuth\n`);
  leaf('other', `subjectAltName=URI:${OTHER}\nextendedKeyUsage=clientAuth\n`);
  leaf('nospiffe', 'subjectAltName=DNS:plain.acme.test\nextendedKeyUsage=clientAuth\n');
}

const GATEWAY_POLICY = `apiVersion: charter.dev/v1
description: Routes only the gateway workload may proxy, by its mTLS identity.
rules:
  - id: proxy-from-gateway
    effect: allow
    actors: "*"
    actions: [proxy]
    resources: ["uon://gateway/route/*"]
    condition: has(env.peer_spiffe_id) && env.peer_spiffe_id == "${GATEWAY}"
`;

const proxy = { actor: 'spiffe://personnel.acme.test/eid/1001', action: 'proxy', resource: 'uon://gateway/route/r1' };

describe('mTLS', () => {
  let h: Harness;
  let certs: string;
  let policies: string;
  const cred = (name: string) => ({ tlsServerName: 'localhost', tlsCa: join(certs, 'ca.crt'), tlsCert: join(certs, `${name}.crt`), tlsKey: join(certs, `${name}.key`) });

  beforeAll(async () => {
    certs = tempDir('certs');
    makeCertificates(certs);
    policies = copyPolicies();
    mkdirSync(join(policies, 'gateway'));
    writeFileSync(join(policies, 'gateway', 'routes.yaml'), GATEWAY_POLICY);
    h = await startHarness({
      policiesDir: policies,
      tls: { cert: join(certs, 'server.crt'), key: join(certs, 'server.key'), ca: join(certs, 'ca.crt') },
      adminSpiffeIds: [ADMIN],
    });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(certs, { recursive: true, force: true });
    rmSync(policies, { recursive: true, force: true });
  });

  it('refuses a client without a certificate and a plaintext client', async () => {
    const noCert = await callError(call(h.client({ tlsCa: join(certs, 'ca.crt'), tlsServerName: 'localhost' }), 'authorization', 'Authorize', proxy, 2_000));
    expect(noCert.code).toBe(status.UNAVAILABLE);
    const plain = await callError(call(h.client(), 'authorization', 'Authorize', proxy, 2_000));
    expect(plain.code).toBe(status.UNAVAILABLE);
  });

  it('gives policies the caller SPIFFE ID as env.peer_spiffe_id', async () => {
    const fromGateway = await call<{ decision: string; policyIds: string[] }>(h.client(cred('gateway')), 'authorization', 'Authorize', proxy);
    expect(fromGateway.decision).toBe('DECISION_ALLOW');
    expect(fromGateway.policyIds).toEqual(['gateway/proxy-from-gateway']);
    const fromOther = await call<{ decision: string }>(h.client(cred('other')), 'authorization', 'Authorize', proxy);
    expect(fromOther.decision).toBe('DECISION_DENY');
  });

  it('ignores a peer_spiffe_id the caller puts in the context', async () => {
    const spoof = await call<{ decision: string }>(h.client(cred('other')), 'authorization', 'Authorize', { ...proxy, context: objectToStruct({ peer_spiffe_id: GATEWAY }) });
    expect(spoof.decision).toBe('DECISION_DENY');
  });

  it('answers the payments scenario over mTLS too', async () => {
    const res = await call<{ decision: string }>(h.client(cred('other')), 'authorization', 'Authorize', { actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100' });
    expect(res.decision).toBe('DECISION_ALLOW');
  });

  it('lets only the configured admin identity use the Admin API', async () => {
    const ok = await call<{ applied: number }>(h.client(cred('admin')), 'admin', 'Write', {
      records: [{ kind: 'KIND_ENTITY', op: 'OP_PUT', id: 'uon://gateway/route/r2', attributes: objectToStruct({ owner: 'ops' }) }],
    });
    expect(ok.applied).toBe(1);
    const other = await callError(call(h.client(cred('other')), 'admin', 'GetRevisions', {}));
    expect(other.code).toBe(status.PERMISSION_DENIED);
    expect(other.details).toContain(`${OTHER} is not an admin identity`);
    const noId = await callError(call(h.client(cred('nospiffe')), 'admin', 'GetRevisions', {}));
    expect(noId.code).toBe(status.PERMISSION_DENIED);
    expect(noId.details).toMatch(/no SPIFFE ID/);
  });
});

describe('TLS without client certificates', () => {
  it('serves TLS clients, gives policies no peer identity, and keeps Admin off', async () => {
    const certs = tempDir('certs');
    makeCertificates(certs);
    const h = await startHarness({ tls: { cert: join(certs, 'server.crt'), key: join(certs, 'server.key') } });
    try {
      const c = h.client({ tlsCa: join(certs, 'ca.crt'), tlsServerName: 'localhost' });
      const res = await call<{ decision: string }>(c, 'authorization', 'Authorize', { actor: 'spiffe://personnel.acme.test/eid/1001', action: 'read', resource: 'uon://payments/payment/p-100' });
      expect(res.decision).toBe('DECISION_ALLOW');
      const admin = await callError(call(c, 'admin', 'GetRevisions', {}));
      expect(admin.code).toBe(status.PERMISSION_DENIED);
    } finally {
      await h.close();
      rmSync(certs, { recursive: true, force: true });
    }
  });

  it('refuses --admin-spiffe-id without mTLS', async () => {
    await expect(startHarness({ adminSpiffeIds: [ADMIN] })).rejects.toThrow(/needs mTLS/);
  });
});
