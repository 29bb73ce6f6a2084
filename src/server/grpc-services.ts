/**
 * gRPC handlers: Authorization (the hot path), Admin and Invalidation. The hot path decodes
 * (proto-loader), converts Structs, decides, answers, and only then counts and logs.
 */
import {
  status,
  type handleServerStreamingCall,
  type handleUnaryCall,
  type Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { DecisionRequest } from '../policy/index.js';
import type { DecisionLog, DecisionPoint, InvalidationEvent, InvalidationHub, PdpDecision } from '../pdp/index.js';
import { checkIdentifier, type InputLimits } from './limits.js';
import type { ServerMetrics } from './metrics.js';
import { peerSpiffeId, type AdminGuard } from './security.js';
import type { ServerStore, WriteRecord } from './store-types.js';
import { objectToStruct, structToObject, type StructMessage } from './struct.js';

/** The context key under which the mTLS caller's SPIFFE ID reaches policies (`env.peer_spiffe_id`). */
export const PEER_SPIFFE_ID_KEY = 'peer_spiffe_id';

export interface AuthorizeRequestMessage {
  actor: string;
  action: string;
  resource: string;
  context: StructMessage | null;
  resourceAttributes: StructMessage | null;
  actorClaims: StructMessage | null;
}

export interface AuthorizeResponseMessage {
  decision: number;
  policyIds: string[];
  reason: string;
  policyRevision: string;
  attributeRevision: number;
  cacheTtlMs: number;
  dependsOnTime: boolean;
  entityIds: string[];
  dependsOnRelations: boolean;
}

const DECISION_ALLOW = 1;
const DECISION_DENY = 2;
const UINT32_MAX = 0xffffffff;

export interface ServiceContext {
  decisionPoint: DecisionPoint;
  store: ServerStore;
  invalidations: InvalidationHub;
  decisionLog: DecisionLog;
  metrics: ServerMetrics;
  limits: InputLimits;
  adminGuard: AdminGuard;
  logger: Logger;
  /** mTLS is on: read the caller's SPIFFE ID for policies. */
  mtls: boolean;
  /** Open Subscribe streams, ended on shutdown. */
  streams: Set<ServerWritableStream<unknown, unknown>>;
}

export function toResponse(d: PdpDecision): AuthorizeResponseMessage {
  const ttl = d.cacheTtlMs;
  return {
    decision: d.effect === 'ALLOW' ? DECISION_ALLOW : DECISION_DENY,
    policyIds: d.policyIds,
    reason: d.reason,
    policyRevision: d.policyRevision,
    attributeRevision: d.attributeRevision,
    cacheTtlMs: ttl > 0 ? (ttl > UINT32_MAX ? UINT32_MAX : Math.floor(ttl)) : 0,
    dependsOnTime: d.dependsOnTime,
    entityIds: d.entityIds,
    dependsOnRelations: d.dependsOnRelations,
  };
}

/** Why the message cannot be decided, or undefined. `prefix` names it inside a batch. */
export function checkAuthorizeRequest(m: AuthorizeRequestMessage, limits: InputLimits, prefix = ''): string | undefined {
  return (
    checkIdentifier(`${prefix}actor`, m.actor, limits.maxFieldBytes) ??
    checkIdentifier(`${prefix}action`, m.action, limits.maxFieldBytes) ??
    checkIdentifier(`${prefix}resource`, m.resource, limits.maxFieldBytes)
  );
}

/** The message as the evaluator's request; `peer` is the mTLS caller (never caller-supplied). */
export function toDecisionRequest(m: AuthorizeRequestMessage, peer: string | undefined): DecisionRequest {
  let context = structToObject(m.context);
  if (peer !== undefined) {
    context = context ? { ...context, [PEER_SPIFFE_ID_KEY]: peer } : { [PEER_SPIFFE_ID_KEY]: peer };
  } else if (context !== undefined && PEER_SPIFFE_ID_KEY in context) {
    // Only the transport may say who the peer is.
    delete context[PEER_SPIFFE_ID_KEY];
  }
  const request: DecisionRequest = { actor: m.actor, action: m.action, resource: m.resource };
  if (context !== undefined) request.context = context;
  const resourceAttributes = structToObject(m.resourceAttributes);
  if (resourceAttributes !== undefined) request.resourceAttributes = resourceAttributes;
  const actorClaims = structToObject(m.actorClaims);
  if (actorClaims !== undefined) request.actorClaims = actorClaims;
  return request;
}

/** True when the call's deadline has already passed (then nothing is computed). */
function deadlinePassed(call: { getDeadline(): Date | number }): boolean {
  const deadline = call.getDeadline();
  if (deadline === Infinity) return false;
  const ms = typeof deadline === 'number' ? deadline : deadline.getTime();
  return ms <= Date.now();
}

function requestIdOf(metadata: Metadata): string | undefined {
  const v = metadata.get('x-request-id')[0];
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? v : v.toString('utf8');
  return s.length > 0 && s.length <= 128 ? s : undefined;
}

export function authorizationService(ctx: ServiceContext): UntypedServiceImplementation {
  const { decisionPoint, decisionLog, metrics, limits } = ctx;
  const authorizeTally = metrics.tally('Authorize', 'grpc');
  const batchTally = metrics.tally('BatchAuthorize', 'grpc');
  const invalid = metrics.rejectedRequests.labels('invalid_argument');
  const expired = metrics.rejectedRequests.labels('deadline_exceeded');

  const Authorize: handleUnaryCall<AuthorizeRequestMessage, AuthorizeResponseMessage> = (call, callback) => {
    const started = performance.now();
    if (deadlinePassed(call)) {
      expired.inc();
      callback({ code: status.DEADLINE_EXCEEDED, details: 'deadline passed before the decision started' });
      return;
    }
    const message = call.request;
    const problem = checkAuthorizeRequest(message, limits);
    if (problem !== undefined) {
      invalid.inc();
      callback({ code: status.INVALID_ARGUMENT, details: problem });
      return;
    }
    const peer = ctx.mtls ? peerSpiffeId(call) : undefined;
    const request = toDecisionRequest(message, peer);
    const decision = decisionPoint.decide(request);
    callback(null, toResponse(decision));
    // HTTP/2 puts the answer on the socket when this turn of the event loop ends and the
    // trailers one turn later, so everything here is on the caller's path: metrics and the
    // decision log only queue what they are given and do the work in batches.
    const latencyMs = performance.now() - started;
    authorizeTally.record(decision.effect === 'ALLOW', latencyMs / 1000);
    if (decisionLog.sampled(decision)) {
      decisionLog.write({ requestId: requestIdOf(call.metadata), request, decision, latencyMs, transport: 'grpc', peer });
    }
  };

  const BatchAuthorize: handleUnaryCall<{ requests: AuthorizeRequestMessage[] }, { responses: AuthorizeResponseMessage[] }> = (call, callback) => {
    const started = performance.now();
    if (deadlinePassed(call)) {
      expired.inc();
      callback({ code: status.DEADLINE_EXCEEDED, details: 'deadline passed before the decisions started' });
      return;
    }
    const messages = call.request.requests ?? [];
    if (messages.length > limits.maxBatchSize) {
      invalid.inc();
      callback({ code: status.INVALID_ARGUMENT, details: `batch has ${messages.length} requests; at most ${limits.maxBatchSize} are allowed` });
      return;
    }
    for (let i = 0; i < messages.length; i++) {
      const problem = checkAuthorizeRequest(messages[i], limits, `requests[${i}].`);
      if (problem !== undefined) {
        invalid.inc();
        callback({ code: status.INVALID_ARGUMENT, details: problem });
        return;
      }
    }
    const peer = ctx.mtls ? peerSpiffeId(call) : undefined;
    const requests = new Array<DecisionRequest>(messages.length);
    const decisions = new Array<PdpDecision>(messages.length);
    const responses = new Array<AuthorizeResponseMessage>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      // A long batch may outlive its deadline: stop computing answers nobody will read.
      if ((i & 63) === 63 && deadlinePassed(call)) {
        expired.inc();
        callback({ code: status.DEADLINE_EXCEEDED, details: `deadline passed after ${i} of ${messages.length} decisions` });
        return;
      }
      const request = toDecisionRequest(messages[i], peer);
      const decision = decisionPoint.decide(request);
      requests[i] = request;
      decisions[i] = decision;
      responses[i] = toResponse(decision);
    }
    callback(null, { responses });
    const latencyMs = performance.now() - started;
    batchTally.observe(latencyMs / 1000);
    const requestId = decisionLog.enabled ? requestIdOf(call.metadata) : undefined;
    for (let i = 0; i < decisions.length; i++) {
      const decision = decisions[i];
      batchTally.record(decision.effect === 'ALLOW', Number.NaN);
      if (decisionLog.sampled(decision)) {
        decisionLog.write({
          requestId: requestId === undefined ? undefined : `${requestId}/${i}`,
          request: requests[i],
          decision,
          latencyMs,
          transport: 'grpc-batch',
          peer,
        });
      }
    }
  };

  return { Authorize, BatchAuthorize } as UntypedServiceImplementation;
}

