/**
 * `charter sidecar` end to end: the built CLI as a child process in front of a real server,
 * called over a unix socket like a non-Node service would.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { credentials, loadPackageDefinition, type Client, type ServiceError } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, unaryCall, type CharterClients } from '../../src/server/grpc-client.js';
import { ALICE, ALICE_ATTRIBUTES, BOB, P100, P200, serverCalls, startServer, waitFor, writeEntity, type Harness } from '../client/helpers.js';
import { REPO } from '../server/helpers.js';

/** dist/ files older than their sources among those the sidecar runs (client, sidecar, CLI). */
function staleOutputs(): string[] {
  const stale: string[] = [];
  for (const dir of ['client', 'sidecar', 'cli', join('cli', 'commands')]) {
    for (const name of readdirSync(join(REPO, 'src', dir))) {
      if (!name.endsWith('.ts')) continue;
      const built = join(REPO, 'dist', dir, name.replace(/\.ts$/, '.js'));
      if (dir === join('cli', 'commands') && name !== 'sidecar.ts') continue;
      if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(REPO, 'src', dir, name)).mtimeMs) stale.push(built);
    }
  }
  return stale;
}

/**
 * The CLI under test is the built one. Build every time (CHARTER_SKIP_BUILD=1 skips it when a
 * build just ran): comparing times is not enough while another build may be running, since tsc
 * writes what it read when it started.
 */
function build(): void {
  if (process.env.CHARTER_SKIP_BUILD === '1' && staleOutputs().length === 0) return;
  // Other folders may be mid-edit and make tsc report errors; it still emits, and what matters
  // here is that the sidecar's own output is fresh.
  spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'ignore', timeout: 170_000 });
  const stale = staleOutputs();
  if (stale.length > 0) throw new Error(`npm run build left stale output: ${stale.join(', ')}`);
}

interface Sidecar {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  address: string;
  httpPort: number;
  exited: Promise<number | null>;
}

async function spawnSidecar(args: string[]): Promise<Sidecar> {
  const child = spawn(process.execPath, [join(REPO, 'bin', 'charter.js'), 'sidecar', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (typeof entry.msg === 'string' && entry.msg.startsWith('charter sidecar listening')) resolve(entry);
    });
    void exited.then((code) => reject(new Error(`sidecar exited with ${code}: ${stderr}${JSON.stringify(logs)}`)));
  });
  const entry = await listening;
  return { child, logs, address: entry.address as string, httpPort: entry.httpPort as number, exited };
}

interface Response {
  decision: string;
  reason: string;
  policyIds: string[];
  policyRevision: string;
  cacheTtlMs: number;
  entityIds: string[];
}

async function metric(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : Number.NaN;
}

beforeAll(() => build(), 180_000);

