/**
 * Transports over the decision point. AuthZEN and other HTTP endpoints add routes through
 * `ServerOptions.configureHttp` or `RunningServer.router.add(...)`.
 */
export { startServer, SERVICE_NAMES, type ServerOptions, type RunningServer } from './server.js';
export { HttpRouter, HttpError, readJsonBody, sendJson, sendText, startHttpServer, type RouteHandler, type HttpMethod, type HttpServerHandle } from './http.js';
export { createServerMetrics, type ServerMetrics } from './metrics.js';
export { DEFAULT_LIMITS, checkIdentifier, type InputLimits } from './limits.js';
export { structToObject, objectToStruct, valueToJs, jsToValue, type StructMessage, type ValueMessage } from './struct.js';
export { PEER_SPIFFE_ID_KEY, toDecisionRequest, toResponse, type AuthorizeRequestMessage, type AuthorizeResponseMessage } from './grpc-services.js';
export { AdminGuard, peerSpiffeId, spiffeIdOfCertificate, isLoopbackHost, type TlsFiles } from './security.js';
export { parseServeArgs, serveUsage, type ServeConfig } from './config.js';
export { runServe, createDemoStore, findDataFiles, BUNDLED_POLICIES_DIR } from './run.js';
export { connect, unaryCall, checkTarget, connectionOptions, describeRpcError, CONNECTION_OPTIONS, CONNECTION_USAGE, type CharterClients, type ClientConnectionOptions } from './grpc-client.js';
export { charterPackageDefinition, PROTO_DIR, LOADER_OPTIONS } from './proto.js';
export type { ServerStore, WriteRecord } from './store-types.js';
