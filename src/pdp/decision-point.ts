/**
 * The decision point: the policy set being served, the attribute store, the server's clock.
 * `decide` never throws and never fails open: anything that goes wrong is a DENY with a reason.
 */
import { decide as evaluate, type Decision, type DecisionRequest, type DecisionSources, type PolicySet, type RuleTrace } from '../policy/index.js';
import { createDecisionMemo, type DecisionSource, type MemoSource } from '../store/index.js';

/** What the decision point needs from the attribute store (AttributeStore provides it). */
export interface DecisionStore extends MemoSource {
  revision(): number;
  related(object: string, relation: string, subject: string): boolean;
}

/** A decision with the attribute revision it was made at. */
export interface PdpDecision extends Decision {
  attributeRevision: number;
}

/** A decision with what happened to every candidate rule (for debugging). */
export interface ExplainedPdpDecision extends PdpDecision {
  trace: RuleTrace[];
}

export interface DecisionPointOptions {
  store: DecisionStore;
  policies: PolicySet;
  /** The clock; the server's own time. Only tests replace it. */
  clock?: () => Date;
}

/** The decision's sources; the clock is read once, and only if a rule looks at the time. */
class DecisionSourcesOf implements DecisionSources {
  readonly relations: DecisionSource;
  private instant: Date | undefined;

  constructor(
    readonly attributes: DecisionSource,
    private readonly clock: () => Date,
  ) {
    this.relations = attributes;
  }

  get now(): Date {
    return (this.instant ??= this.clock());
  }
}

export class DecisionPoint {
  private set: PolicySet;
  private readonly store: DecisionStore;
  private readonly clock: () => Date;

  constructor(options: DecisionPointOptions) {
    this.set = options.policies;
    this.store = options.store;
    this.clock = options.clock ?? (() => new Date());
  }

  get policies(): PolicySet {
    return this.set;
  }

  get policyRevision(): string {
    return this.set.revision;
  }

  /** Swaps the policy set atomically: a decision sees either the old set or the new one. */
  replacePolicies(next: PolicySet): PolicySet {
    const previous = this.set;
    this.set = next;
    return previous;
  }

  attributeRevision(): number {
    return this.store.revision();
  }

  /** Like decide(), plus the outcome of every candidate rule. Not for the hot path. */
  explain(request: DecisionRequest): ExplainedPdpDecision {
    const trace: RuleTrace[] = [];
    const decision = this.decide(request, trace);
    return { ...decision, trace };
  }

  decide(request: DecisionRequest, trace?: RuleTrace[]): PdpDecision {
    const set = this.set;
    let attributeRevision = 0;
    try {
      // Read the revision before any attribute: the data a decision sees is at least this new,
      // so a client caching it under this revision is invalidated by any later change.
      attributeRevision = this.store.revision();
      // Per decision: repeated entity reads, tuple checks and group expansions hit LMDB once.
      const memo = createDecisionMemo(this.store);
      const sources = new DecisionSourcesOf(memo, this.clock);
      const decision = trace === undefined ? evaluate(set, request, sources) : evaluate(set, request, sources, { explain: true });
      if (trace !== undefined) trace.push(...((decision as Decision & { trace?: RuleTrace[] }).trace ?? []));
      // A copy (the evaluator may hand out shared objects), as one literal: an object spread
      // costs several times more on this path.
      return {
        effect: decision.effect,
        policyIds: decision.policyIds,
        reason: decision.reason,
        policyRevision: decision.policyRevision,
        cacheTtlMs: decision.cacheTtlMs,
        dependsOnTime: decision.dependsOnTime,
        entityIds: decision.entityIds,
        dependsOnRelations: decision.dependsOnRelations,
        errors: decision.errors,
        attributeRevision,
      };
    } catch (err) {
      return {
        effect: 'DENY',
        policyIds: [],
        reason: `denied: internal error while deciding: ${(err as Error)?.message ?? String(err)}`,
        policyRevision: set.revision,
        cacheTtlMs: 0,
        dependsOnTime: false,
        entityIds: [],
        dependsOnRelations: false,
        errors: [String((err as Error)?.message ?? err)],
        attributeRevision,
      };
    }
  }
}
