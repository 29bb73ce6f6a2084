/**
 * The sidecar: `charter.v1.Authorization` served locally from a CharterClient (so from its
 * decision cache when it can), gRPC health and reflection, and /metrics, /healthz, /readyz
 * over HTTP.
 *
 * Answers carry `cache_ttl_ms: 0`: the sidecar is the cache, and its callers do not receive
 * invalidations, so they must not keep answers of their own.
 */
import { existsSync, lstatSync, unlinkSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, ServerCredentials, status, type handleUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { Logger } from 'pino';
import { CharterClient, authorizationServiceDefinition, clientPackageDefinition, type CheckRequest, type CheckResult } from '../client/index.js';
import { createSidecarMetrics, type SidecarMetrics } from './metrics.js';
import type { SidecarConfig } from './config.js';
import { structToObject } from './struct.js';

interface RequestMessage {
  actor: string;
  action: string;
  resource: string;
  context?: { fields?: Record<string, never> | null } | null;
  resourceAttributes?: { fields?: Record<string, never> | null } | null;
  actorClaims?: { fields?: Record<string, never> | null } | null;
}

export interface RunningSidecar {
  /** The bound gRPC address (host:port with the chosen port, or unix:/path). */
  readonly address: string;
  /** -1 when HTTP is off. */
  readonly httpPort: number;
  readonly client: CharterClient;
  readonly metrics: SidecarMetrics;
  /** Stops taking calls, lets in-flight ones finish (then cancels them), closes everything. */
  close(graceMs?: number): Promise<void>;
}

export interface SidecarOptions {
  logger: Logger;
  /** Process-wide default metrics (default true). */
  defaultMetrics?: boolean;
}

function toRequest(m: RequestMessage): CheckRequest {
  const request: CheckRequest = { actor: m.actor ?? '', action: m.action ?? '', resource: m.resource ?? '' };
  const context = structToObject(m.context);
  if (context !== undefined) request.context = context;
  const resourceAttributes = structToObject(m.resourceAttributes);
  if (resourceAttributes !== undefined) request.resourceAttributes = resourceAttributes;
  const actorClaims = structToObject(m.actorClaims);
  if (actorClaims !== undefined) request.actorClaims = actorClaims;
  return request;
}

function missingField(m: RequestMessage, prefix = ''): string | undefined {
  if (!m.actor) return `${prefix}actor is required`;
  if (!m.action) return `${prefix}action is required`;
  if (!m.resource) return `${prefix}resource is required`;
  return undefined;
}

function toResponse(r: CheckResult): Record<string, unknown> {
  return {
    decision: r.allowed ? 'DECISION_ALLOW' : 'DECISION_DENY',
    policyIds: r.policyIds,
    reason: r.reason,
    policyRevision: r.revision.policy,
    attributeRevision: r.revision.attributes,
    cacheTtlMs: 0,
    dependsOnTime: r.dependsOnTime,
    entityIds: r.entityIds,
    dependsOnRelations: r.dependsOnRelations,
  };
}

function bind(server: Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
}

/** A stale socket file from a previous run would make bind fail; a regular file is left alone. */
function removeStaleSocket(listen: string): void {
  if (!listen.startsWith('unix:')) return;
  const path = listen.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
  if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
}

export async function startSidecar(config: SidecarConfig, options: SidecarOptions): Promise<RunningSidecar> {
  const { logger } = options;
  const client = new CharterClient({
    target: config.upstream,
    cache: { maxEntries: config.cacheMaxEntries, ttlMs: config.cacheTtlMs },
    deadlineMs: config.deadlineMs,
    staleAllowMs: config.staleAllowMs,
    tls: config.tls,
    logger: logger.child({ component: 'client' }),
  });
  const metrics = createSidecarMetrics(client, { defaultMetrics: options.defaultMetrics });
  const allow = { Authorize: metrics.decisions.labels('Authorize', 'ALLOW'), BatchAuthorize: metrics.decisions.labels('BatchAuthorize', 'ALLOW') };
  const deny = { Authorize: metrics.decisions.labels('Authorize', 'DENY'), BatchAuthorize: metrics.decisions.labels('BatchAuthorize', 'DENY') };

  const Authorize: handleUnaryCall<RequestMessage, unknown> = (call, callback) => {
    const problem = missingField(call.request);
    if (problem !== undefined) {
      callback({ code: status.INVALID_ARGUMENT, details: problem });
      return;
    }
    client.check(toRequest(call.request)).then(
      (r) => {
        if (r.error?.code === 'INVALID_ARGUMENT') {
          callback({ code: status.INVALID_ARGUMENT, details: r.error.message });
          return;
        }
        callback(null, toResponse(r));
        (r.allowed ? allow : deny).Authorize.inc();
      },
      (err: Error) => callback({ code: status.INVALID_ARGUMENT, details: err.message }),
    );
  };

  const BatchAuthorize: handleUnaryCall<{ requests?: RequestMessage[] }, unknown> = (call, callback) => {
    const messages = call.request.requests ?? [];
    for (let i = 0; i < messages.length; i++) {
      const problem = missingField(messages[i], `requests[${i}].`);
      if (problem !== undefined) {
        callback({ code: status.INVALID_ARGUMENT, details: problem });
        return;
      }
    }
    client.checkMany(messages.map(toRequest)).then(
      (results) => {
        const invalid = results.find((r) => r.error?.code === 'INVALID_ARGUMENT');
        if (invalid !== undefined) {
          callback({ code: status.INVALID_ARGUMENT, details: invalid.error!.message });
          return;
        }
        callback(null, { responses: results.map(toResponse) });
        for (const r of results) (r.allowed ? allow : deny).BatchAuthorize.inc();
      },
      (err: Error) => callback({ code: status.INVALID_ARGUMENT, details: err.message }),
    );
  };

  const grpcServer = new Server({ 'grpc.keepalive_permit_without_calls': 1 });
  grpcServer.addService(authorizationServiceDefinition(), { Authorize, BatchAuthorize } as UntypedServiceImplementation);
  const health = new HealthImplementation({ '': 'SERVING', 'charter.v1.Authorization': 'SERVING' });
  health.addToServer(grpcServer);
  // Reflection (for grpcurl and friends) over what the sidecar serves, not the whole package.
  new ReflectionService(
    { ...clientPackageDefinition(), ...protoLoader.loadSync(healthProtoPath, { keepCase: true }) },
    { services: ['charter.v1.Authorization', 'grpc.health.v1.Health'] },
  ).addToServer(grpcServer);

  let address: string;
  let http: HttpServer | undefined;
  let httpPort = -1;
  let draining = false;
  try {
    removeStaleSocket(config.listen);
    const port = await bind(grpcServer, config.listen);
    address = config.listen.startsWith('unix:') ? config.listen : `${config.listen.slice(0, config.listen.lastIndexOf(':'))}:${port}`;
    if (config.httpPort >= 0) {
      http = createServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        const send = (code: number, body: string, type = 'application/json'): void => {
          res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
          res.end(body);
        };
        if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, JSON.stringify({ error: `method ${req.method} not allowed` }));
        if (path === '/metrics') {
          metrics.registry.metrics().then(
            (text) => send(200, text, metrics.registry.contentType),
            (err: Error) => send(500, JSON.stringify({ error: err.message })),
          );
          return;
        }
        if (path === '/healthz') return send(200, JSON.stringify({ status: 'ok' }));
        if (path === '/readyz') {
          // Ready to answer from a trustworthy cache: the invalidation stream is up.
          if (draining) return send(503, JSON.stringify({ status: 'draining' }));
          const connected = client.streamConnected;
          return send(connected ? 200 : 503, JSON.stringify({ status: connected ? 'ready' : 'upstream-stream-down', upstream: config.upstream }));
        }
        send(404, JSON.stringify({ error: `no route for ${path}` }));
      });
      http.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        http!.once('error', reject);
        http!.listen(config.httpPort, config.httpHost, () => {
          http!.off('error', reject);
          resolve();
        });
      });
      httpPort = (http.address() as AddressInfo).port;
    }
  } catch (err) {
    grpcServer.forceShutdown();
    http?.close();
    client.close();
    throw err;
  }

  let closing: Promise<void> | undefined;
  const close = (graceMs = config.shutdownGraceMs): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      health.setStatus('', 'NOT_SERVING');
      health.setStatus('charter.v1.Authorization', 'NOT_SERVING');
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
      client.close();
      if (http) {
        await new Promise<void>((resolve) => {
          http!.close(() => resolve());
          http!.closeAllConnections();
        });
      }
      logger.info('sidecar stopped');
    })();
    return closing;
  };

  return { address, httpPort, client, metrics, close };
}
