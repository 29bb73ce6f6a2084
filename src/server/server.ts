/**
 * One Charter server: gRPC (Authorization, Admin, Invalidation, health, reflection) and HTTP
 * (metrics, health, plus routes other transports add) over one decision point.
 */
import { Server, ServerCredentials, type ServerWritableStream, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { Logger } from 'pino';
import { DecisionLog, DecisionPoint, InvalidationHub, PolicyReloader, loadInitialPolicies, type PolicyLoader, type ReloadOutcome } from '../pdp/index.js';
import { Admission } from './admission.js';
import { adminService, authorizationService, invalidationService, type ServiceContext } from './grpc-services.js';
import { HttpRouter, sendJson, sendText, startHttpServer, type HttpServerHandle } from './http.js';
import { DEFAULT_LIMITS, type InputLimits } from './limits.js';
import { createServerMetrics, type ServerMetrics } from './metrics.js';
import { serviceDefinition } from './proto.js';
import { reflectionPackageDefinition } from './reflection.js';
import { AdminGuard, isLoopbackHost, serverCredentials, type TlsFiles } from './security.js';
import type { ServerStore } from './store-types.js';
import { refusingUndecodable, withSafeDecoding } from './undecodable.js';

export const SERVICE_NAMES = ['charter.v1.Authorization', 'charter.v1.Admin', 'charter.v1.Invalidation'] as const;

export interface ServerOptions {
  host: string;
  /** 0 picks a free port. */
  grpcPort: number;
  /** 0 picks a free port; -1 disables the HTTP server. */
  httpPort: number;
  policiesDir: string;
  /** An open store; the server does not close it unless `closeStore` is true. */
  store: ServerStore;
  closeStore?: boolean;
  logger: Logger;
  /** Where decision log entries go; undefined disables the decision log. */
  decisionLogger?: Logger;
  decisionLogSampleRate?: number;
  redactContextKeys?: string[];
  tls?: TlsFiles;
  adminSpiffeIds?: string[];
  adminToken?: string;
  adminInsecureLoopback?: boolean;
  limits?: Partial<InputLimits>;
  /** Most unary calls in flight before new ones get RESOURCE_EXHAUSTED (0 = no limit). */
  maxInFlight?: number;
  /** Watch the policy directory for changes (default true). */
  watchPolicies?: boolean;
  reloadDebounceMs?: number;
  /** How often to poll the store for commits by other processes (default 150 ms). */
  storePollIntervalMs?: number;
  defaultCacheTtlMs?: number;
  /** How long close() waits for in-flight calls before cancelling them (default 10 s). */
  shutdownGraceMs?: number;
  /** Process-wide default metrics (event loop lag, memory); default true. */
  defaultMetrics?: boolean;
  /** Replaces the policy loader (tests of reload failures that the compiler cannot produce). */
  loadPolicies?: PolicyLoader;
  /** What GET /metrics answers (default: this server's registry); --workers aggregates. */
  metricsText?: (local: ServerMetrics) => Promise<string>;
  /** Adds HTTP routes (AuthZEN) before the HTTP server starts. */
  configureHttp?: (router: HttpRouter, server: Pick<RunningServer, 'decisionPoint' | 'metrics' | 'decisionLog' | 'logger'>) => void;
}

export interface RunningServer {
  readonly host: string;
  readonly grpcPort: number;
  /** -1 when the HTTP server is disabled. */
  readonly httpPort: number;
  readonly decisionPoint: DecisionPoint;
  readonly invalidations: InvalidationHub;
  readonly reloader: PolicyReloader;
  readonly metrics: ServerMetrics;
  readonly decisionLog: DecisionLog;
  readonly router: HttpRouter;
  readonly logger: Logger;
  readonly grpcServer: Server;
  /** Reloads the policy directory now (what SIGHUP does). */
  reload(reason?: string): Promise<ReloadOutcome>;
  /** Stops accepting calls, drains in-flight ones (then cancels), closes HTTP and the store. */
  close(graceMs?: number): Promise<void>;
}

function bindGrpc(server: Server, address: string, credentials: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

function grpcAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}


export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { logger, store } = options;
  const limits: InputLimits = { ...DEFAULT_LIMITS, ...options.limits };
  if (options.adminInsecureLoopback && !isLoopbackHost(options.host)) {
    throw new Error(`--admin-insecure-loopback is only allowed when the server listens on loopback, not ${options.host}`);
  }
  const mtls = options.tls?.ca !== undefined;
  if ((options.adminSpiffeIds?.length ?? 0) > 0 && !mtls) {
    throw new Error('--admin-spiffe-id needs mTLS (--tls-cert, --tls-key and --tls-ca)');
  }
  const credentials = serverCredentials(options.tls);

  const metrics = createServerMetrics({ defaultMetrics: options.defaultMetrics });
  const initial = await loadInitialPolicies(options.policiesDir, { defaultCacheTtlMs: options.defaultCacheTtlMs, load: options.loadPolicies });
  for (const w of initial.warnings) logger.warn({ file: w.file, line: w.line, column: w.column }, w.message);
  const decisionPoint = new DecisionPoint({ store, policies: initial.set });
  metrics.setPolicyRevision(initial.set.revision, initial.set.ruleCount);

  const invalidations = new InvalidationHub({
    store,
    policyRevision: () => decisionPoint.policyRevision,
    logger,
    pollIntervalMs: options.storePollIntervalMs ?? 150,
    onPublish: (event, kind) => {
      metrics.invalidationEvents.inc({ kind });
      metrics.attributeRevision.set(event.attributeRevision);
    },
  });
  metrics.attributeRevision.set(invalidations.attributeRevision);

  const reloader = new PolicyReloader({
    dir: options.policiesDir,
    decisionPoint,
    logger,
    debounceMs: options.reloadDebounceMs,
    defaultCacheTtlMs: options.defaultCacheTtlMs,
    load: options.loadPolicies,
    onOutcome: (outcome) => {
      if (!outcome.ok) {
        metrics.reloadFailures.inc();
        return;
      }
      if (!outcome.changed) return;
      metrics.reloads.inc();
      metrics.setPolicyRevision(outcome.revision, decisionPoint.policies.ruleCount);
      invalidations.publishPolicyRevision();
    },
  });

  const decisionLog = new DecisionLog({
    logger: options.decisionLogger,
    sampleRate: options.decisionLogSampleRate,
    redactContextKeys: options.redactContextKeys,
  });

  const streams = new Set<ServerWritableStream<unknown, unknown>>();
  const adminGuard = new AdminGuard({
    mtls,
    adminSpiffeIds: options.adminSpiffeIds ?? [],
    adminToken: options.adminToken,
    adminInsecureLoopback: options.adminInsecureLoopback ?? false,
  });
  const ctx: ServiceContext = { decisionPoint, store, invalidations, decisionLog, metrics, limits, adminGuard, logger, mtls, streams };

  // Admission control sheds load before a message is decoded (health, reflection and
  // Subscribe streams are exempt).
  const overloaded = metrics.rejectedRequests.labels('overloaded');
  const interceptors = options.maxInFlight === 0 ? [] : [new Admission(options.maxInFlight).interceptor(() => overloaded.inc())];
  const grpcServer = new Server({
    'grpc.max_receive_message_length': limits.maxMessageBytes,
    'grpc.max_send_message_length': 16 * limits.maxMessageBytes,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc-node.max_session_memory': 64,
    interceptors,
  });
  const addService = (definition: ServiceDefinition, implementation: UntypedServiceImplementation): void =>
    grpcServer.addService(withSafeDecoding(definition), refusingUndecodable(definition, implementation));
  addService(serviceDefinition('Authorization'), authorizationService(ctx));
  addService(serviceDefinition('Admin'), adminService(ctx));
  addService(serviceDefinition('Invalidation'), invalidationService(ctx));
  const health = new HealthImplementation({ '': 'SERVING' });
  for (const name of SERVICE_NAMES) health.setStatus(name, 'SERVING');
  health.addToServer(grpcServer);
  new ReflectionService(reflectionPackageDefinition()).addToServer(grpcServer);

  let draining = false;
  const router = new HttpRouter();
  router.add('GET', '/metrics', async (_req, res) => {
    const text = options.metricsText ? await options.metricsText(metrics) : await metrics.registry.metrics();
    sendText(res, 200, text, metrics.registry.contentType);
  });
  router.add('GET', '/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  router.add('GET', '/readyz', (_req, res) => {
    if (draining) return sendJson(res, 503, { status: 'draining' });
    sendJson(res, 200, {
      status: 'ready',
      policyRevision: decisionPoint.policyRevision,
      attributeRevision: invalidations.attributeRevision,
    });
  });

  let grpcPort: number;
  let http: HttpServerHandle | undefined;
  try {
    grpcPort = await bindGrpc(grpcServer, grpcAddress(options.host, options.grpcPort), credentials);
    const partial = { decisionPoint, metrics, decisionLog, logger };
    options.configureHttp?.(router, partial);
    if (options.httpPort >= 0) http = await startHttpServer(router, options.host, options.httpPort, logger);
  } catch (err) {
    grpcServer.forceShutdown();
    throw err;
  }

  invalidations.start();
  if (options.watchPolicies !== false) reloader.watch();

  const setHealth = (s: ServingStatus): void => {
    health.setStatus('', s);
    for (const name of SERVICE_NAMES) health.setStatus(name, s);
  };

  let closing: Promise<void> | undefined;
  const close = (graceMs = options.shutdownGraceMs ?? 10_000): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      setHealth('NOT_SERVING');
      reloader.close();
      // Subscribe streams never finish by themselves: end them so the drain can complete.
      for (const call of streams) call.end();
      streams.clear();
      metrics.invalidationSubscribers.set(0);
      invalidations.close();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn({ graceMs }, 'in-flight calls did not finish in time; cancelling them');
          grpcServer.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        grpcServer.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await http?.close();
      if (options.closeStore) await store.close();
      decisionLog.flush();
      options.decisionLogger?.flush?.();
      logger.info('server stopped');
    })();
    return closing;
  };

  return {
    host: options.host,
    grpcPort,
    httpPort: http?.port ?? -1,
    decisionPoint,
    invalidations,
    reloader,
    metrics,
    decisionLog,
    router,
    logger,
    grpcServer,
    reload: (reason = 'requested') => reloader.reload(reason),
    close,
  };
}
