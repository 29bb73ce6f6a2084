/**
 * The compiled, runnable form of the policies: rules with pre-compiled conditions, indexed by
 * resource and action, each knowing what it reads. Built by compile.ts, read by evaluate.ts.
 */
import type { CompiledCondition, TimeGranularity } from './conditions.js';
import type { SegmentPattern } from './patterns.js';
import type { ResourceIndex } from './resource-index.js';

export interface RuleLocation {
  file: string;
  line: number;
  column: number;
}

/** A condition's outcome: true, false, or why it failed (a failing condition never grants). */
export type ConditionOutcome = true | false | string;

export interface CompiledRule {
  /** "<set>/<rule id>", unique across everything loaded. */
  readonly id: string;
  readonly set: string;
  readonly effect: 'allow' | 'deny';
  readonly description: string | undefined;
  /** undefined: any actor. */
  readonly actorPatterns: readonly SegmentPattern[] | undefined;
  /** undefined: no group requirement. Otherwise the actor's `groups` must contain one. */
  readonly groups: readonly string[] | undefined;
  readonly actions: readonly string[];
  readonly resources: readonly SegmentPattern[];
  readonly condition: CompiledCondition | undefined;
  /** The rule needs the actor's stored attributes (condition or group matcher reads them). */
  readonly readsActorAttributes: boolean;
  readonly readsResourceAttributes: boolean;
  readonly time: TimeGranularity;
  readonly relations: boolean;
  /**
   * Set when the condition reads the actor's attributes and nothing else (no resource, action,
   * env, claims, clock or relations): its outcome is then a function of the actor's attributes
   * object alone, remembered per object — frozen objects only (AttributeSource): the store hands
   * out one per cached entity and revision, so a write yields a new object and a fresh
   * evaluation.
   */
  readonly actorOutcomes: WeakMap<object, ConditionOutcome> | undefined;
  readonly location: RuleLocation;
  readonly order: number;
  /** `[id]`, shared by every decision this rule makes. */
  readonly ids: readonly string[];
  /** The decision's reason when this rule applies ("allowed by <id> (<description>)"). */
  readonly appliedReason: string;
  lookupStamp: number;
}

export interface PolicySetOptions {
  /** How long a decision that does not depend on the clock may be cached. */
  defaultCacheTtlMs: number;
}

export interface PolicySet {
  /** Content hash of every policy file: travels with each decision. */
  readonly revision: string;
  readonly ruleCount: number;
  readonly rules: readonly CompiledRule[];
  readonly setNames: readonly string[];
  readonly files: readonly string[];
  readonly index: ResourceIndex<CompiledRule>;
  readonly options: PolicySetOptions;
}

export const DEFAULT_CACHE_TTL_MS = 60_000;
