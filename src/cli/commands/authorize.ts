/** `charter authorize`: ask a running server for one decision and explain it. */
import { parseArgs } from 'node:util';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  checkTarget,
  connect,
  connectionOptions,
  describeRpcError,
  unaryCall,
} from '../../server/grpc-client.js';
import type { AuthorizeResponseMessage } from '../../server/grpc-services.js';
import { objectToStruct } from '../../server/struct.js';

/** The response as proto-loader decodes it (enums as names). */
type DecodedResponse = Omit<AuthorizeResponseMessage, 'decision'> & { decision: string };

const USAGE = `Usage: charter authorize --target HOST:PORT --actor ID --action NAME --resource UON [options]

Asks a running server for one decision and prints it with the rules that decided it, the
reason, and the revisions it was made at. Exit code: 0 ALLOW, 1 DENY, 2 error.

Options:
  --actor ID                 the actor (SPIFFE ID)
  --action NAME              the action
  --resource UON             the resource
  --context JSON             request context, e.g. '{"ip":"10.1.2.3","country":"GB"}' (env.<key>)
  --resource-attributes JSON attributes the caller knows about the resource (the store wins)
  --actor-claims JSON        facts the caller asserts about the actor (actor_claims.<key>)
  --explain                  also show every candidate rule and what happened to it (uses the
                             Admin API: --token / CHARTER_ADMIN_TOKEN, or an admin mTLS identity)
  --token TOKEN              Admin bearer token for --explain [CHARTER_ADMIN_TOKEN]
  --json                     print the response as JSON
  --deadline-ms N            give up after N ms (default 5000)
${CONNECTION_USAGE}
`;

function parseObject(flag: string, text: string | undefined): Record<string, unknown> | undefined | Error {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return new Error(`${flag} must be a JSON object, got ${text}`);
    return v as Record<string, unknown>;
  } catch (err) {
    return new Error(`${flag} is not valid JSON: ${(err as Error).message}`);
  }
}

export async function run(args: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args,
      strict: true,
      options: {
        ...CONNECTION_OPTIONS,
        actor: { type: 'string' },
        action: { type: 'string' },
        resource: { type: 'string' },
        context: { type: 'string' },
        'resource-attributes': { type: 'string' },
        'actor-claims': { type: 'string' },
        json: { type: 'boolean' },
        explain: { type: 'boolean' },
        token: { type: 'string' },
        'deadline-ms': { type: 'string' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`charter authorize: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const conn = { ...connectionOptions(values, process.env), token: (values.token as string | undefined) ?? process.env.CHARTER_ADMIN_TOKEN };
  const problems: string[] = [];
  const targetProblem = checkTarget(conn.target);
  if (targetProblem) problems.push(targetProblem);
  for (const flag of ['actor', 'action', 'resource']) if (typeof values[flag] !== 'string' || values[flag] === '') problems.push(`--${flag} is required`);
  const context = parseObject('--context', values.context as string | undefined);
  const resourceAttributes = parseObject('--resource-attributes', values['resource-attributes'] as string | undefined);
  const actorClaims = parseObject('--actor-claims', values['actor-claims'] as string | undefined);
  for (const v of [context, resourceAttributes, actorClaims]) if (v instanceof Error) problems.push(v.message);
  const deadlineMs = values['deadline-ms'] === undefined ? 5000 : Number(values['deadline-ms']);
  if (!Number.isInteger(deadlineMs) || deadlineMs <= 0) problems.push('--deadline-ms must be a positive integer');
  if (problems.length > 0) {
    process.stderr.write(`charter authorize: ${problems.join('\n')}\n`);
    return 2;
  }
  const request = {
    actor: values.actor,
    action: values.action,
    resource: values.resource,
    context: context instanceof Error || context === undefined ? null : objectToStruct(context),
    resourceAttributes: resourceAttributes instanceof Error || resourceAttributes === undefined ? null : objectToStruct(resourceAttributes),
    actorClaims: actorClaims instanceof Error || actorClaims === undefined ? null : objectToStruct(actorClaims),
  };
  let clients;
  try {
    clients = connect(conn);
  } catch (err) {
    process.stderr.write(`charter authorize: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    if (values.explain) {
      const explained = await unaryCall<{ response: DecodedResponse; trace: RuleTraceMessage[]; errors: string[] }>(
        clients.admin,
        'Explain',
        { request },
        clients.metadata(),
        deadlineMs,
      );
      if (values.json) process.stdout.write(`${JSON.stringify(explained, null, 2)}\n`);
      else {
        process.stdout.write(formatDecision(request.actor as string, request.action as string, request.resource as string, explained.response));
        process.stdout.write(formatTrace(explained.trace, explained.errors));
      }
      return explained.response.decision === 'DECISION_ALLOW' ? 0 : 1;
    }
    const res = await unaryCall<DecodedResponse>(clients.authorization, 'Authorize', request, clients.metadata(), deadlineMs);
    const allow = res.decision === 'DECISION_ALLOW';
    if (values.json) {
      process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
    } else {
      process.stdout.write(formatDecision(request.actor as string, request.action as string, request.resource as string, res));
    }
    return allow ? 0 : 1;
  } catch (err) {
    process.stderr.write(`charter authorize: ${describeRpcError(err, conn.target)}\n`);
    return 2;
  } finally {
    clients.close();
  }
}

interface RuleTraceMessage {
  ruleId: string;
  effect: string;
  outcome: string;
  detail: string;
}

export function formatTrace(trace: RuleTraceMessage[], errors: string[]): string {
  if (trace.length === 0) return '  candidate rules:    (none: no rule matches this action and resource)\n';
  const width = Math.max(...trace.map((t) => t.ruleId.length));
  const lines = ['  candidate rules (denies first):'];
  for (const t of trace) lines.push(`    ${t.effect.padEnd(5)} ${t.ruleId.padEnd(width)}  ${t.outcome}${t.detail ? `: ${t.detail}` : ''}`);
  for (const e of errors) lines.push(`  condition error:    ${e}`);
  return `${lines.join('\n')}\n`;
}

export function formatDecision(actor: string, action: string, resource: string, res: DecodedResponse): string {
  const effect = res.decision.replace(/^DECISION_/, '');
  const lines = [
    `${effect}: ${actor} ${action} ${resource}`,
    `  decided by:         ${res.policyIds.length ? res.policyIds.join(', ') : '(no rule applied: default deny)'}`,
    `  reason:             ${res.reason || '-'}`,
    `  policy revision:    ${res.policyRevision}`,
    `  attribute revision: ${res.attributeRevision}`,
    `  cache ttl:          ${res.cacheTtlMs} ms${res.cacheTtlMs === 0 ? ' (do not cache)' : ''}`,
    `  depends on time:    ${res.dependsOnTime ? 'yes' : 'no'}`,
    `  depends on tuples:  ${res.dependsOnRelations ? 'yes' : 'no'}`,
    `  entities read:      ${res.entityIds.length ? res.entityIds.join(', ') : '(none)'}`,
  ];
  return `${lines.join('\n')}\n`;
}
