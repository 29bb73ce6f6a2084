/**
 * AuthZEN request bodies → the evaluator's DecisionRequest. Shape errors are AuthzenError(400)
 * with a message naming the field; unknown fields are ignored (forward compatibility). What a
 * caller says about the subject and the action never becomes a stored attribute: it travels as
 * `actorClaims` / `actionProperties`, which policies read as `actor_claims` / `action_properties`.
 */
import type { DecisionRequest } from '../../policy/index.js';
import { PEER_SPIFFE_ID_KEY } from '../grpc-services.js';
import { checkIdentifier } from '../limits.js';
import { toCharterId } from './mapping.js';

export class AuthzenError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Json = Record<string, unknown>;

/** Deepest nesting accepted inside properties and context (objects and arrays). */
export const MAX_DEPTH = 32;

export interface RequestLimits {
  /** Longest Charter id / action name, UTF-8 bytes. */
  maxFieldBytes: number;
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bad(message: string): AuthzenError {
  return new AuthzenError(400, message);
}

/** An optional object field: undefined when absent or null, 400 when of another type. */
export function optionalObject(parent: Json, key: string, where: string): Json | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw bad(`${where}${key} must be a JSON object`);
  return value;
}

/** A required object field. */
export function requiredObject(parent: Json, key: string, where: string): Json {
  const value = parent[key];
  if (value === undefined || value === null) throw bad(`${where}${key} is required`);
  if (!isObject(value)) throw bad(`${where}${key} must be a JSON object`);
  return value;
}

/** A required non-empty string sub-field. */
export function requiredString(entity: Json, key: string, where: string): string {
  const value = entity[key];
  if (value === undefined || value === null) throw bad(`${where}${key} is required`);
  if (typeof value !== 'string') throw bad(`${where}${key} must be a string`);
  if (value.length === 0) throw bad(`${where}${key} must not be empty`);
  return value;
}

function depthExceeds(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth <= 0) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (depthExceeds(v, depth - 1)) return true;
    return false;
  }
  for (const k in value) if (depthExceeds((value as Json)[k], depth - 1)) return true;
  return false;
}

/** `properties` (or context): an object of bounded depth, or undefined when absent or empty. */
export function propertiesOf(parent: Json, key: string, where: string): Json | undefined {
  const value = optionalObject(parent, key, where);
  if (value === undefined) return undefined;
  let empty = true;
  for (const k in value) {
    empty = false;
    if (depthExceeds(value[k], MAX_DEPTH)) throw bad(`${where}${key} is nested deeper than ${MAX_DEPTH} levels`);
  }
  return empty ? undefined : value;
}

function checkId(what: string, id: string, limits: RequestLimits): string {
  const problem = checkIdentifier(what, id, limits.maxFieldBytes);
  if (problem !== undefined) throw bad(problem);
  return id;
}

/** `subject` / `resource` with required `type` and `id`: its Charter id. */
export function entityId(entity: Json, where: string, limits: RequestLimits): string {
  const type = requiredString(entity, 'type', where);
  const id = requiredString(entity, 'id', where);
  const charterId = toCharterId(type, id);
  // The label is built only for the error message: this runs on every evaluation.
  if (checkIdentifier('', charterId, limits.maxFieldBytes) === undefined) return charterId;
  return checkId(`${where.slice(0, -1)} (as Charter id)`, charterId, limits);
}

export function actionName(action: Json, limits: RequestLimits): string {
  return checkId('action.name', requiredString(action, 'name', 'action.'), limits);
}

/** Context for the evaluator: only the transport may state the mTLS peer (HTTP has none). */
export function contextOf(parent: Json): Json | undefined {
  const context = propertiesOf(parent, 'context', '');
  if (context === undefined || !(PEER_SPIFFE_ID_KEY in context)) return context;
  const { [PEER_SPIFFE_ID_KEY]: _dropped, ...rest } = context;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/** One fully specified evaluation (subject, action, resource, optional context). */
export function toDecisionRequest(body: Json, limits: RequestLimits): DecisionRequest {
  const subject = requiredObject(body, 'subject', '');
  const action = requiredObject(body, 'action', '');
  const resource = requiredObject(body, 'resource', '');
  const request: DecisionRequest = {
    actor: entityId(subject, 'subject.', limits),
    action: actionName(action, limits),
    resource: entityId(resource, 'resource.', limits),
  };
  const context = contextOf(body);
  if (context !== undefined) request.context = context;
  const resourceAttributes = propertiesOf(resource, 'properties', 'resource.');
  if (resourceAttributes !== undefined) request.resourceAttributes = resourceAttributes;
  const actorClaims = propertiesOf(subject, 'properties', 'subject.');
  if (actorClaims !== undefined) request.actorClaims = actorClaims;
  const actionProperties = propertiesOf(action, 'properties', 'action.');
  if (actionProperties !== undefined) request.actionProperties = actionProperties;
  return request;
}

const REQUIRED_SUBFIELDS: Record<'subject' | 'action' | 'resource', readonly string[]> = {
  subject: ['type', 'id'],
  action: ['name'],
  resource: ['type', 'id'],
};

/**
 * One item of an `evaluations` array over the top-level defaults. An entity the item gives
 * replaces the default entity as a whole (its properties are not merged), except that a
 * required sub-field it lacks (`type`, `id`, `name`) comes from the default — the behaviour the
 * certification scenario's default-merging test (C.3.2.7) expects. `context` replaces too.
 */
export function mergeItem(defaults: Json, item: Json): Json {
  const merged: Json = {};
  for (const key of ['subject', 'action', 'resource'] as const) {
    const own = item[key];
    const fallback = defaults[key];
    if (own === undefined || own === null) {
      if (fallback !== undefined) merged[key] = fallback;
      continue;
    }
    if (!isObject(own) || !isObject(fallback)) {
      merged[key] = own;
      continue;
    }
    let entity: Json | undefined;
    for (const field of REQUIRED_SUBFIELDS[key]) {
      if ((own[field] === undefined || own[field] === null) && fallback[field] !== undefined) {
        entity ??= { ...own };
        entity[field] = fallback[field];
      }
    }
    merged[key] = entity ?? own;
  }
  const context = item.context === undefined || item.context === null ? defaults.context : item.context;
  if (context !== undefined) merged.context = context;
  return merged;
}
