/**
 * AuthZEN Authorization API 1.0 over the server's HTTP port. Wire it in with
 * `ServerOptions.configureHttp: (router, s) => registerAuthzen(router, { ...s, store, apiKey })`.
 */
export { AUTHZEN_PATHS, registerAuthzen, type AuthzenOptions } from './routes.js';
export { apiKeyProblem, MIN_API_KEY_LENGTH } from './http-io.js';
export { toCharterId, encodeType, isUriId } from './mapping.js';
export { TYPE_ATTRIBUTE, type SearchStore } from './search.js';

/** The `charter serve` setting for the API key (the shape of config.ts's SERVE_SETTINGS entries). */
export const HTTP_API_KEY_SETTING = {
  flag: 'http-api-key',
  env: 'CHARTER_HTTP_API_KEY',
  type: 'string',
  arg: 'KEY',
  help: 'bearer API key required by the AuthZEN endpoints (at least 16 characters; prefer the env variable)',
} as const;
