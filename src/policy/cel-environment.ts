/**
 * The CEL environment policies are written against: variable names fixed by ARCHITECTURE.md
 * (actor, resource, action, env, actor_claims, action_properties) and Charter's functions
 * beyond standard CEL. One base environment is built once; each policy set clones it to add
 * its constants (`C`) and, when it declares a schema, a typed twin used only for checking.
 */
import { Environment } from '@marcbachmann/cel-js';
import { distanceKm } from './functions/geo.js';
import { ipInAnyRange, ipInRange, parseAddress } from './functions/ip.js';
import { someProbe } from './functions/lists.js';
import type { RelationSource } from './sources.js';

/** Variables every condition may use. `id` is reserved inside actor and resource. */
export const ROOT_VARIABLES = ['actor', 'resource', 'action', 'env', 'actor_claims', 'action_properties'] as const;
export type RootVariable = (typeof ROOT_VARIABLES)[number];

/** Structural limits, checked when a condition is parsed (cost bounds, see docs/policies.md). */
export const CEL_LIMITS = {
  maxAstNodes: 2_000,
  maxDepth: 64,
  maxListElements: 1_000,
  maxMapEntries: 1_000,
  maxCallArguments: 16,
} as const;

/**
 * The relation source of the decision being evaluated. CEL function handlers receive only
 * their arguments, and evaluation is synchronous, so the evaluator sets this around each
 * decision; a relationship check outside a decision is an error, never a grant.
 */
export const relationScope: { current: RelationSource | undefined } = { current: undefined };

function currentRelations(): RelationSource {
  const relations = relationScope.current;
  if (relations === undefined) throw new Error('related(): no relation source for this evaluation');
  return relations;
}

function stringList(list: unknown, what: string): string[] {
  if (!Array.isArray(list)) throw new Error(`${what}: expected a list`);
  return list as string[];
}

export const FUNCTION_DOCS: Array<{ signature: string; description: string }> = [];

function register(env: Environment, signature: string, description: string, handler: (...args: never[]) => unknown): void {
  env.registerFunction(signature, handler as (...args: unknown[]) => unknown, { description });
  FUNCTION_DOCS.push({ signature, description });
}

function buildBaseEnvironment(typedVariables: boolean): Environment {
  const env = new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true, limits: CEL_LIMITS });
  if (!typedVariables) {
    env
      .registerVariable('actor', 'map')
      .registerVariable('resource', 'map')
      .registerVariable('env', 'map')
      .registerVariable('actor_claims', 'map')
      .registerVariable('action_properties', 'map');
  }
  env.registerVariable('action', 'string');

  register(env, 'ipInRange(string, string): bool', 'The IP address (IPv4 or IPv6) lies in the CIDR range; a malformed address or range is an error.', (ip: string, cidr: string) => ipInRange(ip, cidr));
  register(env, 'ipInRange(string, list<string>): bool', 'The IP address lies in at least one of the CIDR ranges.', (ip: string, cidrs: string[]) => ipInAnyRange(ip, stringList(cidrs, 'ipInRange')));
  register(env, 'isIp(string): bool', 'The string is a valid IPv4 or IPv6 address.', (ip: string) => {
    try {
      parseAddress(ip);
      return true;
    } catch {
      return false;
    }
  });
  register(env, 'geoDistanceKm(double, double, double, double): double', 'Great-circle distance in km between (lat1, lon1) and (lat2, lon2).', (lat1: number, lon1: number, lat2: number, lon2: number) => distanceKm(lat1, lon1, lat2, lon2));
  register(env, 'hasAny(list, list): bool', 'The first list shares at least one element with the second.', (a: unknown[], b: unknown[]) =>
    someProbe(stringList(a, 'hasAny'), stringList(b, 'hasAny'), true),
  );
  register(env, 'hasAll(list, list): bool', 'The first list contains every element of the second.', (a: unknown[], b: unknown[]) =>
    !someProbe(stringList(a, 'hasAll'), stringList(b, 'hasAll'), false),
  );
  register(env, 'intersect(list, list): list', 'The elements of the first list that are also in the second, in order.', (a: unknown[], b: unknown[]) => {
    const set = new Set(stringList(b, 'intersect'));
    return stringList(a, 'intersect').filter((x) => set.has(x));
  });
  register(env, 'related(string, string, string): bool', 'related(object, relation, subject): the tuple exists directly or through `member` tuples of nested groups.', (object: string, relation: string, subject: string) => currentRelations().related(object, relation, subject));
  register(env, 'hasTuple(string, string, string): bool', 'hasTuple(object, relation, subject): the tuple exists directly (no group traversal).', (object: string, relation: string, subject: string) => currentRelations().hasTuple(object, relation, subject));
  return env;
}

let runtimeBase: Environment | undefined;
let typedBase: Environment | undefined;

/** The environment conditions are evaluated in: attribute maps are dynamic. */
export function runtimeBaseEnvironment(): Environment {
  return (runtimeBase ??= buildBaseEnvironment(false));
}

/** Base for type-checking against a set's declared schema (variables registered per set). */
export function typedBaseEnvironment(): Environment {
  return (typedBase ??= buildBaseEnvironment(true));
}

/** Schema type names as authors write them → cel-js type names. */
export function celTypeName(type: string): string {
  return type
    .replace(/\btimestamp\b/g, 'google.protobuf.Timestamp')
    .replace(/\bduration\b/g, 'google.protobuf.Duration');
}