interface RecordMessage {
  kind: string | number;
  op: string | number;
  id: string;
  attributes: StructMessage | null;
  object: string;
  relation: string;
  subject: string;
}

/** Proto Records → store records; a message naming the first bad record, or the records. */
export function toWriteRecords(messages: RecordMessage[], limits: InputLimits): WriteRecord[] | string {
  const records: WriteRecord[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const where = `records[${i}]`;
    const op = m.op === 'OP_DELETE' || m.op === 1 ? 'delete' : m.op === 'OP_PUT' || m.op === 0 ? 'put' : undefined;
    if (op === undefined) return `${where}.op: unknown op ${String(m.op)}`;
    if (m.kind === 'KIND_ENTITY' || m.kind === 1) {
      const problem = checkIdentifier(`${where}.id`, m.id, limits.maxFieldBytes);
      if (problem) return problem;
      if (op === 'delete') records.push({ kind: 'entity', op, id: m.id });
      else records.push({ kind: 'entity', op, id: m.id, attributes: structToObject(m.attributes) ?? {} });
    } else if (m.kind === 'KIND_RELATION' || m.kind === 2) {
      const problem =
        checkIdentifier(`${where}.object`, m.object, limits.maxFieldBytes) ??
        checkIdentifier(`${where}.relation`, m.relation, limits.maxFieldBytes) ??
        checkIdentifier(`${where}.subject`, m.subject, limits.maxFieldBytes);
      if (problem) return problem;
      records.push({ kind: 'relation', op, object: m.object, relation: m.relation, subject: m.subject });
    } else {
      return `${where}.kind must be KIND_ENTITY or KIND_RELATION`;
    }
  }
  return records;
}

