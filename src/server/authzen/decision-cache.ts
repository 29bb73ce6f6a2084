/**
 * Recent single-evaluation answers, keyed by the exact request body. AuthZEN callers (foreign
 * PEPs) have no Charter client cache, and many ask the same question again and again (the Todo
 * backend re-checks every todo on every page view).
 *
 * Sound because a decision is a function of the request, the policy set, the stored data and
 * the clock: an entry is used only while the policy revision and the store's attribute
 * revision are still the ones it was made at, and only within the decision's own cache TTL
 * (which is short, or 0, for rules that look at the time). The same body bytes always parse
 * to the same request, so an entry's request was validated when it was made.
 */
import { LRUCache } from 'lru-cache';
import type { PdpDecision } from '../../pdp/index.js';
import type { DecisionRequest } from '../../policy/index.js';

export interface CachedDecision {
  request: DecisionRequest;
  decision: PdpDecision;
  expiresAt: number;
}

/** Bodies longer than this are not cached (they are rarely repeated and cost memory). */
export const MAX_CACHED_BODY_CHARS = 4096;
const ENTRY_OVERHEAD = 512;

export class DecisionCache {
  private readonly lru: LRUCache<string, CachedDecision>;

  /** `maxBytes`: rough memory bound (body length + a fixed overhead per entry). */
  constructor(maxBytes: number) {
    this.lru = new LRUCache<string, CachedDecision>({
      maxSize: maxBytes,
      sizeCalculation: (_value, key) => key.length + ENTRY_OVERHEAD,
    });
  }

  get(body: string, policyRevision: string, attributeRevision: number, now: number): CachedDecision | undefined {
    const entry = this.lru.get(body);
    if (entry === undefined) return undefined;
    const d = entry.decision;
    if (now >= entry.expiresAt || d.policyRevision !== policyRevision || d.attributeRevision !== attributeRevision) {
      this.lru.delete(body);
      return undefined;
    }
    return entry;
  }

  /** Keeps a decision that may be cached; decisions that met errors are always made afresh. */
  set(body: string, request: DecisionRequest, decision: PdpDecision, now: number): void {
    if (decision.cacheTtlMs <= 0 || decision.errors.length > 0 || body.length > MAX_CACHED_BODY_CHARS) return;
    this.lru.set(body, { request, decision, expiresAt: now + decision.cacheTtlMs });
  }

  get size(): number {
    return this.lru.size;
  }
}
