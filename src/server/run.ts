/**
 * `charter serve` as a process: logging, the store (or a seeded demo store), signals (SIGTERM /
 * SIGINT drain and exit, SIGHUP reloads policies) and `--workers N` (node:cluster; workers share
 * the ports and the LMDB environment).
 */
import cluster from 'node:cluster';
import { mkdtempSync, readdirSync, rmSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino, type DestinationStream, type Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import { AttributeStore, importNdjson } from '../store/index.js';
import { registerAuthzen } from './authzen/index.js';
import type { ServeConfig } from './config.js';
import { startServer, type RunningServer } from './server.js';
import type { ServerStore } from './store-types.js';

/** The policies bundled with the package (`policies/` at the package root). */
export const BUNDLED_POLICIES_DIR = fileURLToPath(new URL('../../policies/', import.meta.url));

/** Every `data.ndjson` under `dir`, sorted, for seeding a demo store. */
export function findDataFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name === 'data.ndjson') out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** A temporary LMDB store seeded from the data.ndjson files of a policy directory. */
export async function createDemoStore(policiesDir: string, logger: Logger): Promise<{ dir: string; files: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'charter-demo-'));
  const files = findDataFiles(policiesDir);
  const store = AttributeStore.open(dir);
  try {
    if (files.length > 0) await importNdjson(store, files);
  } finally {
    await store.close();
  }
  logger.info({ dataDir: dir, seededFrom: files }, 'no --data given: serving a temporary demo store');
  return { dir, files };
}

function createLoggers(config: ServeConfig): { logger: Logger; decisionLogger: Logger | undefined; decisionDestination: (DestinationStream & { flushSync?: () => void }) | undefined } {
  const base = cluster.isWorker ? { pid: process.pid, worker: cluster.worker?.id } : { pid: process.pid };
  const logger = pino({ level: config.logLevel, base, name: 'charter' });
  if (config.decisionLog === 'off') return { logger, decisionLogger: undefined, decisionDestination: undefined };
  const dest = config.decisionLog === 'stdout' ? 1 : config.decisionLog === 'stderr' ? 2 : config.decisionLog;
  // Asynchronous: a write in progress never blocks the next entry, which is buffered and
  // written when the previous write finishes (so a busy server writes in large chunks and a
  // quiet one still shows each entry at once).
  const decisionDestination = pino.destination({ dest, sync: false, mkdir: typeof dest === 'string' });
  const decisionLogger = pino({ level: 'info', base, name: 'charter.decision' }, decisionDestination);
  return { logger, decisionLogger, decisionDestination };
}

/** Runs the server until SIGTERM / SIGINT; the exit code. */
export async function runServe(config: ServeConfig): Promise<number> {
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config);
  const { logger, decisionLogger, decisionDestination } = createLoggers(config);
  const policiesDir = config.policiesDir ?? BUNDLED_POLICIES_DIR;
  let demoDir: string | undefined;
  let dataDir = config.dataDir;
  try {
    if (dataDir === undefined) {
      demoDir = (await createDemoStore(policiesDir, logger)).dir;
      dataDir = demoDir;
    }
  } catch (err) {
    logger.fatal({ err }, 'cannot seed the demo store');
    return 1;
  }

  let store: ServerStore;
  try {
    // The revision lives in memory, refreshed by the store poll: no LMDB read transaction per
    // decision. Without a poll, other processes' writes would never be seen: stay exact.
    store = AttributeStore.open(dataDir, { trackRevision: config.storePollIntervalMs > 0 });
  } catch (err) {
    logger.fatal({ err, dataDir }, `cannot open the attribute store at ${dataDir}`);
    return 1;
  }

  let server: RunningServer;
  try {
    server = await startServer({
      host: config.host,
      grpcPort: config.grpcPort,
      httpPort: config.httpPort,
      policiesDir,
      store,
      closeStore: true,
      logger,
      decisionLogger,
      decisionLogSampleRate: config.decisionLogSampleRate,
      redactContextKeys: config.redactContextKeys,
      tls: config.tls,
      adminSpiffeIds: config.adminSpiffeIds,
      adminToken: config.adminToken,
      adminInsecureLoopback: config.adminInsecureLoopback,
      limits: config.limits,
      maxInFlight: config.maxInFlight,
      watchPolicies: config.watchPolicies,
      storePollIntervalMs: config.storePollIntervalMs,
      defaultCacheTtlMs: config.defaultCacheTtlMs,
      shutdownGraceMs: config.shutdownGraceMs,
      // AuthZEN Authorization API on the HTTP port.
      configureHttp: (router, s) => registerAuthzen(router, { ...s, store, apiKey: config.httpApiKey }),
      ...(cluster.isWorker ? { metricsText: clusterMetricsText } : {}),
    });
  } catch (err) {
    logger.fatal({ err: { message: (err as Error).message } }, 'cannot start the server');
    // The diagnostics, readable, for the person at the terminal.
    process.stderr.write(`charter serve: ${(err as Error).message}\n`);
    await store.close();
    if (demoDir) rmSync(demoDir, { recursive: true, force: true });
    return 1;
  }
  if (cluster.isWorker) {
    server.metrics.registry.setDefaultLabels({ worker: String(cluster.worker?.id ?? 0) });
    // Answer the primary's aggregation requests with this worker's registry.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([server.metrics.registry]);
  }

  logger.info(
    {
      grpcPort: server.grpcPort,
      httpPort: server.httpPort,
      host: config.host,
      policies: policiesDir,
      data: dataDir,
      policyRevision: server.decisionPoint.policyRevision,
      attributeRevision: server.invalidations.attributeRevision,
      tls: config.tls ? (config.tls.ca ? 'mtls' : 'tls') : 'off',
      admin: adminMode(config),
    },
    `charter serving gRPC on ${config.host}:${server.grpcPort}, HTTP on ${config.host}:${server.httpPort}`,
  );
  if (cluster.isWorker) process.send?.({ type: 'charter:listening', grpcPort: server.grpcPort, httpPort: server.httpPort });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'draining in-flight calls');
      server
        .close(config.shutdownGraceMs)
        .catch((err: unknown) => logger.error({ err }, 'error while stopping'))
        .finally(() => {
          try {
            decisionDestination?.flushSync?.();
          } catch {
            // The destination may not be ready yet; nothing more to flush then.
          }
          if (demoDir) rmSync(demoDir, { recursive: true, force: true });
          process.off('SIGHUP', onHup);
          // A worker's IPC channel would keep it alive after the server stopped.
          if (cluster.isWorker) process.disconnect?.();
          resolve(0);
        });
    };
    const onHup = (): void => {
      void server.reload('SIGHUP');
    };
    // `on`, not `once`: a second SIGTERM (from a process group kill and then the cluster
    // primary) must not kill the process mid-drain.
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', onHup);
  });
}

