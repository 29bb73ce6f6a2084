/** The policy language: files → compiled PolicySet → decisions. */
export { compilePolicySet, type CompileResult, type PolicySource } from './compile.js';
export { formatDiagnostic, type Diagnostic } from './diagnostics.js';
export { decide, explain, type Decision, type DecisionRequest, type DecisionSources, type Effect, type ExplainedDecision, type RuleTrace } from './evaluate.js';
export { loadPolicies } from './load.js';
export { MemorySources } from './memory-sources.js';
export type { PolicySet } from './policy-set.js';
export type { AttributeSource, Attributes, RelationSource } from './sources.js';
export type { CompileResult as LoadResult } from './compile.js';
