/**
 * The AuthZEN Authorization API 1.0 over HTTP (docs/authzen.md): evaluation, evaluations,
 * subject/resource/action search and PDP metadata, added to the server's HTTP router.
 *
 * Every answer carries X-Request-ID (the caller's, or a generated one). Bad input is a 400 (or
 * 413, 401) with `{"error": {"status", "message"}}`, never a 500; a decision that cannot be
 * made is a deny, never an allow (the decision point fails closed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { DecisionLog, DecisionPoint, PdpDecision } from '../../pdp/index.js';
import type { DecisionRequest } from '../../policy/index.js';
import type { HttpRouter } from '../http.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { DecisionTally } from '../decision-tally.js';
import type { ServerMetrics } from '../metrics.js';
import { DecisionCache } from './decision-cache.js';
import { ApiKeyCheck, parseJsonObject, readJsonText, requestIdOf, sendError, sendJson } from './http-io.js';
import {
  AuthzenError,
  actionName,
  contextOf,
  entityId,
  isObject,
  mergeItem,
  optionalObject,
  propertiesOf,
  requiredObject,
  requiredString,
  toDecisionRequest,
  type Json,
  type RequestLimits,
} from './request.js';
import { parsePage, searchActions, searchResources, searchSubjects, type PageOptions, type SearchStore } from './search.js';

export const AUTHZEN_PATHS = {
  evaluation: '/access/v1/evaluation',
  evaluations: '/access/v1/evaluations',
  searchSubject: '/access/v1/search/subject',
  searchResource: '/access/v1/search/resource',
  searchAction: '/access/v1/search/action',
  metadata: '/.well-known/authzen-configuration',
} as const;

export interface AuthzenOptions {
  decisionPoint: DecisionPoint;
  /** The attribute store, for search (relation tuples, and stored entities when it lists them). */
  store: SearchStore;
  metrics?: ServerMetrics;
  decisionLog?: DecisionLog;
  logger?: Logger;
  /** When set, every API call (not the metadata) needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Largest request body, bytes (default 1 MiB); larger is a 413. */
  maxBodyBytes?: number;
  /** Most items in one `evaluations` call (default 1000, as BatchAuthorize). */
  maxEvaluations?: number;
  /** Longest Charter id / action name, UTF-8 bytes (default as gRPC, 1024). */
  maxFieldBytes?: number;
  /** Search page size when the caller sets no `page.limit` (default 50), and its cap (1000). */
  searchPageSize?: number;
  maxSearchPageSize?: number;
  /**
   * Memory for recent single-evaluation answers, bytes (default 8 MiB; 0 disables). Entries are
   * used only at the policy and attribute revisions they were made at, within their TTL.
   */
  decisionCacheBytes?: number;
  /**
   * The PDP's public base URL for the metadata document (e.g. https://pdp.example.com). By
   * default it is built from the request's Host header (scheme http, or https when
   * X-Forwarded-Proto says so).
   */
  baseUrl?: string;
}