describe('charter sidecar (child process, unix socket)', () => {
  let h: Harness | undefined;
  let dir: string;
  let sidecar: Sidecar;
  let local: CharterClients;
  let health: Client;

  beforeAll(async () => {
    h = await startServer();
    dir = mkdtempSync(join(tmpdir(), 'charter-sidecar-'));
    sidecar = await spawnSidecar(['--upstream', h.target, '--listen', `unix:${join(dir, 'charter.sock')}`, '--http-port', '0', '--stale-allow-ms', '200']);
    local = connect({ target: sidecar.address });
    const healthPkg = loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String })) as unknown as {
      grpc: { health: { v1: { Health: new (t: string, c: ReturnType<typeof credentials.createInsecure>) => Client } } };
    };
    health = new healthPkg.grpc.health.v1.Health(sidecar.address, credentials.createInsecure());
    await waitFor('the sidecar to subscribe upstream', async () => (await fetch(`http://127.0.0.1:${sidecar.httpPort}/readyz`)).status === 200, 10_000);
  }, 180_000);

  afterAll(async () => {
    local?.close();
    health?.close();
    if (sidecar && sidecar.child.exitCode === null) sidecar.child.kill('SIGKILL');
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const authorize = (request: object): Promise<Response> => unaryCall<Response>(local.authorization, 'Authorize', request, local.metadata());

  it('answers Authorize, the second time from its cache (one upstream call)', async () => {
    const before = await serverCalls(h!);
    const first = await authorize({ actor: ALICE, action: 'read', resource: P100 });
    expect(first.decision).toBe('DECISION_ALLOW');
    expect(first.policyIds.length).toBeGreaterThan(0);
    expect(first.policyRevision).toBe(h!.server.decisionPoint.policyRevision);
    // The sidecar is the cache: its callers must not keep answers themselves.
    expect(first.cacheTtlMs).toBe(0);
    const second = await authorize({ actor: ALICE, action: 'read', resource: P100 });
    expect(second.decision).toBe('DECISION_ALLOW');
    expect(await serverCalls(h!)).toBe(before + 1);
    expect(await metric(sidecar.httpPort, 'charter_sidecar_cache_hits_total')).toBeGreaterThanOrEqual(1);
    expect(await metric(sidecar.httpPort, 'charter_sidecar_cache_misses_total')).toBeGreaterThanOrEqual(1);
    expect(await metric(sidecar.httpPort, 'charter_sidecar_stream_connected')).toBe(1);
  });

  it('answers BatchAuthorize in order', async () => {
    const res = await unaryCall<{ responses: Response[] }>(local.authorization, 'BatchAuthorize', {
      requests: [
        { actor: ALICE, action: 'read', resource: P100 },
        { actor: ALICE, action: 'read', resource: P200 },
        { actor: BOB, action: 'read', resource: P200 },
      ],
    }, local.metadata());
    expect(res.responses.map((r) => r.decision)).toEqual(['DECISION_ALLOW', 'DECISION_DENY', 'DECISION_ALLOW']);
  });

  it('passes a bad request back as INVALID_ARGUMENT', async () => {
    const err = (await authorize({ actor: '', action: 'read', resource: P100 }).catch((e: ServiceError) => e)) as ServiceError;
    expect(err.code).toBe(3);
    const upstreamErr = (await authorize({ actor: 'spiffe://Bad Domain/x', action: 'read', resource: P100 }).catch((e: ServiceError) => e)) as ServiceError;
    expect(upstreamErr.code).toBe(3);
  });

  it('serves reflection for what it serves (Authorization, Health), not Admin', async () => {
    const protoFile = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
    const ns = loadPackageDefinition(protoLoader.loadSync(protoFile, { keepCase: true, enums: String, defaults: true, oneofs: true })) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (t: string, c: unknown) => Client } } };
    };
    const client = new ns.grpc.reflection.v1.ServerReflection(sidecar.address, credentials.createInsecure());
    try {
      const list = await new Promise<{ list_services_response: { service: { name: string }[] } }>((resolve, reject) => {
        const stream = (client as unknown as { ServerReflectionInfo(): NodeJS.ReadWriteStream & { end(): void; write(o: object): void } }).ServerReflectionInfo();
        stream.on('data', (res: { list_services_response: { service: { name: string }[] } }) => {
          resolve(res);
          stream.end();
        });
        stream.on('error', reject);
        stream.write({ list_services: '' });
      });
      const names = list.list_services_response.service.map((s) => s.name).sort();
      expect(names).toEqual(['charter.v1.Authorization', 'grpc.health.v1.Health']);
    } finally {
      client.close();
    }
  });

  it('serves gRPC health and /healthz', async () => {
    const res = await unaryCall<{ status: string }>(health, 'Check', { service: '' }, local.metadata());
    expect(res.status).toBe('SERVING');
    const svc = await unaryCall<{ status: string }>(health, 'Check', { service: 'charter.v1.Authorization' }, local.metadata());
    expect(svc.status).toBe('SERVING');
    const healthz = await fetch(`http://127.0.0.1:${sidecar.httpPort}/healthz`);
    expect(healthz.status).toBe(200);
  });

  it('stops granting after an Admin write upstream (invalidation through the sidecar)', async () => {
    expect((await authorize({ actor: ALICE, action: 'read', resource: P100 })).decision).toBe('DECISION_ALLOW');
    try {
      await writeEntity(h!, ALICE, { ...ALICE_ATTRIBUTES, region: 'amer' });
      const denied = await waitFor('DENY after the write', async () => {
        const r = await authorize({ actor: ALICE, action: 'read', resource: P100 });
        return r.decision === 'DECISION_DENY' ? r : undefined;
      });
      expect(denied.reason.length).toBeGreaterThan(0);
      expect(await metric(sidecar.httpPort, 'charter_sidecar_cache_invalidated_total')).toBeGreaterThanOrEqual(1);
    } finally {
      await writeEntity(h!, ALICE, ALICE_ATTRIBUTES);
    }
  });

  it('fails closed with the upstream down: DENY, not an error, and says so in /metrics and /readyz', async () => {
    expect((await authorize({ actor: BOB, action: 'read', resource: P200 })).decision).toBe('DECISION_ALLOW');
    await h!.close();
    h = undefined;
    await waitFor('the stream gauge to drop', async () => (await metric(sidecar.httpPort, 'charter_sidecar_stream_connected')) === 0);
    expect((await fetch(`http://127.0.0.1:${sidecar.httpPort}/readyz`)).status).toBe(503);
    await new Promise((r) => setTimeout(r, 250)); // past --stale-allow-ms
    const r = await authorize({ actor: BOB, action: 'read', resource: P200 });
    expect(r.decision).toBe('DECISION_DENY');
    expect(r.reason).toMatch(/did not decide/);
    const text = await (await fetch(`http://127.0.0.1:${sidecar.httpPort}/metrics`)).text();
    expect(text).toMatch(/charter_sidecar_upstream_errors_total\{code="(UNAVAILABLE|DEADLINE_EXCEEDED)"\} [1-9]/);
    expect(await metric(sidecar.httpPort, 'charter_sidecar_failed_closed_total')).toBeGreaterThanOrEqual(1);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    sidecar.child.kill('SIGTERM');
    expect(await sidecar.exited).toBe(0);
    expect(sidecar.logs.some((l) => l.msg === 'sidecar stopped')).toBe(true);
  });
});

