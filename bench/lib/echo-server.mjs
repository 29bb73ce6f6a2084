/**
 * The baseline: a bare grpc-js server for the same charter.v1.Authorization service, with the
 * same proto loading and server options as Charter's, whose handlers skip the decision and
 * answer a constant response — the response Charter gives for the benchmark request, computed
 * once at start-up, so both send the same bytes. Whatever Charter adds over this is the cost
 * of deciding (and of its request checks, metrics and logging).
 *
 * Run as a child process by the benchmarks; prints {"grpcPort": N} when listening.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { decide } from '../../dist/policy/index.js';
import { DEFAULT_LIMITS, serviceDefinitionForBench } from './echo-proto.mjs';
import { READ_REQUEST, compileOrThrow, paymentsMemorySources, paymentsSources } from './payments.mjs';

const src = paymentsMemorySources();
const d = decide(compileOrThrow(paymentsSources()), READ_REQUEST, { attributes: src, relations: src, now: new Date() });
const RESPONSE = Object.freeze({
  decision: d.effect === 'ALLOW' ? 'DECISION_ALLOW' : 'DECISION_DENY',
  policyIds: d.policyIds,
  reason: d.reason,
  policyRevision: d.policyRevision,
  attributeRevision: 1,
  cacheTtlMs: Math.floor(d.cacheTtlMs),
  dependsOnTime: d.dependsOnTime,
  entityIds: d.entityIds,
  dependsOnRelations: d.dependsOnRelations,
});

const server = new Server({
  'grpc.max_receive_message_length': DEFAULT_LIMITS.maxMessageBytes,
  'grpc.max_send_message_length': 16 * DEFAULT_LIMITS.maxMessageBytes,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc-node.max_session_memory': 64,
});
server.addService(serviceDefinitionForBench('Authorization'), {
  Authorize: (_call, callback) => callback(null, RESPONSE),
  BatchAuthorize: (call, callback) => callback(null, { responses: call.request.requests.map(() => RESPONSE) }),
});
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`echo server: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ grpcPort: port, role: 'echo' })}\n`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
