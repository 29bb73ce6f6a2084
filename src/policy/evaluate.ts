/**
 * The evaluator. Semantics (fixed, ARCHITECTURE.md): default deny; deny overrides allow; a
 * condition that errors never grants — an erroring allow does not apply, an erroring deny
 * does. Attributes are fetched lazily, only when a candidate rule reads them.
 */
import { relationScope } from './cel-environment.js';
import { finerTime, type CompiledCondition, type TimeGranularity } from './conditions.js';
import { copyOwn, mergeOwn } from './copy.js';
import { serverInstant } from './functions/server-instant.js';
import { matchSegmentsOf, splitSegments } from './patterns.js';
import type { CompiledRule, ConditionOutcome, PolicySet } from './policy-set.js';
import type { AttributeSource, Attributes, RelationSource } from './sources.js';

export interface DecisionRequest {
  actor: string;
  action: string;
  resource: string;
  /** Request facts; CEL `env.<key>`. `time` is always the server's clock. */
  context?: Record<string, unknown>;
  /** Caller-known resource attributes: they fill only what the store lacks. */
  resourceAttributes?: Record<string, unknown>;
  /** CEL `actor_claims.<key>`: what the caller asserts about the actor, never merged. */
  actorClaims?: Record<string, unknown>;
  /** CEL `action_properties.<key>` (AuthZEN action.properties). */
  actionProperties?: Record<string, unknown>;
}

export interface DecisionSources {
  attributes: AttributeSource;
  relations: RelationSource;
  now: Date;
}

export type Effect = 'ALLOW' | 'DENY';

export interface Decision {
  effect: Effect;
  /** The rules that decided ("<set>/<id>"); empty for the default deny. */
  policyIds: string[];
  reason: string;
  policyRevision: string;
  /** How long the decision may be cached; 0 means not at all. */
  cacheTtlMs: number;
  dependsOnTime: boolean;
  /** Entities whose stored attributes the decision read (a change to one invalidates it). */
  entityIds: string[];
  dependsOnRelations: boolean;
  /** Condition errors met while deciding, as "<rule id>: <message>". */
  errors: string[];
}

export type RuleOutcome = 'applied' | 'condition-false' | 'condition-error' | 'actor-mismatch' | 'not-evaluated';

export interface RuleTrace {
  ruleId: string;
  effect: 'allow' | 'deny';
  outcome: RuleOutcome;
  detail?: string;
}

export interface DecideOptions {
  /** Record what happened to every candidate rule (for `charter test` and debugging). */
  explain?: boolean;
}

export interface ExplainedDecision extends Decision {
  trace: RuleTrace[];
}

const EMPTY: Attributes = Object.freeze({}) as Attributes;
const QUARTER_HOUR_MS = 15 * 60_000;
const MINUTE_MS = 60_000;

/**
 * Stored attributes plus the reserved `id`. A frozen attributes object is handed out again
 * while its entity is unchanged (AttributeSource), so the merged object is kept beside it
 * instead of being rebuilt on every decision; any other object is a one-off, not worth an entry.
 */
const withIdCache = new WeakMap<Attributes, Attributes>();

/** The kept merged object for a frozen `stored`; undefined for any other. */
function sharedWithId(stored: Attributes, id: string): Attributes | undefined {
  const cached = withIdCache.get(stored);
  if (cached !== undefined && cached.id === id) return cached;
  // Only on a miss: Object.isFrozen is a builtin call, dearer than the lookup above.
  if (!Object.isFrozen(stored)) return undefined;
  const merged = withId(stored, id);
  withIdCache.set(stored, merged);
  return merged;
}

function withId(stored: Attributes, id: string): Attributes {
  const copy = copyOwn(stored);
  copy.id = id;
  return Object.freeze(copy);
}

const NO_STRINGS: string[] = Object.freeze([]) as unknown as string[];

function withoutTime(context: Record<string, unknown>): Record<string, unknown> {
  const copy = copyOwn(context);
  delete copy.time;
  return copy;
}

/** Per-decision state: what has been fetched, so each entity is read at most once. */
class DecisionState {
  readonly context: Record<string, unknown>;
  actorFetched = false;
  /** The actor object is built on a frozen stored one: the same object comes back next time. */
  actorShared = false;
  resourceFetched = false;
  time: TimeGranularity = 'none';
  relations = false;
  errors: string[] | undefined;
  trace: RuleTrace[] | undefined;

