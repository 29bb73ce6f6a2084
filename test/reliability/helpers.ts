/**
 * Shared pieces of the reliability suites: paths, a tally of outcomes printed for
 * docs/reliability.md, child `charter serve` processes killed by PID, and small waits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BUNDLED_POLICIES = join(REPO, 'policies');
export const PAYMENTS_POLICIES = join(BUNDLED_POLICIES, 'payments');
export const PAYMENTS_DATA = join(PAYMENTS_POLICIES, 'data.ndjson');
export const CHARTER_BIN = join(REPO, 'bin', 'charter.js');

export const ALICE = 'spiffe://personnel.acme.test/eid/1001';
export const P100 = 'uon://payments/payment/p-100';
/** Alice may read p-100 from GB (payments data + policies). */
export const ALICE_READS_P100 = { actor: ALICE, action: 'read', resource: P100, context: { country: 'GB' } };

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `charter-rel-${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Counts outcomes by name and prints them (the figures in docs/reliability.md come from here). */
export function tally(): { add(name: string, n?: number): void; get(name: string): number; report(what: string): void; counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  return {
    counts,
    add(name, n = 1) {
      counts[name] = (counts[name] ?? 0) + n;
    },
    get(name) {
      return counts[name] ?? 0;
    },
    report(what) {
      process.stdout.write(`[reliability] ${what}: ${JSON.stringify(counts)}\n`);
    },
  };
}

/** The built CLI must exist: these suites run `node bin/charter.js` (npm test builds first). */
export function requireBuild(): void {
  if (!existsSync(join(REPO, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` before the reliability suite');
}

export interface ChildServer {
  child: ChildProcess;
  pid: number;
  grpcPort: number;
  httpPort: number;
  target: string;
  http: string;
  /** stdout + stderr so far (pino JSON lines). */
  output(): string;
  /** SIGKILL by PID (idempotent); resolves when the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `node bin/charter.js serve` on 127.0.0.1 with ports 0, as a child process; resolves once the
 * start-up line names the ports. `uid`/`gid` run it as another user (root tests of permissions).
 */
export async function spawnServe(args: string[], options: { env?: Record<string, string>; uid?: number; gid?: number; timeoutMs?: number; node?: string } = {}): Promise<ChildServer> {
  requireBuild();
  const child = spawn(options.node ?? process.execPath, [CHARTER_BIN, 'serve', '--host', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--decision-log', 'off', ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid ?? options.uid } : {}),
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  let spawnError: Error | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    child.once('exit', (code, signal) => res({ code, signal }));
    // A child that could not be started (EACCES, ENOENT) emits 'error' and never 'exit'.
    child.once('error', (err) => {
      spawnError = err;
      res({ code: null, signal: null });
    });
  });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // already gone
      }
    }
    await exited;
  };
  try {
    const ports = await new Promise<{ grpcPort: number; httpPort: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`charter serve did not start in time:\n${out}`)), options.timeoutMs ?? 30_000);
      const onData = (): void => {
        const m = /"grpcPort":(\d+),"httpPort":(-?\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          resolve({ grpcPort: Number(m[1]), httpPort: Number(m[2]) });
        }
      };
      child.stdout!.on('data', onData);
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(spawnError ? `cannot start charter serve: ${spawnError.message}` : `charter serve exited (${code ?? signal}) before serving:\n${out}`));
      });
    });
    return {
      child,
      pid: child.pid!,
      ...ports,
      target: `127.0.0.1:${ports.grpcPort}`,
      http: `http://127.0.0.1:${ports.httpPort}`,
      output: () => out,
      kill,
      exited,
    };
  } catch (err) {
    await kill();
    throw err;
  }
}

/**
 * A node binary that user `uid` can run (this one, or a system one: `npx -p node@24` keeps its
 * binary under root's 0700 home), or undefined.
 */
export function nodeRunnableBy(uid: number): string | undefined {
  for (const candidate of [process.execPath, '/usr/bin/node', '/usr/local/bin/node']) {
    const r = spawnSync(candidate, ['-e', '0'], { uid, gid: uid, stdio: 'ignore', timeout: 10_000 });
    if (r.status === 0) return candidate;
  }
  return undefined;
}

/** VmRSS of a process in bytes, from /proc (undefined when it is gone or not on Linux). */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function metricValue(http: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const prefix = labels ? `${name}{${labels}} ` : `${name} `;
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(prefix.length)) : 0;
}
