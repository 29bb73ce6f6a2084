/**
 * The source model: a policy file as its author wrote it (after schema validation). The
 * compiler turns these into a PolicySet; the evaluator never sees this form.
 */
export type AttributeTypes = Record<string, string>;

export interface SourceSchema {
  actor?: AttributeTypes;
  resource?: AttributeTypes;
  context?: AttributeTypes;
  actor_claims?: AttributeTypes;
  action_properties?: AttributeTypes;
}

export interface SourceRule {
  id: string;
  description?: string;
  effect: 'allow' | 'deny';
  actors: '*' | { ids?: string[]; groups?: string[] };
  actions: string[];
  resources: string[];
  condition?: string;
}

export interface SourcePolicyFile {
  apiVersion: 'charter.dev/v1';
  description?: string;
  schema?: SourceSchema;
  constants?: Record<string, string | number | boolean | Array<string | number | boolean>>;
  expressions?: Record<string, string>;
  rules?: SourceRule[];
}

export const API_VERSION = 'charter.dev/v1';