  constructor(
    readonly request: DecisionRequest,
    readonly sources: DecisionSources,
    explain: boolean,
  ) {
    const ctx = request.context;
    this.context = {
      actor: { id: request.actor },
      resource: { id: request.resource },
      action: request.action,
      // The caller's context as is (conditions never modify it): `env.time` is added, as a copy,
      // only before a rule that reads the clock. Compilation marks every rule that could read
      // it (also through a bare `env`). A caller's own `time` is never visible.
      env: ctx === undefined ? EMPTY : Object.hasOwn(ctx, 'time') ? withoutTime(ctx) : ctx,
      actor_claims: request.actorClaims ?? EMPTY,
      action_properties: request.actionProperties ?? EMPTY,
    };
    if (explain) this.trace = [];
  }

  private clockSet = false;
  private actorSplit: string[] | undefined;

  /** The actor id split into segments, once per decision (several rules may match it). */
  actorSegments(): string[] {
    return (this.actorSplit ??= splitSegments(this.request.actor));
  }

  /** Puts the server's clock in `env.time` (once). */
  setClock(): void {
    if (this.clockSet) return;
    this.clockSet = true;
    const env = copyOwn(this.context.env as Record<string, unknown>);
    env.time = serverInstant(this.sources.now);
    this.context.env = env;
  }

  actorAttributes(): Attributes {
    if (!this.actorFetched) {
      this.actorFetched = true;
      const stored = this.sources.attributes.getAttributes(this.request.actor);
      if (stored !== undefined) {
        const shared = sharedWithId(stored, this.request.actor);
        this.context.actor = shared ?? withId(stored, this.request.actor);
        this.actorShared = shared !== undefined;
      }
    }
    return this.context.actor as Attributes;
  }

  ensureResourceAttributes(): void {
    if (this.resourceFetched) return;
    this.resourceFetched = true;
    const stored = this.sources.attributes.getAttributes(this.request.resource);
    const supplied = this.request.resourceAttributes;
    // Store wins: caller-supplied attributes only fill gaps.
    if (supplied !== undefined) {
      const merged = stored === undefined ? copyOwn(supplied) : mergeOwn(supplied, stored);
      merged.id = this.request.resource;
      this.context.resource = merged;
    } else if (stored !== undefined) {
      this.context.resource = sharedWithId(stored, this.request.resource) ?? withId(stored, this.request.resource);
    }
  }

  note(rule: CompiledRule, outcome: RuleOutcome, detail?: string): void {
    this.trace?.push({ ruleId: rule.id, effect: rule.effect, outcome, detail });
  }

  error(rule: CompiledRule, message: string): void {
    (this.errors ??= []).push(`${rule.id}: ${message}`);
  }
}