type Semantic = 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit';
const SEMANTICS = new Set<string>(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit']);

interface ItemAnswer {
  decision: boolean;
  context?: Json;
}

const ALLOW_BODY = '{"decision":true}';
const DENY_BODY = '{"decision":false}';

/** Adds the AuthZEN routes to `router`. */
export function registerAuthzen(router: HttpRouter, options: AuthzenOptions): void {
  const { decisionPoint, store, metrics, decisionLog, logger } = options;
  const apiKey = new ApiKeyCheck(options.apiKey);
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  const maxEvaluations = options.maxEvaluations ?? DEFAULT_LIMITS.maxBatchSize;
  const limits: RequestLimits = { maxFieldBytes: options.maxFieldBytes ?? DEFAULT_LIMITS.maxFieldBytes };
  const pageOptions: PageOptions = { defaultLimit: options.searchPageSize ?? 50, maxLimit: options.maxSearchPageSize ?? 1000 };
  const invalid = metrics?.rejectedRequests.labels('invalid_argument');
  const unauthenticated = metrics?.rejectedRequests.labels('unauthenticated');
  const tally = (name: string) => metrics?.tally(`AuthZEN.${name}`, 'http');
  const evaluationTally = tally('evaluation');
  const evaluationsTally = tally('evaluations');
  const searchTally = tally('search');
  const cacheBytes = options.decisionCacheBytes ?? 8 * 1024 * 1024;
  const cache = cacheBytes > 0 ? new DecisionCache(cacheBytes) : undefined;

  /** Counts the decision (and its latency when `timed`: a batch times the whole call) and logs it. */
  function record(request: DecisionRequest, decision: PdpDecision, requestId: string, started: number, transport: string, tally?: DecisionTally, timed = false): void {
    const latencyMs = performance.now() - started;
    tally?.record(decision.effect === 'ALLOW', timed ? latencyMs / 1000 : Number.NaN);
    if (decisionLog !== undefined && decisionLog.sampled(decision)) {
      decisionLog.write({ requestId, request, decision, latencyMs, transport });
    }
  }

  /** A POST handler: request id, API key, JSON body, errors as JSON with the request id. */
  function post(handle: (text: string, res: ServerResponse, requestId: string, started: number) => void) {
    return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const started = performance.now();
      const requestId = requestIdOf(req);
      try {
        const problem = apiKey.problem(req);
        if (problem !== undefined) {
          unauthenticated?.inc();
          req.resume();
          sendError(res, 401, problem, requestId, { 'www-authenticate': 'Bearer' });
          return;
        }
        handle(await readJsonText(req, maxBody), res, requestId, started);
      } catch (err) {
        if (err instanceof AuthzenError) {
          invalid?.inc();
          sendError(res, err.status, err.message, requestId, err.status === 413 ? { connection: 'close' } : undefined);
          return;
        }
        // Never a 500 for bad input: anything else is our fault, and it is logged.
        logger?.error({ err, path: req.url, requestId }, 'AuthZEN handler failed');
        sendError(res, 500, 'internal error', requestId);
      }
    };
  }

  function answer(res: ServerResponse, requestId: string, started: number, request: DecisionRequest, decision: PdpDecision): void {
    const text = decision.effect === 'ALLOW' ? ALLOW_BODY : DENY_BODY;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': text.length, 'x-request-id': requestId });
    res.end(text);
    record(request, decision, requestId, started, 'authzen', evaluationTally, true);
  }

  function evaluateOne(body: Json, res: ServerResponse, requestId: string, started: number, text?: string): void {
    const request = toDecisionRequest(body, limits);
    const decision = decisionPoint.decide(request);
    answer(res, requestId, started, request, decision);
    // After the answer is on the socket: keeping it (an LRU insert, maybe an eviction) is not
    // the caller's wait.
    if (text !== undefined) cache?.set(text, request, decision, Date.now());
  }

  const evaluation = post((text, res, requestId, started) => {
    if (cache !== undefined) {
      const hit = cache.get(text, decisionPoint.policyRevision, decisionPoint.attributeRevision(), Date.now());
      if (hit !== undefined) {
        answer(res, requestId, started, hit.request, hit.decision);
        return;
      }
    }
    evaluateOne(parseJsonObject(text), res, requestId, started, text);
  });

  const evaluations = post((text, res, requestId, started) => {
    const body = parseJsonObject(text);
    const items = body.evaluations;
    // Without (or with an empty) `evaluations` array, this is a single evaluation.
    if (items === undefined || items === null || (Array.isArray(items) && items.length === 0)) {
      evaluateOne(body, res, requestId, started);
      return;
    }
    if (!Array.isArray(items)) throw new AuthzenError(400, 'evaluations must be an array');
    if (items.length > maxEvaluations) throw new AuthzenError(400, `evaluations has ${items.length} items; at most ${maxEvaluations} are allowed`);
    const semantic = semanticOf(body);
    const defaults: Json = {};
    for (const key of ['subject', 'action', 'resource', 'context'] as const) {
      const value = optionalObject(body, key, '');
      if (value !== undefined) defaults[key] = value;
    }
    const answers: ItemAnswer[] = [];
    const decided: { request: DecisionRequest; decision: PdpDecision; index: number }[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      let answer: ItemAnswer;
      if (!isObject(item)) {
        answer = itemError(`evaluations[${i}] must be a JSON object`);
      } else {
        const merged = mergeItem(defaults, item);
        // A merged item is a complete evaluation request, so its JSON text shares the single
        // evaluation's cache: the same text always means the same question.
        const key = cache === undefined ? undefined : JSON.stringify(merged);
        const hit = key === undefined ? undefined : cache!.get(key, decisionPoint.policyRevision, decisionPoint.attributeRevision(), Date.now());
        let request: DecisionRequest | undefined = hit?.request;
        let decision: PdpDecision | undefined = hit?.decision;
        if (hit === undefined) {
          try {
            request = toDecisionRequest(merged, limits);
          } catch (err) {
            if (!(err instanceof AuthzenError)) throw err;
            answer = itemError(`evaluations[${i}]: ${err.message}`);
          }
          if (request !== undefined) {
            decision = decisionPoint.decide(request);
            if (key !== undefined) cache!.set(key, request, decision, Date.now());
          }
        }
        if (request !== undefined && decision !== undefined) {
          decided.push({ request, decision, index: i });
          answer = { decision: decision.effect === 'ALLOW' };
        }
      }
      answers.push(answer!);
      // Short-circuit semantics: the deciding item is the last one answered.
      if (semantic === 'deny_on_first_deny' && !answer!.decision) break;
      if (semantic === 'permit_on_first_permit' && answer!.decision) break;
    }
    sendJson(res, 200, { evaluations: answers }, requestId);
    evaluationsTally?.observe((performance.now() - started) / 1000);
    for (const d of decided) record(d.request, d.decision, `${requestId}/${d.index}`, started, 'authzen-batch', evaluationsTally);
  });

  const searchSubject = post((text, res, requestId, started) => {
    const body = parseJsonObject(text);
    const subject = requiredObject(body, 'subject', '');
    const type = requiredString(subject, 'type', 'subject.');
    const action = requiredObject(body, 'action', '');
    const resource = requiredObject(body, 'resource', '');
    const base: Omit<DecisionRequest, 'actor'> = { action: actionName(action, limits), resource: entityId(resource, 'resource.', limits) };
    addOptional(base, body, resource, action);
    const page = parsePage(body, pageOptions);
    const claims = propertiesOf(subject, 'properties', 'subject.');
    sendJson(res, 200, searchSubjects(decisionPoint, store, { type, claims, base }, page), requestId);
    searchTally?.observe((performance.now() - started) / 1000);
  });

  const searchResource = post((text, res, requestId, started) => {
    const body = parseJsonObject(text);
    const subject = requiredObject(body, 'subject', '');
    const action = requiredObject(body, 'action', '');
    const resource = requiredObject(body, 'resource', '');
    const type = requiredString(resource, 'type', 'resource.');
    const base: Omit<DecisionRequest, 'resource'> = { actor: entityId(subject, 'subject.', limits), action: actionName(action, limits) };
    const context = contextOf(body);
    if (context !== undefined) base.context = context;
    const claims = propertiesOf(subject, 'properties', 'subject.');
    if (claims !== undefined) base.actorClaims = claims;
    const actionProperties = propertiesOf(action, 'properties', 'action.');
    if (actionProperties !== undefined) base.actionProperties = actionProperties;
    const page = parsePage(body, pageOptions);
    const resourceAttributes = propertiesOf(resource, 'properties', 'resource.');
    sendJson(res, 200, searchResources(decisionPoint, store, { type, resourceAttributes, base }, page), requestId);
    searchTally?.observe((performance.now() - started) / 1000);
  });

  const searchAction = post((text, res, requestId, started) => {
    const body = parseJsonObject(text);
    const subject = requiredObject(body, 'subject', '');
    const resource = requiredObject(body, 'resource', '');
    const base: Omit<DecisionRequest, 'action'> = { actor: entityId(subject, 'subject.', limits), resource: entityId(resource, 'resource.', limits) };
    const context = contextOf(body);
    if (context !== undefined) base.context = context;
    const claims = propertiesOf(subject, 'properties', 'subject.');
    if (claims !== undefined) base.actorClaims = claims;
    const resourceAttributes = propertiesOf(resource, 'properties', 'resource.');
    if (resourceAttributes !== undefined) base.resourceAttributes = resourceAttributes;
    const page = parsePage(body, pageOptions);
    sendJson(res, 200, searchActions(decisionPoint, base, page), requestId);
    searchTally?.observe((performance.now() - started) / 1000);
  });

  const metadata = (req: IncomingMessage, res: ServerResponse): void => {
    const requestId = requestIdOf(req);
    const base = options.baseUrl?.replace(/\/+$/, '') ?? baseUrlOf(req);
    sendJson(
      res,
      200,
      {
        policy_decision_point: base,
        access_evaluation_endpoint: base + AUTHZEN_PATHS.evaluation,
        access_evaluations_endpoint: base + AUTHZEN_PATHS.evaluations,
        search_subject_endpoint: base + AUTHZEN_PATHS.searchSubject,
        search_resource_endpoint: base + AUTHZEN_PATHS.searchResource,
        search_action_endpoint: base + AUTHZEN_PATHS.searchAction,
      },
      requestId,
      { 'cache-control': 'public, max-age=300' },
    );
  };

  const posts: [string, ReturnType<typeof post>][] = [
    [AUTHZEN_PATHS.evaluation, evaluation],
    [AUTHZEN_PATHS.evaluations, evaluations],
    [AUTHZEN_PATHS.searchSubject, searchSubject],
    [AUTHZEN_PATHS.searchResource, searchResource],
    [AUTHZEN_PATHS.searchAction, searchAction],
  ];
  for (const [path, handler] of posts) {
    router.add('POST', path, handler);
    for (const method of ['GET', 'PUT', 'DELETE'] as const) router.add(method, path, methodNotAllowed('POST'));
  }
  router.add('GET', AUTHZEN_PATHS.metadata, metadata);
  for (const method of ['POST', 'PUT', 'DELETE'] as const) router.add(method, AUTHZEN_PATHS.metadata, methodNotAllowed('GET, HEAD'));
}