describe('charter sidecar with no upstream at all', () => {
  it('listens on 127.0.0.1:0, answers DENY (fail closed) and is not ready', async () => {
    const sidecar = await spawnSidecar(['--upstream', '127.0.0.1:1', '--listen', '127.0.0.1:0', '--http-port', '0', '--deadline-ms', '300']);
    const local = connect({ target: sidecar.address });
    try {
      expect(sidecar.address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
      const r = await unaryCall<Response>(local.authorization, 'Authorize', { actor: ALICE, action: 'read', resource: P100 }, local.metadata());
      expect(r.decision).toBe('DECISION_DENY');
      expect(r.reason).toMatch(/did not decide/);
      expect((await fetch(`http://127.0.0.1:${sidecar.httpPort}/readyz`)).status).toBe(503);
      expect((await fetch(`http://127.0.0.1:${sidecar.httpPort}/healthz`)).status).toBe(200);
    } finally {
      local.close();
      sidecar.child.kill('SIGTERM');
      expect(await sidecar.exited).toBe(0);
    }
  });
});

describe('charter sidecar command line', () => {
  it('prints help and refuses a missing --upstream', () => {
    const help = spawnSync(process.execPath, [join(REPO, 'bin', 'charter.js'), 'sidecar', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--upstream HOST:PORT');
    const bad = spawnSync(process.execPath, [join(REPO, 'bin', 'charter.js'), 'sidecar', '--listen', '127.0.0.1:0'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--upstream');
  });
});
