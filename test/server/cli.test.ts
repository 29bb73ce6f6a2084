/**
 * `charter serve`, `charter write` and `charter authorize` as processes (the built CLI in
 * dist/, which `npm test` builds first): the demo with no flags, environment settings, Admin
 * writes from NDJSON, SIGHUP reload, a write by another process pushed as an invalidation,
 * SIGTERM drain, and --workers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/server/grpc-client.js';
import { openStore } from './store.js';
import { REPO, copyPolicies, tempDir, waitFor } from './helpers.js';

const BIN = join(REPO, 'bin', 'charter.js');
const TOKEN = 'cli-test-admin-token-0123456789';
const alice = 'spiffe://personnel.acme.test/eid/1001';

beforeAll(() => {
  if (!existsSync(join(REPO, 'dist', 'cli', 'commands', 'serve.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'pipe' });
}, 120_000);

interface Served {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  raw: string[];
  grpcPort: number;
  httpPort: number;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();
afterAll(() => {
  for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
});

async function serve(args: string[], env: Record<string, string> = {}, readyMatch = (l: Record<string, unknown>) => typeof l.grpcPort === 'number'): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    cwd: REPO,
    env: { ...process.env, CHARTER_GRPC_PORT: '0', CHARTER_HTTP_PORT: '0', CHARTER_POLICIES: '', CHARTER_DATA: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      raw.push(line);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not JSON */
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await waitFor('server start', () => lines.find(readyMatch) ?? (child.exitCode !== null ? ({ failed: true } as Record<string, unknown>) : undefined), 60_000);
  if (ready.failed) throw new Error(`charter serve exited:\n${raw.join('\n')}`);
  return {
    child,
    lines,
    raw,
    grpcPort: ready.grpcPort as number,
    httpPort: ready.httpPort as number,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

function charter(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('charter serve (demo: no flags)', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve([]);
  }, 90_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('logs the chosen ports and serves the bundled policies over a seeded temporary store', async () => {
    expect(s.grpcPort).toBeGreaterThan(0);
    expect(s.httpPort).toBeGreaterThan(0);
    const demo = s.lines.find((l) => l.msg === 'no --data given: serving a temporary demo store');
    expect(demo?.seededFrom).toEqual(expect.arrayContaining([expect.stringMatching(/policies\/payments\/data\.ndjson$/)]));
    const ready = await fetch(`http://127.0.0.1:${s.httpPort}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('serves the AuthZEN metadata on the HTTP port', async () => {
    const res = await fetch(`http://127.0.0.1:${s.httpPort}/.well-known/authzen-configuration`);
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain('/access/v1/evaluation');
  });

  it('charter authorize prints the decision and why (exit 0 on ALLOW, 1 on DENY)', async () => {
    const allow = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'uon://payments/payment/p-100', '--context', '{"country":"GB"}']);
    expect(allow.code, allow.stderr).toBe(0);
    expect(allow.stdout).toMatch(/^ALLOW: /);
    expect(allow.stdout).toMatch(/decided by: +payments\/payment-read/);
    expect(allow.stdout).toMatch(/policy revision: +\S+/);
    const deny = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'uon://payments/payment/p-100', '--context', '{"country":"FR"}']);
    expect(deny.code).toBe(1);
    expect(deny.stdout).toMatch(/^DENY: /);
    const json = await charter(['authorize', '--json', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'uon://payments/payment/p-999', '--resource-attributes', '{"customer_region":"emea"}']);
    expect(JSON.parse(json.stdout)).toMatchObject({ decision: 'DECISION_ALLOW' });
  });

  it('charter authorize explains bad input and unreachable servers', async () => {
    const bad = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'x', '--context', '{nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--context is not valid JSON/);
    const invalid = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', 'spiffe://BAD/x', '--action', 'read', '--resource', 'uon://a/b/c']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/INVALID_ARGUMENT: actor is not a valid SPIFFE ID/);
  });

  it('keeps the Admin API off by default', async () => {
    const dir = tempDir('ndjson');
    writeFileSync(join(dir, 'x.ndjson'), '{"kind":"entity","id":"uon://x/y/z","attributes":{}}\n');
    const res = await charter(['write', '--target', `127.0.0.1:${s.grpcPort}`, join(dir, 'x.ndjson')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/PERMISSION_DENIED: Admin API is disabled/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows --help', async () => {
    const res = await charter(['serve', '--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('--grpc-port N');
    expect(res.stdout).toContain('CHARTER_GRPC_PORT');
  });
});

describe('charter serve with a data directory, Admin token and SIGHUP', () => {
  let s: Served;
  let policies: string;
  let data: string;
  let ndjson: string;
  beforeAll(async () => {
    policies = copyPolicies();
    data = tempDir('data');
    ndjson = tempDir('ndjson');
    const store = await openStore(data);
    await store.importFiles([join(policies, 'payments', 'data.ndjson')]);
    await store.store.close();
    // Settings from the environment; the flag for the policy directory.
    s = await serve(['--policies', policies, '--no-watch', '--decision-log', join(ndjson, 'decisions.log'), '--redact-context-keys', 'ip,token'], { CHARTER_DATA: data, CHARTER_ADMIN_TOKEN: TOKEN, CHARTER_HOST: '127.0.0.1', CHARTER_POLICIES: '/nonexistent' });
  }, 90_000);
  afterAll(async () => {
    await s?.stop();
    for (const d of [policies, data, ndjson]) rmSync(d, { recursive: true, force: true });
  });

  it('charter write sends NDJSON records and returns once they are committed', async () => {
    const file = join(ndjson, 'grant.ndjson');
    writeFileSync(
      file,
      [
        JSON.stringify({ kind: 'entity', id: 'uon://payments/payment/p-cli', attributes: { customer_region: 'emea', amount: 5 } }),
        JSON.stringify({ kind: 'relation', object: 'team:payments', relation: 'member', subject: 'spiffe://personnel.acme.test/eid/1003' }),
        '',
      ].join('\n'),
    );
    const res = await charter(['write', '--target', `127.0.0.1:${s.grpcPort}`, file], { CHARTER_ADMIN_TOKEN: TOKEN });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/2 records committed/);
    const check = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'uon://payments/payment/p-cli']);
    expect(check.code, check.stdout).toBe(0);
    const publish = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', 'spiffe://personnel.acme.test/eid/1003', '--action', 'publish', '--resource', 'uon://kafka/topic/payments.settled']);
    expect(publish.code, publish.stdout).toBe(0);
  });

  it('charter write sends nothing when a line is malformed', async () => {
    const file = join(ndjson, 'bad.ndjson');
    writeFileSync(file, `${JSON.stringify({ kind: 'entity', id: 'uon://payments/payment/p-bad', attributes: { customer_region: 'emea' } })}\n{"kind":"relation","object":"a"}\n`);
    const res = await charter(['write', '--target', `127.0.0.1:${s.grpcPort}`, '--token', TOKEN, file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: \\S`));
    expect(res.stderr).toContain('nothing was sent');
    const check = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'uon://payments/payment/p-bad']);
    expect(check.code).toBe(1);
  });

  it('writes the decision log to the configured file with context keys redacted', async () => {
    const res = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'refund', '--resource', 'uon://payments/payment/p-100', '--context', '{"ip":"10.9.9.9","token":"abc","country":"GB"}']);
    expect(res.code).toBeLessThan(2);
    const entry = await waitFor('decision log entry', () => {
      if (!existsSync(join(ndjson, 'decisions.log'))) return undefined;
      return readFileSync(join(ndjson, 'decisions.log'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e.action === 'refund');
    });
    expect(entry).toMatchObject({ actor: alice, resource: 'uon://payments/payment/p-100', context: { ip: '[REDACTED]', token: '[REDACTED]', country: 'GB' } });
    expect(typeof entry.requestId).toBe('string');
    expect(typeof entry.policyRevision).toBe('string');
  });

  it('charter authorize --explain lists every candidate rule and its outcome', async () => {
    const res = await charter(['authorize', '--explain', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'uon://payments/payment/p-200'], { CHARTER_ADMIN_TOKEN: TOKEN });
    expect(res.code, res.stderr).toBe(1);
    expect(res.stdout).toMatch(/^DENY: /);
    expect(res.stdout).toMatch(/candidate rules \(denies first\):/);
    expect(res.stdout).toMatch(/allow +payments\/payment-read +condition-false/);
  });

  it('charter write with a wrong token is refused', async () => {
    const file = join(ndjson, 'one.ndjson');
    writeFileSync(file, `${JSON.stringify({ kind: 'entity', id: 'uon://x/y/1', attributes: {} })}\n`);
    const res = await charter(['write', '--target', `127.0.0.1:${s.grpcPort}`, '--token', 'wrong-token-wrong-token', file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/PERMISSION_DENIED: Admin API: invalid token/);
  });

  it('pushes a write made by another process as an invalidation', async () => {
    const clients = connect({ target: `127.0.0.1:${s.grpcPort}` });
    const events: { entityIds: string[]; flushAll: boolean }[] = [];
    const stream = (clients.invalidation as unknown as { Subscribe(r: object): ClientReadableStream<{ entityIds: string[]; flushAll: boolean }> }).Subscribe({});
    stream.on('data', (e) => events.push(e));
    stream.on('error', () => {});
    await waitFor('first event', () => events.length > 0);
    // A decision that puts alice and p-300 in the server's attribute cache.
    const readP300 = ['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'uon://payments/payment/p-300'];
    expect((await charter(readP300)).code).toBe(0);
    // This test process is "another process": it opens the same LMDB environment and writes.
    const other = await openStore(data);
    await other.store.write([
      { kind: 'entity', op: 'put', id: 'uon://payments/payment/p-other', attributes: { customer_region: 'amer' } },
      { kind: 'entity', op: 'put', id: 'uon://payments/payment/p-300', attributes: { customer_region: 'amer', amount: 1 } },
    ]);
    await other.store.close();
    const event = await waitFor('invalidation for the other process write', () => events.find((e) => e.entityIds.includes('uon://payments/payment/p-other')));
    expect(event.flushAll).toBe(false);
    // Once clients are told, decisions use the new attributes too (the cached p-300 is gone).
    expect((await charter(readP300)).code).toBe(1);
    stream.cancel();
    clients.close();
  });

  it('reloads policies on SIGHUP', async () => {
    const probe = ['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'inspect', '--resource', 'uon://hup/thing/1'];
    expect((await charter(probe)).code).toBe(1);
    const file = join(policies, 'payments', 'platform.yaml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n  - id: hup-probe\n    effect: allow\n    actors: "*"\n    actions: [inspect]\n    resources: ["uon://hup/thing/*"]\n`);
    s.child.kill('SIGHUP');
    await waitFor('reload log', () => s.lines.find((l) => l.msg === 'policy set reloaded' && l.reason === 'SIGHUP'));
    const after = await charter(probe);
    expect(after.code, after.stdout).toBe(0);
    expect(after.stdout).toContain('payments/hup-probe');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const code = await s.stop('SIGTERM');
    expect(code).toBe(0);
    expect(s.lines.some((l) => l.msg === 'server stopped')).toBe(true);
  });
});

