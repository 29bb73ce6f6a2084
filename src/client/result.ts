/** What `check()` answers, and how a response or a failure becomes one. */
import type { AuthorizeResponseMessage } from './proto.js';

export type Effect = 'ALLOW' | 'DENY';

/**
 * Why an answer is a fail-closed DENY rather than the PDP's decision. gRPC status names
 * (UNAVAILABLE, DEADLINE_EXCEEDED, INVALID_ARGUMENT, ...) plus CLOSED (the client was closed)
 * and BAD_RESPONSE (the server answered something the client cannot read).
 */
export type CheckErrorCode = string;

export interface CheckResult {
  /** True only for a decision the PDP made and answered ALLOW. */
  readonly allowed: boolean;
  readonly decision: Effect;
  /** Answered from the local cache without a call. */
  readonly cached: boolean;
  readonly reason: string;
  /** The rules that decided it ("<set>/<rule id>"); empty for a default deny. */
  readonly policyIds: readonly string[];
  /** The policy revision (content hash) and attribute store revision it was made at. */
  readonly revision: { readonly policy: string; readonly attributes: number };
  /** The decision read the clock (time-window rules). */
  readonly dependsOnTime: boolean;
  /** The decision read relationship tuples. */
  readonly dependsOnRelations: boolean;
  /** Entities whose attributes the decision read. */
  readonly entityIds: readonly string[];
  /** Present when the PDP did not decide (unreachable, too slow, bad request): always a DENY. */
  readonly error?: { readonly code: CheckErrorCode; readonly message: string };
}

const EMPTY: readonly string[] = Object.freeze([]);
const NO_REVISION = Object.freeze({ policy: '', attributes: 0 });

export function resultOf(res: AuthorizeResponseMessage, cached: boolean): CheckResult {
  // Anything but an explicit ALLOW is a DENY (DECISION_UNSPECIFIED included): never fail open.
  const allowed = res.decision === 'DECISION_ALLOW' || res.decision === 1;
  return Object.freeze({
    allowed,
    decision: allowed ? 'ALLOW' : 'DENY',
    cached,
    reason: res.reason ?? '',
    policyIds: Object.freeze(res.policyIds ?? []),
    revision: Object.freeze({ policy: res.policyRevision ?? '', attributes: Number(res.attributeRevision ?? 0) }),
    dependsOnTime: res.dependsOnTime === true,
    dependsOnRelations: res.dependsOnRelations === true,
    entityIds: Object.freeze(res.entityIds ?? []),
  });
}

export function cachedCopy(r: CheckResult): CheckResult {
  return Object.freeze({ ...r, cached: true });
}

export function failClosed(code: CheckErrorCode, message: string): CheckResult {
  return Object.freeze({
    allowed: false,
    decision: 'DENY',
    cached: false,
    reason: `denied: Charter did not decide (${code}): ${message}`,
    policyIds: EMPTY,
    revision: NO_REVISION,
    dependsOnTime: false,
    dependsOnRelations: false,
    entityIds: EMPTY,
    error: Object.freeze({ code, message }),
  });
}