function addOptional(base: Omit<DecisionRequest, 'actor'>, body: Json, resource: Json, action: Json): void {
  const context = contextOf(body);
  if (context !== undefined) base.context = context;
  const resourceAttributes = propertiesOf(resource, 'properties', 'resource.');
  if (resourceAttributes !== undefined) base.resourceAttributes = resourceAttributes;
  const actionProperties = propertiesOf(action, 'properties', 'action.');
  if (actionProperties !== undefined) base.actionProperties = actionProperties;
}

function semanticOf(body: Json): Semantic {
  const options = optionalObject(body, 'options', '');
  if (options === undefined) return 'execute_all';
  // `evaluation_semantics` is how one example of the draft spells it.
  const value = options.evaluations_semantic ?? options.evaluation_semantics;
  if (value === undefined || value === null) return 'execute_all';
  if (typeof value !== 'string' || !SEMANTICS.has(value)) {
    throw new AuthzenError(400, 'options.evaluations_semantic must be one of execute_all, deny_on_first_deny, permit_on_first_permit');
  }
  return value as Semantic;
}

function itemError(message: string): ItemAnswer {
  return { decision: false, context: { error: { status: 400, message } } };
}

function methodNotAllowed(allow: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    sendError(res, 405, `method ${req.method} is not allowed here; use ${allow}`, requestIdOf(req), { allow });
  };
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** `http(s)://<host>` of the request, from a well-formed Host header or the local address. */
function baseUrlOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const scheme = forwarded === 'https' ? 'https' : 'http';
  const host = req.headers.host;
  if (host !== undefined && HOST.test(host)) return `${scheme}://${host}`;
  const address = req.socket.localAddress ?? '127.0.0.1';
  const port = req.socket.localPort;
  const h = address.includes(':') ? `[${address}]` : address;
  return `${scheme}://${h}${port ? `:${port}` : ''}`;
}