function actorMatches(rule: CompiledRule, state: DecisionState): boolean {
  const patterns = rule.actorPatterns;
  if (patterns !== undefined) {
    let any = false;
    for (const p of patterns) {
      if (p.literal ? p.text === state.request.actor : matchSegmentsOf(p, state.actorSegments())) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  const groups = rule.groups;
  if (groups !== undefined) {
    const actorGroups = state.actorAttributes().groups;
    if (!Array.isArray(actorGroups)) return false;
    for (const g of groups) if (actorGroups.includes(g)) return true;
    return false;
  }
  return true;
}

/** Evaluates the rule's condition: true, false, or an error message. */
function conditionHolds(rule: CompiledRule, state: DecisionState): ConditionOutcome {
  const condition = rule.condition;
  if (condition === undefined) return true;
  const remembered = rule.actorOutcomes;
  if (remembered !== undefined) {
    const actor = state.actorAttributes();
    // An unknown actor is a fresh `{id}` per decision, an unfrozen one a one-off copy: nothing
    // to remember either by.
    if (state.actorShared) {
      let outcome = remembered.get(actor);
      if (outcome === undefined) {
        outcome = outcomeOf(condition, state.context);
        remembered.set(actor, outcome);
      }
      return outcome;
    }
  }
  if (rule.readsActorAttributes) state.actorAttributes();
  if (rule.readsResourceAttributes) state.ensureResourceAttributes();
  if (rule.time !== 'none') {
    state.time = finerTime(state.time, rule.time);
    state.setClock();
  }
  if (rule.relations) state.relations = true;
  return outcomeOf(condition, state.context);
}

function outcomeOf(condition: CompiledCondition, context: Record<string, unknown>): ConditionOutcome {
  try {
    const result = condition.evaluate(context);
    if (result === true) return true;
    if (result === false) return false;
    return `condition returned ${typeof result === 'bigint' ? 'an int' : typeof result}, not a bool`;
  } catch (error) {
    return ((error as Error).message ?? String(error)).split('\n')[0];
  }
}

export function decide(set: PolicySet, request: DecisionRequest, sources: DecisionSources, options?: DecideOptions): Decision {
  const state = new DecisionState(request, sources, options?.explain === true);
  const candidates = set.index.lookup(request.resource, request.action);
  const previousRelations = relationScope.current;
  relationScope.current = sources.relations;
  try {
    // Denies first: one that applies (or errors) decides, whatever the allows say.
    for (const rule of candidates) {
      if (rule.effect !== 'deny') continue;
      if (!actorMatches(rule, state)) {
        state.note(rule, 'actor-mismatch');
        continue;
      }
      const holds = conditionHolds(rule, state);
      if (holds === false) {
        state.note(rule, 'condition-false');
        continue;
      }
      if (holds !== true) {
        state.error(rule, holds);
        state.note(rule, 'condition-error', holds);
        return finish(set, state, 'DENY', rule.ids, `denied by ${rule.id}: its condition failed (${holds}), and a failing deny applies`);
      }
      state.note(rule, 'applied');
      return finish(set, state, 'DENY', rule.ids, rule.appliedReason);
    }
    for (const rule of candidates) {
      if (rule.effect !== 'allow') continue;
      if (!actorMatches(rule, state)) {
        state.note(rule, 'actor-mismatch');
        continue;
      }
      const holds = conditionHolds(rule, state);
      if (holds === true) {
        state.note(rule, 'applied');
        return finish(set, state, 'ALLOW', rule.ids, rule.appliedReason);
      }
      if (holds === false) state.note(rule, 'condition-false');
      else {
        state.error(rule, holds);
        state.note(rule, 'condition-error', holds);
      }
    }
    return finish(set, state, 'DENY', NO_STRINGS, defaultDenyReason(candidates.length, state));
  } finally {
    relationScope.current = previousRelations;
  }
}

function defaultDenyReason(candidates: number, state: DecisionState): string {
  if (candidates === 0) return 'denied by default: no rule covers this action on this resource';
  const errors = state.errors;
  if (errors !== undefined) return `denied by default: no allow rule applied (errors: ${errors.join('; ')})`;
  return `denied by default: no allow rule applied (${candidates} candidate rule${candidates === 1 ? '' : 's'})`;
}

function finish(set: PolicySet, state: DecisionState, effect: Effect, policyIds: readonly string[], reason: string): Decision {
  const entityIds =
    state.actorFetched || state.resourceFetched
      ? state.actorFetched && state.resourceFetched
        ? [state.request.actor, state.request.resource]
        : [state.actorFetched ? state.request.actor : state.request.resource]
      : NO_STRINGS;
  const decision: Decision = {
    effect,
    // Shared, frozen arrays: the Decision type promises string[] for callers' convenience.
    policyIds: policyIds as string[],
    reason,
    policyRevision: set.revision,
    // Reads the clock only when the decision depends on it (sources may read it lazily).
    cacheTtlMs: state.time === 'none' ? set.options.defaultCacheTtlMs : cacheTtl(state.time, state.sources.now, set.options.defaultCacheTtlMs),
    dependsOnTime: state.time !== 'none',
    entityIds,
    dependsOnRelations: state.relations,
    errors: state.errors ?? NO_STRINGS,
  };
  if (state.trace !== undefined) (decision as ExplainedDecision).trace = state.trace;
  return decision;
}

/**
 * A decision that looks at hours or weekdays cannot change before the next quarter hour in
 * any time zone (all current UTC offsets are multiples of 15 minutes); one that looks at
 * minutes, before the next minute; one that compares instants must not be cached.
 */
export function cacheTtl(time: TimeGranularity, now: Date, defaultTtlMs: number): number {
  if (time === 'none') return defaultTtlMs;
  if (time === 'instant') return 0;
  const step = time === 'quarter-hour' ? QUARTER_HOUR_MS : MINUTE_MS;
  const ms = now.getTime();
  return Math.min(defaultTtlMs, step - (ms % step));
}

export function explain(set: PolicySet, request: DecisionRequest, sources: DecisionSources): ExplainedDecision {
  return decide(set, request, sources, { explain: true }) as ExplainedDecision;
}
