/** The client over mTLS (certificates made by openssl in a temp dir), and failing closed on a bad one. */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CharterClient } from '../../src/client/index.js';
import { tempDir } from '../server/helpers.js';
import { ALICE, P100, startServer, type Harness } from './helpers.js';

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCertificates(dir: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) openssl(dir, ['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-subj', `/CN=${ca}`, '-days', '2']);
  const leaf = (name: string, ext: string): void => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('app', 'subjectAltName=URI:spiffe://acme.test/workload/app\nextendedKeyUsage=clientAuth\n');
}

const READ_P100 = { actor: ALICE, action: 'read', resource: P100 };

describe('CharterClient over mTLS', () => {
  let h: Harness;
  let certs: string;
  beforeAll(async () => {
    certs = tempDir('client-certs');
    makeCertificates(certs);
    h = await startServer({ tls: { cert: join(certs, 'server.crt'), key: join(certs, 'server.key'), ca: join(certs, 'ca.crt') } });
  });
  afterAll(async () => {
    await h?.close();
    if (certs) rmSync(certs, { recursive: true, force: true });
  });

  it('checks and subscribes with a client certificate (files or PEM text)', async () => {
    const c = new CharterClient({
      target: h.target,
      deadlineMs: 5_000,
      tls: { ca: join(certs, 'ca.crt'), cert: readFileSync(join(certs, 'app.crt'), 'utf8'), key: readFileSync(join(certs, 'app.key')), serverName: 'localhost' },
    });
    try {
      expect(await c.ready()).toBe(true);
      expect(await c.check(READ_P100)).toMatchObject({ allowed: true, cached: false });
      expect(await c.check(READ_P100)).toMatchObject({ allowed: true, cached: true });
    } finally {
      c.close();
    }
  });

  it('fails closed without a client certificate, and against a server it cannot verify', async () => {
    for (const tls of [{ ca: join(certs, 'ca.crt'), serverName: 'localhost' }, { ca: join(certs, 'other-ca.crt'), cert: join(certs, 'app.crt'), key: join(certs, 'app.key'), serverName: 'localhost' }]) {
      const c = new CharterClient({ target: h.target, deadlineMs: 2_000, tls });
      try {
        const r = await c.check(READ_P100);
        expect(r).toMatchObject({ allowed: false, decision: 'DENY' });
        expect(r.error?.code).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
        expect(c.streamConnected).toBe(false);
      } finally {
        c.close();
      }
    }
  });
});