describe('charter serve with a broken policy set', () => {
  it('refuses to start and prints every error with file:line:col', async () => {
    const policies = copyPolicies();
    try {
      writeFileSync(join(policies, 'payments', 'broken.yaml'), 'apiVersion: charter.dev/v1\nrules:\n  - id: x\n    effect: allow\n    actors: "*"\n    actions: [read]\n    resources: ["uon://x/*"]\n    condition: actor.region ==\n');
      const res = await charter(['serve', '--policies', policies, '--grpc-port', '0', '--http-port', '0']);
      expect(res.code).toBe(1);
      expect(res.stdout + res.stderr).toMatch(/broken\.yaml:\d+:\d+/);
    } finally {
      rmSync(policies, { recursive: true, force: true });
    }
  });
});

describe('charter serve --workers 2', () => {
  it('serves from two worker processes on one port and stops cleanly', async () => {
    const s = await serve(['--workers', '2', '--decision-log', 'off'], {}, (l) => typeof l.grpcPort === 'number' && typeof l.workers === 'number');
    try {
      const pids = new Set(s.lines.filter((l) => l.msg && String(l.msg).startsWith('charter serving gRPC')).map((l) => l.pid));
      expect(pids.size).toBe(2);
      for (let i = 0; i < 4; i++) {
        const res = await charter(['authorize', '--target', `127.0.0.1:${s.grpcPort}`, '--actor', alice, '--action', 'read', '--resource', 'uon://payments/payment/p-100']);
        expect(res.code, res.stderr).toBe(0);
      }
      // One scrape, whichever worker answers it, holds every worker's series.
      for (let i = 0; i < 2; i++) {
        const text = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
        expect(text).toMatch(/charter_policy_rules\{worker="1"\} \d+/);
        expect(text).toMatch(/charter_policy_rules\{worker="2"\} \d+/);
        const allows = [...text.matchAll(/^charter_decisions_total\{effect="ALLOW",transport="grpc",worker="\d"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
        expect(allows).toBe(4);
      }
      const demo = s.lines.find((l) => l.msg === 'no --data given: serving a temporary demo store');
      expect(await s.stop()).toBe(0);
      expect(existsSync(demo?.dataDir as string)).toBe(false);
    } finally {
      await s.stop('SIGKILL');
    }
  }, 120_000);
});
