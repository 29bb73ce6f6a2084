/**
 * Subject, resource and action search (docs/authzen.md, "Search").
 *
 * Correct first: every result is an ordinary decision (`DecisionPoint.decide`) that came out
 * ALLOW, so search can never return something the evaluation endpoint would deny. What search
 * can find is bounded by what the PDP knows of: a candidate is a stored entity of the requested
 * type, an entity reached through relation tuples from the given resource (subject search) or
 * subject (resource search), including nested `member` groups, or an id a rule names literally.
 * Action search asks the rule index which actions rules mention for the resource.
 *
 * Then fast: a search whose (resource, action) has no allow rule answers at once; candidates
 * come sorted and are decided only until a page is full (or a per-request decision budget is
 * spent), and the page token is the last id examined (a cursor, not an offset, so a page never
 * repeats or skips because data changed).
 */
import type { DecisionPoint, TupleKey } from '../../pdp/index.js';
import type { DecisionRequest, PolicySet } from '../../policy/index.js';
import { mergeOwn } from '../../policy/copy.js';
import { ANY_ACTION } from '../../policy/resource-index.js';
import { MEMBER_RELATION, DEFAULT_MAX_DEPTH } from '../../relations/traverse.js';
import { authzenIdOf, isUriId, typePrefix } from './mapping.js';
import { AuthzenError, isObject, type Json } from './request.js';

/** What search needs from the attribute store (src/store's AttributeStore provides it). */
export interface SearchStore {
  tuplesOfObject(id: string): Iterable<TupleKey>;
  tuplesOfSubject(id: string): Iterable<TupleKey>;
  getAttributes(id: string): Record<string, unknown> | undefined;
  /** Ids of stored entities starting with `prefix`, when the store can list them. */
  entityIds?(prefix: string): Iterable<string>;
}

/** Stored attribute that gives a URI-form id (used as is, without its type) an AuthZEN type. */
export const TYPE_ATTRIBUTE = 'authzen_type';

/** Most entities one relation walk visits; beyond it the walk stops (results stay correct). */
export const MAX_WALK = 100_000;

/**
 * Most decisions one search request makes. When they run out before the page is full, the
 * page ends early with a token at the last candidate examined, so one request never blocks
 * the server for long however few candidates are allowed; the caller just asks again.
 */
export const MAX_DECISIONS_PER_PAGE = 2_000;

export interface Page {
  limit: number;
  /** Return only candidates after this id (the previous page's last result). */
  after: string | undefined;
}

export interface PageOptions {
  defaultLimit: number;
  maxLimit: number;
}

const TOKEN_PREFIX = 'c1:';

export function encodeToken(lastId: string): string {
  return Buffer.from(TOKEN_PREFIX + lastId, 'utf8').toString('base64url');
}

/** `page` of a search request: `limit`, and `token` (or `next_token`) from a previous answer. */
export function parsePage(body: Json, options: PageOptions): Page {
  const page = body.page;
  if (page === undefined || page === null) return { limit: options.defaultLimit, after: undefined };
  if (!isObject(page)) throw new AuthzenError(400, 'page must be a JSON object');
  let limit = options.defaultLimit;
  if (page.limit !== undefined && page.limit !== null) {
    if (typeof page.limit !== 'number' || !Number.isInteger(page.limit) || page.limit < 1) {
      throw new AuthzenError(400, 'page.limit must be a positive integer');
    }
    limit = Math.min(page.limit, options.maxLimit);
  }
  const token = page.token ?? page.next_token;
  if (token === undefined || token === null || token === '') return { limit, after: undefined };
  if (typeof token !== 'string') throw new AuthzenError(400, 'page.token must be a string');
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith(TOKEN_PREFIX) || text.length === TOKEN_PREFIX.length) throw new AuthzenError(400, 'page.token is not a token this PDP issued');
  return { limit, after: text.slice(TOKEN_PREFIX.length) };
}

export interface SearchResult<T> {
  results: T[];
  page: { next_token: string; count: number };
}

interface Collected {
  ids: string[];
  /** Where the next page starts (after this id), or undefined on the last page. */
  resumeAfter: string | undefined;
}

