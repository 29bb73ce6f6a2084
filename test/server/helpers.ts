/**
 * Shared set-up for the server integration suites: a real LMDB store in a temp dir, a real
 * server on 127.0.0.1 port 0, and a grpc-js client over the same proto.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceError } from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import { connect, unaryCall, type CharterClients, type ClientConnectionOptions } from '../../src/server/grpc-client.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/server.js';
import type { ServerStore } from '../../src/server/store-types.js';
import { openStore } from './store.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLED_POLICIES = join(REPO, 'policies');
// shared/ sits beside the repository (also in CI's fresh clone).
export const SCENARIO = fileURLToPath(new URL('../../../shared/scenarios/payments', import.meta.url));
export const SCENARIO_DATA = existsOr(join(SCENARIO, 'data.ndjson'), join(BUNDLED_POLICIES, 'payments', 'data.ndjson'));

/** `a` when it exists (the shared reference beside the repository), else `b` (our copy). */
export function existsOr(a: string, b: string): string {
  try {
    readFileSync(a);
    return a;
  } catch {
    return b;
  }
}

export interface PaymentsCase {
  name: string;
  request: { actor: string; action: string; resource: string; context?: Record<string, unknown>; resource_attributes?: Record<string, unknown>; actor_claims?: Record<string, unknown> };
  expected: 'ALLOW' | 'DENY';
  now?: string;
  live?: { tz: string; in_hours: 'ALLOW' | 'DENY'; out_of_hours: 'ALLOW' | 'DENY' };
}

export function paymentsCases(): PaymentsCase[] {
  const file = existsOr(join(SCENARIO, 'decisions.json'), join(REPO, 'test', 'fixtures', 'payments-decisions.json'));
  return (JSON.parse(readFileSync(file, 'utf8')) as { cases: PaymentsCase[] }).cases;
}

/** Monday–Friday, 09:00 ≤ hour < 17:00 in `tz` at `now`. */
export function inBusinessHours(tz: string, now: Date): boolean {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: tz, weekday: 'short', hour: 'numeric', hourCycle: 'h23' }).formatToParts(now);
  const weekday = parts.find((p) => p.type === 'weekday')?.value;
  const hour = Number(parts.find((p) => p.type === 'hour')?.value);
  return weekday !== 'Sat' && weekday !== 'Sun' && hour >= 9 && hour < 17;
}

/** The answer a case must get over the API now: `live` for time-dependent ones, else `expected`. */
export function expectedNow(c: PaymentsCase, now = new Date()): 'ALLOW' | 'DENY' | undefined {
  if (c.live) return inBusinessHours(c.live.tz, now) ? c.live.in_hours : c.live.out_of_hours;
  if (c.now) return undefined; // fixed-clock cases belong to policy tests
  return c.expected;
}

/** A minute boundary could flip a live case between asking and checking: avoid asking then. */
export async function awayFromHourBoundary(): Promise<void> {
  const d = new Date();
  if (d.getUTCMinutes() === 59 && d.getUTCSeconds() >= 55) await new Promise((r) => setTimeout(r, 6_000));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `charter-${prefix}-`));
}

export function copyPolicies(): string {
  const dir = tempDir('policies');
  cpSync(join(BUNDLED_POLICIES, 'payments'), join(dir, 'payments'), { recursive: true, filter: (src) => !src.endsWith('.test.yaml') });
  return dir;
}

export interface Harness {
  server: RunningServer;
  store: ServerStore;
  dataDir: string;
  target: string;
  http: string;
  logs: Record<string, unknown>[];
  decisions: Record<string, unknown>[];
  client(options?: Partial<ClientConnectionOptions>): CharterClients;
  close(): Promise<void>;
}

/** A logger whose lines land in `lines` (one write may carry several: the decision log batches). */
export function captureLogger(lines: Record<string, unknown>[], level = 'info'): Logger {
  return pino({ level }, { write: (s: string) => void lines.push(...parseLines(s)) });
}

export function parseLines(chunk: string): Record<string, unknown>[] {
  return chunk
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Starts a server over a fresh LMDB store seeded with `data` (default: the payments data). */
export async function startHarness(options: Partial<ServerOptions> & { data?: string[]; policiesDir?: string } = {}): Promise<Harness> {
  const dataDir = tempDir('data');
  const store = await openStore(dataDir);
  await store.importFiles(options.data ?? [SCENARIO_DATA]);
  const logs: Record<string, unknown>[] = [];
  const decisions: Record<string, unknown>[] = [];
  const server = await startServer({
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    policiesDir: options.policiesDir ?? BUNDLED_POLICIES,
    logger: captureLogger(logs),
    decisionLogger: captureLogger(decisions),
    defaultMetrics: false,
    storePollIntervalMs: 50,
    reloadDebounceMs: 100,
    shutdownGraceMs: 2_000,
    ...options,
    store: store.store,
  }).catch(async (err: unknown) => {
    await store.store.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  const clients: CharterClients[] = [];
  const target = `127.0.0.1:${server.grpcPort}`;
  return {
    server,
    store: store.store,
    dataDir,
    target,
    http: `http://127.0.0.1:${server.httpPort}`,
    logs,
    decisions,
    client(o = {}) {
      const c = connect({ target, ...o });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close(2_000);
      await store.store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function call<Res>(c: CharterClients, service: 'authorization' | 'admin', method: string, request: unknown, deadlineMs = 5_000): Promise<Res> {
  return unaryCall<Res>(c[service], method, request, c.metadata(), deadlineMs);
}

/** The gRPC error of a call that must fail. */
export async function callError(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('expected the call to fail');
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function metricValue(http: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(prefix.length)) : 0;
}
