/**
 * The decision point: policy + store glue, hot reload, invalidations, decision log.
 * Transports (gRPC, AuthZEN HTTP) build on these and nothing else from this folder.
 */
export { DecisionPoint, type DecisionPointOptions, type DecisionStore, type ExplainedPdpDecision, type PdpDecision } from './decision-point.js';
export { PolicyReloader, loadInitialPolicies, type PolicyReloaderOptions, type ReloadOutcome, type PolicyLoader } from './policy-reloader.js';
export {
  InvalidationHub,
  type InvalidationEvent,
  type InvalidationListener,
  type ChangeFeed,
  type TupleKey,
  type InvalidationHubOptions,
} from './invalidation.js';
export { DecisionLog, nextRequestId, REDACTED, type DecisionLogEntry, type DecisionLogOptions } from './decision-log.js';