/**
 * Decides `decidePermits(candidate)` for candidates in id order after `page.after`, until
 * `limit` are allowed (plus one more, to know whether a next page exists) or the decision
 * budget is spent.
 */
function collect(candidates: Set<string>, page: Page, decidePermits: (id: string) => boolean, budget = MAX_DECISIONS_PER_PAGE): Collected {
  const sorted = [...candidates].sort();
  const ids: string[] = [];
  let i = 0;
  if (page.after !== undefined) {
    const after = page.after;
    while (i < sorted.length && sorted[i] <= after) i++;
  }
  for (let spent = 0; i < sorted.length; i++, spent++) {
    if (spent === budget) return { ids, resumeAfter: sorted[i - 1] };
    if (!decidePermits(sorted[i])) continue;
    if (ids.length === page.limit) return { ids, resumeAfter: ids[ids.length - 1] };
    ids.push(sorted[i]);
  }
  return { ids, resumeAfter: undefined };
}

function pageOf<T>(results: T[], resumeAfter: string | undefined): SearchResult<T> {
  return { results, page: { next_token: resumeAfter === undefined ? '' : encodeToken(resumeAfter), count: results.length } };
}

/** Whether any allow rule could apply to (resource, action): otherwise nobody is allowed. */
function hasAllowCandidate(set: PolicySet, resource: string, action: string): boolean {
  for (const rule of set.index.lookup(resource, action)) if (rule.effect === 'allow') return true;
  return false;
}

/** The AuthZEN id of `charterId` if it is an entity of `type`, else undefined. */
function idOfType(store: SearchStore, charterId: string, type: string, prefix: string): string | undefined {
  const scoped = authzenIdOf(charterId, type, prefix);
  if (scoped !== undefined) return scoped;
  if (isUriId(charterId) && store.getAttributes(charterId)?.[TYPE_ATTRIBUTE] === type) return charterId;
  return undefined;
}

function addStoredOfType(store: SearchStore, prefix: string, out: Set<string>): void {
  if (typeof store.entityIds !== 'function') return;
  let n = 0;
  for (const id of store.entityIds(prefix)) {
    out.add(id);
    if (++n >= MAX_WALK) return;
  }
}

/** Every subject of a tuple on `object`, and (transitively) every member of those subjects. */
function subjectsReaching(store: SearchStore, object: string): Set<string> {
  const seen = new Set<string>();
  let frontier: string[] = [];
  for (const t of store.tuplesOfObject(object)) {
    if (!seen.has(t.subject)) {
      seen.add(t.subject);
      frontier.push(t.subject);
    }
  }
  for (let depth = 0; depth < DEFAULT_MAX_DEPTH && frontier.length > 0 && seen.size < MAX_WALK; depth++) {
    const next: string[] = [];
    for (const group of frontier) {
      for (const t of store.tuplesOfObject(group)) {
        if (t.relation !== MEMBER_RELATION || seen.has(t.subject)) continue;
        seen.add(t.subject);
        next.push(t.subject);
      }
    }
    frontier = next;
  }
  return seen;
}

/** Every object of a tuple whose subject is `subject` or a group `subject` belongs to. */
function objectsReachedBy(store: SearchStore, subject: string): Set<string> {
  const groups = new Set<string>([subject]);
  let frontier = [subject];
  for (let depth = 0; depth < DEFAULT_MAX_DEPTH && frontier.length > 0 && groups.size < MAX_WALK; depth++) {
    const next: string[] = [];
    for (const member of frontier) {
      for (const t of store.tuplesOfSubject(member)) {
        if (t.relation !== MEMBER_RELATION || groups.has(t.object)) continue;
        groups.add(t.object);
        next.push(t.object);
      }
    }
    frontier = next;
  }
  const objects = new Set<string>();
  for (const s of groups) {
    for (const t of store.tuplesOfSubject(s)) {
      objects.add(t.object);
      if (objects.size >= MAX_WALK) return objects;
    }
  }
  return objects;
}