function tupleList(tuples: Iterable<{ object: string; relation: string; subject: string }>): { object: string; relation: string; subject: string }[] {
  const out = [];
  for (const t of tuples) out.push({ object: t.object, relation: t.relation, subject: t.subject });
  return out;
}

export function adminService(ctx: ServiceContext): UntypedServiceImplementation {
  const { store, adminGuard, limits, logger, metrics } = ctx;

  function guard(call: ServerUnaryCall<unknown, unknown>, callback: (err: { code: status; details: string }) => void): boolean {
    const denied = adminGuard.check(call);
    if (!denied) return true;
    metrics.rejectedRequests.inc({ reason: denied.code === status.UNAUTHENTICATED ? 'unauthenticated' : 'permission_denied' });
    callback(denied);
    return false;
  }

  const Write: handleUnaryCall<{ records: RecordMessage[] }, { attributeRevision: number; applied: number }> = (call, callback) => {
    if (!guard(call, callback)) return;
    const messages = call.request.records ?? [];
    if (messages.length > limits.maxWriteRecords) {
      callback({ code: status.INVALID_ARGUMENT, details: `write has ${messages.length} records; at most ${limits.maxWriteRecords} per call` });
      return;
    }
    const records = toWriteRecords(messages, limits);
    if (typeof records === 'string') {
      callback({ code: status.INVALID_ARGUMENT, details: records });
      return;
    }
    store.write(records).then(
      (result) => {
        // Push the invalidation before answering, so a writer that then asks again is not
        // racing its own cache.
        ctx.invalidations.checkStore();
        const peer = ctx.mtls ? peerSpiffeId(call) : undefined;
        logger.info({ records: records.length, applied: result.applied, attributeRevision: result.revision, peer }, 'admin write committed');
        callback(null, { attributeRevision: Number(result.revision), applied: result.applied });
      },
      (err: unknown) => {
        const e = err as { name?: string; message?: string; line?: number; reason?: string };
        if (e?.name === 'RecordError' && typeof e.line === 'number') {
          // The store numbers records from 1.
          callback({ code: status.INVALID_ARGUMENT, details: `records[${e.line - 1}]: ${e.reason ?? e.message}; nothing applied` });
          return;
        }
        if (e?.name === 'StoreFullError') {
          logger.error({ err }, 'admin write failed: store full');
          callback({ code: status.RESOURCE_EXHAUSTED, details: `write failed, nothing applied: ${e.message}` });
          return;
        }
        logger.error({ err }, 'admin write failed');
        callback({ code: status.INTERNAL, details: `write failed, nothing applied: ${e?.message ?? String(err)}` });
      },
    );
  };

  const GetEntity: handleUnaryCall<{ id: string }, unknown> = (call, callback) => {
    if (!guard(call, callback)) return;
    const id = call.request.id;
    const problem = checkIdentifier('id', id, limits.maxFieldBytes);
    if (problem) {
      callback({ code: status.INVALID_ARGUMENT, details: problem });
      return;
    }
    try {
      const attributeRevision = Number(store.revision());
      const attributes = store.getAttributes(id);
      callback(null, {
        found: attributes !== undefined,
        attributes: attributes === undefined ? null : objectToStruct(attributes),
        asObject: tupleList(store.tuplesOfObject(id)),
        asSubject: tupleList(store.tuplesOfSubject(id)),
        attributeRevision,
      });
    } catch (err) {
      callback({ code: status.INTERNAL, details: `cannot read ${id}: ${(err as Error)?.message ?? String(err)}` });
    }
  };

  const GetRevisions: handleUnaryCall<unknown, unknown> = (call, callback) => {
    if (!guard(call, callback)) return;
    callback(null, { policyRevision: ctx.decisionPoint.policyRevision, attributeRevision: Number(store.revision()) });
  };

  const Explain: handleUnaryCall<{ request: AuthorizeRequestMessage | null }, unknown> = (call, callback) => {
    if (!guard(call, callback)) return;
    const message = call.request.request;
    if (!message) {
      callback({ code: status.INVALID_ARGUMENT, details: 'request is required' });
      return;
    }
    const problem = checkAuthorizeRequest(message, limits, 'request.');
    if (problem !== undefined) {
      callback({ code: status.INVALID_ARGUMENT, details: problem });
      return;
    }
    const peer = ctx.mtls ? peerSpiffeId(call) : undefined;
    const explained = ctx.decisionPoint.explain(toDecisionRequest(message, peer));
    callback(null, {
      response: toResponse(explained),
      trace: explained.trace.map((t) => ({ ruleId: t.ruleId, effect: t.effect, outcome: t.outcome, detail: t.detail ?? '' })),
      errors: explained.errors,
    });
  };

  return { Write, GetEntity, GetRevisions, Explain } as UntypedServiceImplementation;
}