// --workers: any worker may get the scrape; it asks the primary for every worker's metrics
// (series labelled by worker), so one scrape sees them all.
let metricsRequests = 0;
function clusterMetricsText(local: { registry: { metrics(): Promise<string> } }): Promise<string> {
  const id = ++metricsRequests;
  return new Promise<string>((resolve) => {
    const onMessage = (message: { type?: string; id?: number; text?: string }): void => {
      if (message?.type !== 'charter:metrics-res' || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve(typeof message.text === 'string' ? message.text : local.registry.metrics());
    };
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      resolve(local.registry.metrics());
    }, 5_000);
    process.on('message', onMessage);
    process.send?.({ type: 'charter:metrics-req', id });
  });
}

function adminMode(config: ServeConfig): string {
  const modes: string[] = [];
  if (config.adminSpiffeIds.length > 0) modes.push(`spiffe-ids(${config.adminSpiffeIds.length})`);
  if (config.adminToken) modes.push('token');
  if (config.adminInsecureLoopback) modes.push('insecure-loopback');
  return modes.length ? modes.join('+') : 'disabled';
}

/** The primary of `--workers N`: seeds the demo store once, forks, relays signals. */
async function runPrimary(config: ServeConfig): Promise<number> {
  const logger = pino({ level: config.logLevel, base: { pid: process.pid, role: 'primary' }, name: 'charter' });
  const policiesDir = config.policiesDir ?? BUNDLED_POLICIES_DIR;
  let demoDir: string | undefined;
  const env: Record<string, string> = {};
  if (config.dataDir === undefined) {
    try {
      demoDir = (await createDemoStore(policiesDir, logger)).dir;
    } catch (err) {
      logger.fatal({ err }, 'cannot seed the demo store');
      return 1;
    }
    env.CHARTER_DATA = demoDir;
  }
  // Workers re-run this command with the same flags; the environment carries the demo store.
  let stopping = false;
  let listening = 0;
  for (let i = 0; i < config.workers; i++) cluster.fork(env);
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: string; id?: number; grpcPort?: number; httpPort?: number }) => {
    if (message?.type === 'charter:metrics-req') {
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: 'charter:metrics-res', id: message.id, text }),
        (err: unknown) => {
          logger.warn({ err }, 'cannot aggregate worker metrics');
          worker.send({ type: 'charter:metrics-res', id: message.id });
        },
      );
      return;
    }
    if (message?.type !== 'charter:listening') return;
    listening++;
    if (listening === config.workers) {
      logger.info(
        { workers: config.workers, grpcPort: message.grpcPort, httpPort: message.httpPort },
        `charter serving with ${config.workers} workers: gRPC on ${config.host}:${message.grpcPort}, HTTP on ${config.host}:${message.httpPort}`,
      );
    }
  });
  return new Promise<number>((resolve) => {
    let failed = false;
    cluster.on('exit', (worker, code, signal) => {
      if (!stopping) {
        failed = true;
        logger.error({ worker: worker.id, code, signal }, 'worker exited unexpectedly; stopping');
        stop('worker-exit');
      }
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        if (demoDir) rmSync(demoDir, { recursive: true, force: true });
        resolve(failed ? 1 : 0);
      }
    });
    const stop = (signal: string): void => {
      if (stopping && signal !== 'worker-exit') return;
      stopping = true;
      logger.info({ signal }, 'stopping workers');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
    });
  });
}
