/**
 * A real Charter server (bundled policies, real LMDB store in a temp dir seeded from the
 * policies' data.ndjson files) with the AuthZEN routes, on 127.0.0.1 port 0, and a small
 * node:http client that can send exactly the bytes and headers a test needs.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { registerAuthzen, type AuthzenOptions } from '../../src/server/authzen/index.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import type { ServerStore } from '../../src/server/store-types.js';
import { AttributeStore, importNdjson } from '../../src/store/index.js';
import { parseLines } from '../server/helpers.js';

export const POLICIES = fileURLToPath(new URL('../../policies/', import.meta.url));

/** Every data.ndjson under the bundled policies (what `charter serve` seeds its demo store with). */
export function dataFiles(): string[] {
  return (readdirSync(POLICIES, { recursive: true }) as string[])
    .filter((f) => f === 'data.ndjson' || f.endsWith('/data.ndjson'))
    .map((f) => join(POLICIES, f))
    .sort();
}

export interface Harness {
  server: RunningServer;
  store: AttributeStore;
  port: number;
  base: string;
  close(): Promise<void>;
}

export type HarnessOptions = Partial<Pick<AuthzenOptions, 'apiKey' | 'maxBodyBytes' | 'searchPageSize' | 'maxEvaluations' | 'baseUrl'>> & {
  /** Receives decision log entries (parsed JSON lines). */
  decisionLog?: Record<string, unknown>[];
};

export async function startAuthzen(harnessOptions: HarnessOptions = {}): Promise<Harness> {
  const { decisionLog, ...options } = harnessOptions;
  const dir = mkdtempSync(join(tmpdir(), 'charter-authzen-test-'));
  const store = AttributeStore.open(dir);
  await importNdjson(store, dataFiles());
  const server = await startServer({
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    policiesDir: POLICIES,
    store: store as unknown as ServerStore,
    logger: pino({ level: 'silent' }),
    decisionLogger:
      decisionLog === undefined
        ? undefined
        : pino({ level: 'info' }, { write: (chunk: string) => void decisionLog.push(...parseLines(chunk)) }),
    watchPolicies: false,
    defaultMetrics: false,
    configureHttp: (router, s) => registerAuthzen(router, { ...s, store, ...options }),
  });
  return {
    server,
    store,
    port: server.httpPort,
    base: `http://127.0.0.1:${server.httpPort}`,
    async close() {
      await server.close(1_000);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** Sends `body` (an object is JSON-encoded; a string or Buffer is sent as is). */
export function send(
  h: Harness,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string | number> = {},
): Promise<Reply> {
  const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  const allHeaders: Record<string, string | number> = { ...headers };
  if (payload !== undefined && !Object.keys(allHeaders).some((k) => k.toLowerCase() === 'content-type')) allHeaders['content-type'] = 'application/json';
  if (payload !== undefined) allHeaders['content-length'] = Buffer.byteLength(payload);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: h.port, method, path, headers: allHeaders }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    // The server may answer (413) and close before reading everything we send.
    req.on('error', reject);
    if (payload !== undefined) req.end(payload);
    else req.end();
  });
}

export const post = (h: Harness, path: string, body?: unknown, headers?: Record<string, string | number>): Promise<Reply> => send(h, 'POST', path, body, headers);