/** How often an idle invalidation stream carries a heartbeat (clients time out after 2 s). */
export const INVALIDATION_HEARTBEAT_MS = 500;

export function invalidationService(ctx: ServiceContext): UntypedServiceImplementation {
  const { invalidations, metrics, streams } = ctx;

  const Subscribe: handleServerStreamingCall<unknown, InvalidationEvent> = (call) => {
    streams.add(call as ServerWritableStream<unknown, unknown>);
    metrics.invalidationSubscribers.set(streams.size);
    // Backpressure: while the client is not reading, events collapse into one flush.
    let congested = false;
    let flushOwed = false;
    const send = (event: InvalidationEvent): void => {
      if (congested) {
        flushOwed = true;
        return;
      }
      if (!call.write(event)) congested = true;
    };
    call.on('drain', () => {
      congested = false;
      if (flushOwed) {
        flushOwed = false;
        send(invalidations.snapshot());
      }
    });
    const unsubscribe = invalidations.subscribe(send);
    // Heartbeats let a client tell a live stream from a path that silently stopped delivering.
    // A congested stream skips them: it is alive, and its backlog will say so.
    const heartbeat = setInterval(() => {
      if (!congested) call.write({ ...invalidations.snapshot(), flushAll: false, heartbeat: true });
    }, INVALIDATION_HEARTBEAT_MS);
    heartbeat.unref();
    const done = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      if (streams.delete(call as ServerWritableStream<unknown, unknown>)) metrics.invalidationSubscribers.set(streams.size);
    };
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
    call.on('finish', done);
    send(invalidations.snapshot());
  };

  return { Subscribe } as UntypedServiceImplementation;
}
