/**
 * `charter-authz/client`: the sidecar client SDK. Depends only on the public proto.
 *
 *   const client = new CharterClient({ target: '127.0.0.1:50051' });
 *   const { allowed, reason } = await client.check({ actor, action, resource });
 */
export { CharterClient, CharterClientError, type CharterClientOptions, type CheckRequest, type ClientStats, type TlsOptions } from './client.js';
export type { CheckResult, Effect } from './result.js';
/** The charter.v1 definitions as the client loads them, for the sidecar that serves Authorization. */
export { authorizationServiceDefinition, clientPackageDefinition } from './proto.js';