export interface SubjectSearch {
  /** The subject type searched for. */
  type: string;
  /** Applied as claims to every candidate (subject.properties). */
  claims: Json | undefined;
  base: Omit<DecisionRequest, 'actor'>;
}

export function searchSubjects(pdp: DecisionPoint, store: SearchStore, q: SubjectSearch, page: Page): SearchResult<{ type: string; id: string }> {
  const set = pdp.policies;
  if (!hasAllowCandidate(set, q.base.resource, q.base.action)) return pageOf([], undefined);
  const prefix = typePrefix(q.type);
  const candidates = new Set<string>();
  for (const s of subjectsReaching(store, q.base.resource)) if (idOfType(store, s, q.type, prefix) !== undefined) candidates.add(s);
  addStoredOfType(store, prefix, candidates);
  for (const rule of set.index.lookup(q.base.resource, q.base.action)) {
    for (const p of rule.actorPatterns ?? []) if (p.literal && idOfType(store, p.text, q.type, prefix) !== undefined) candidates.add(p.text);
  }
  const { ids, resumeAfter } = collect(candidates, page, (actor) =>
    allows(pdp, q.base, q.claims === undefined ? { actor } : { actor, actorClaims: q.claims }),
  );
  return pageOf(
    ids.map((id) => ({ type: q.type, id: idOfType(store, id, q.type, prefix) as string })),
    resumeAfter,
  );
}

export interface ResourceSearch {
  type: string;
  /** Applied as caller-supplied attributes to every candidate (resource.properties). */
  resourceAttributes: Json | undefined;
  base: Omit<DecisionRequest, 'resource'>;
}

export function searchResources(pdp: DecisionPoint, store: SearchStore, q: ResourceSearch, page: Page): SearchResult<{ type: string; id: string }> {
  const set = pdp.policies;
  const action = q.base.action;
  const prefix = typePrefix(q.type);
  const candidates = new Set<string>();
  for (const o of objectsReachedBy(store, q.base.actor)) if (idOfType(store, o, q.type, prefix) !== undefined) candidates.add(o);
  addStoredOfType(store, prefix, candidates);
  let anyAllow = false;
  for (const rule of set.rules) {
    if (rule.effect !== 'allow' || !(rule.actions.includes(action) || rule.actions.includes(ANY_ACTION))) continue;
    anyAllow = true;
    for (const p of rule.resources) if (p.literal && idOfType(store, p.text, q.type, prefix) !== undefined) candidates.add(p.text);
  }
  if (!anyAllow) return pageOf([], undefined);
  const { ids, resumeAfter } = collect(candidates, page, (resource) =>
    allows(pdp, q.base, q.resourceAttributes === undefined ? { resource } : { resource, resourceAttributes: q.resourceAttributes }),
  );
  return pageOf(
    ids.map((id) => ({ type: q.type, id: idOfType(store, id, q.type, prefix) as string })),
    resumeAfter,
  );
}

/** Whether `base` completed with `fields` is allowed (mergeOwn: a spread is ~10x slower in V8). */
function allows(pdp: DecisionPoint, base: Partial<DecisionRequest>, fields: Partial<DecisionRequest>): boolean {
  const request = mergeOwn(base as Record<string, unknown>, fields as Record<string, unknown>) as unknown as DecisionRequest;
  return pdp.decide(request).effect === 'ALLOW';
}

/** Action names the rules matching `resource` mention; every named action when one says '*'. */
export function candidateActions(set: PolicySet, resource: string): Set<string> {
  const actions = set.index.actionsFor(resource);
  if (actions.has(ANY_ACTION)) {
    actions.delete(ANY_ACTION);
    for (const rule of set.rules) for (const a of rule.actions) if (a !== ANY_ACTION) actions.add(a);
  }
  return actions;
}

export function searchActions(pdp: DecisionPoint, base: Omit<DecisionRequest, 'action'>, page: Page): SearchResult<{ name: string }> {
  const { ids, resumeAfter } = collect(candidateActions(pdp.policies, base.resource), page, (action) => allows(pdp, base, { action }));
  return pageOf(
    ids.map((name) => ({ name })),
    resumeAfter,
  );
}
