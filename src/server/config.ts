/**
 * `charter serve` settings: command-line flags, then CHARTER_* environment variables, then
 * defaults (flags win over the environment). See docs/server.md for the reference.
 */
import { parseArgs } from 'node:util';
import { HTTP_API_KEY_SETTING, apiKeyProblem } from './authzen/index.js';
import { DEFAULT_MAX_IN_FLIGHT } from './admission.js';
import { DEFAULT_LIMITS, type InputLimits } from './limits.js';
import { isLoopbackHost } from './security.js';

export interface ServeConfig {
  host: string;
  grpcPort: number;
  httpPort: number;
  /** undefined: the bundled policies/ (demo). */
  policiesDir: string | undefined;
  /** undefined: a temporary store seeded from the policy directory's data.ndjson files (demo). */
  dataDir: string | undefined;
  logLevel: string;
  /** "stdout", "stderr", "off", or a file path. */
  decisionLog: string;
  decisionLogSampleRate: number;
  redactContextKeys: string[];
  tls: { cert: string; key: string; ca?: string } | undefined;
  adminSpiffeIds: string[];
  adminToken: string | undefined;
  adminInsecureLoopback: boolean;
  /** Bearer key required by the AuthZEN HTTP endpoints; undefined = open. */
  httpApiKey: string | undefined;
  workers: number;
  defaultCacheTtlMs: number | undefined;
  watchPolicies: boolean;
  storePollIntervalMs: number;
  shutdownGraceMs: number;
  limits: InputLimits;
  /** Unary calls in flight before RESOURCE_EXHAUSTED; 0 = no limit. */
  maxInFlight: number;
}

interface Setting {
  flag: string;
  env?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  help: string;
  arg?: string;
}

export const SERVE_SETTINGS: Setting[] = [
  { flag: 'policies', env: 'CHARTER_POLICIES', type: 'string', arg: 'DIR', help: 'policy directory (default: the bundled policies/)' },
  { flag: 'data', env: 'CHARTER_DATA', type: 'string', arg: 'DIR', help: 'LMDB attribute store directory (default: a temporary store seeded from <policies>/**/data.ndjson)' },
  { flag: 'host', env: 'CHARTER_HOST', type: 'string', arg: 'HOST', help: 'address to listen on (default 127.0.0.1)' },
  { flag: 'grpc-port', env: 'CHARTER_GRPC_PORT', type: 'string', arg: 'N', help: 'gRPC port, 0 = pick a free one (default 50051)' },
  { flag: 'http-port', env: 'CHARTER_HTTP_PORT', type: 'string', arg: 'N', help: 'HTTP port for /metrics, /healthz, /readyz, AuthZEN; 0 = pick, -1 = off (write --http-port=-1) (default 8080)' },
  { flag: 'log-level', env: 'CHARTER_LOG_LEVEL', type: 'string', arg: 'LEVEL', help: 'trace, debug, info, warn, error, fatal, silent (default info)' },
  { flag: 'decision-log', env: 'CHARTER_DECISION_LOG', type: 'string', arg: 'DEST', help: 'stdout, stderr, off or a file path (default stdout)' },
  { flag: 'decision-log-sample-rate', env: 'CHARTER_DECISION_LOG_SAMPLE_RATE', type: 'string', arg: 'R', help: 'fraction of decisions logged, 0..1 (default 1); decisions with condition errors are always logged' },
  { flag: 'redact-context-keys', env: 'CHARTER_REDACT_CONTEXT_KEYS', type: 'string', arg: 'K1,K2', help: 'context keys whose values the decision log replaces by [REDACTED]' },
  { flag: 'tls-cert', env: 'CHARTER_TLS_CERT', type: 'string', arg: 'FILE', help: 'server certificate chain (PEM); enables TLS' },
  { flag: 'tls-key', env: 'CHARTER_TLS_KEY', type: 'string', arg: 'FILE', help: 'server private key (PEM)' },
  { flag: 'tls-ca', env: 'CHARTER_TLS_CA', type: 'string', arg: 'FILE', help: 'client CA bundle (PEM); enables mTLS (client certificates required)' },
  { flag: 'admin-spiffe-id', env: 'CHARTER_ADMIN_SPIFFE_IDS', type: 'string', multiple: true, arg: 'ID', help: 'SPIFFE ID allowed to call Admin (mTLS; repeatable; env: comma-separated)' },
  { flag: 'admin-token', env: 'CHARTER_ADMIN_TOKEN', type: 'string', arg: 'TOKEN', help: 'bearer token allowed to call Admin (prefer the env variable)' },
  { flag: 'admin-insecure-loopback', env: 'CHARTER_ADMIN_INSECURE_LOOPBACK', type: 'boolean', help: 'anyone may call Admin; only allowed on a loopback host' },
  { ...HTTP_API_KEY_SETTING },
  { flag: 'workers', env: 'CHARTER_WORKERS', type: 'string', arg: 'N', help: 'worker processes sharing the ports and the store (default 1)' },
  { flag: 'default-cache-ttl-ms', env: 'CHARTER_DEFAULT_CACHE_TTL_MS', type: 'string', arg: 'MS', help: 'cache TTL for rules that set none (default: the policy engine default)' },
  { flag: 'no-watch', env: 'CHARTER_NO_WATCH', type: 'boolean', help: 'do not watch the policy directory (SIGHUP still reloads)' },
  { flag: 'store-poll-ms', env: 'CHARTER_STORE_POLL_MS', type: 'string', arg: 'MS', help: 'how often to look for store writes by other processes (default 150)' },
  { flag: 'shutdown-grace-ms', env: 'CHARTER_SHUTDOWN_GRACE_MS', type: 'string', arg: 'MS', help: 'how long SIGTERM waits for in-flight calls (default 10000)' },
  { flag: 'max-message-bytes', env: 'CHARTER_MAX_MESSAGE_BYTES', type: 'string', arg: 'N', help: `largest gRPC message accepted (default ${DEFAULT_LIMITS.maxMessageBytes})` },
  { flag: 'max-field-bytes', env: 'CHARTER_MAX_FIELD_BYTES', type: 'string', arg: 'N', help: `longest actor/action/resource (default ${DEFAULT_LIMITS.maxFieldBytes})` },
  { flag: 'max-batch-size', env: 'CHARTER_MAX_BATCH_SIZE', type: 'string', arg: 'N', help: `most requests per BatchAuthorize (default ${DEFAULT_LIMITS.maxBatchSize})` },
  { flag: 'max-in-flight', env: 'CHARTER_MAX_IN_FLIGHT', type: 'string', arg: 'N', help: `unary gRPC calls in flight before new ones get RESOURCE_EXHAUSTED; 0 = no limit (default ${DEFAULT_MAX_IN_FLIGHT})` },
  { flag: 'help', type: 'boolean', help: 'show this help' },
];

export function serveUsage(): string {
  const rows = SERVE_SETTINGS.map((s) => {
    const left = `--${s.flag}${s.arg ? ` ${s.arg}` : ''}`;
    return `  ${left.padEnd(34)} ${s.help}${s.env ? ` [${s.env}]` : ''}`;
  });
  return `Usage: charter serve [options]\n\nRuns the policy decision point (gRPC + HTTP). Flags win over environment variables.\n\nOptions:\n${rows.join('\n')}\n`;
}

export type ServeConfigResult = { kind: 'help' } | { kind: 'error'; message: string } | { kind: 'ok'; config: ServeConfig };

class ConfigError extends Error {}

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function truthy(text: string | undefined): boolean {
  return text !== undefined && /^(1|true|yes|on)$/i.test(text.trim());
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export function parseServeArgs(args: string[], env: NodeJS.ProcessEnv = process.env): ServeConfigResult {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
    for (const s of SERVE_SETTINGS) options[s.flag] = { type: s.type, ...(s.multiple ? { multiple: true } : {}) };
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (err) {
    return { kind: 'error', message: `${(err as Error).message}\nRun \`charter serve --help\` for the options.` };
  }
  if (values.help) return { kind: 'help' };
  // flag, else env
  const str = (flag: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const setting = SERVE_SETTINGS.find((s) => s.flag === flag);
    const e = setting?.env ? env[setting.env] : undefined;
    return e === undefined || e === '' ? undefined : e;
  };
  const bool = (flag: string): boolean => {
    if (values[flag] === true) return true;
    const setting = SERVE_SETTINGS.find((s) => s.flag === flag);
    return setting?.env ? truthy(env[setting.env]) : false;
  };
  try {
    const host = str('host') ?? '127.0.0.1';
    const logLevel = (str('log-level') ?? 'info').toLowerCase();
    if (!LEVELS.has(logLevel)) throw new ConfigError(`--log-level must be one of ${[...LEVELS].join(', ')}, got ${logLevel}`);
    const rateText = str('decision-log-sample-rate');
    const rate = rateText === undefined ? 1 : Number(rateText);
    if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw new ConfigError(`--decision-log-sample-rate must be a number from 0 to 1, got ${JSON.stringify(rateText)}`);
    const cert = str('tls-cert');
    const key = str('tls-key');
    const ca = str('tls-ca');
    if ((cert === undefined) !== (key === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
    if (ca !== undefined && cert === undefined) throw new ConfigError('--tls-ca (mTLS) needs --tls-cert and --tls-key');
    const flagIds = values['admin-spiffe-id'];
    const adminSpiffeIds = Array.isArray(flagIds) && flagIds.length > 0 ? flagIds : splitList(env.CHARTER_ADMIN_SPIFFE_IDS);
    if (adminSpiffeIds.length > 0 && ca === undefined) throw new ConfigError('--admin-spiffe-id needs mTLS (--tls-cert, --tls-key and --tls-ca)');
    for (const id of adminSpiffeIds) {
      if (!id.startsWith('spiffe://')) throw new ConfigError(`--admin-spiffe-id must be a SPIFFE ID (spiffe://...), got ${JSON.stringify(id)}`);
    }
    const adminInsecureLoopback = bool('admin-insecure-loopback');
    if (adminInsecureLoopback && !isLoopbackHost(host)) {
      throw new ConfigError(`--admin-insecure-loopback is only allowed on a loopback host (127.0.0.1, ::1, localhost), not ${host}`);
    }
    const adminToken = str('admin-token');
    if (adminToken !== undefined && adminToken.length < 16) throw new ConfigError('--admin-token must be at least 16 characters');
    const httpApiKey = str('http-api-key');
    const keyProblem = httpApiKey === undefined ? undefined : apiKeyProblem(httpApiKey);
    if (keyProblem) throw new ConfigError(keyProblem);
    const ttl = str('default-cache-ttl-ms');
    const config: ServeConfig = {
      host,
      grpcPort: integer('--grpc-port', str('grpc-port'), 50051, 0, 65535),
      httpPort: integer('--http-port', str('http-port'), 8080, -1, 65535),
      policiesDir: str('policies'),
      dataDir: str('data'),
      logLevel,
      decisionLog: str('decision-log') ?? 'stdout',
      decisionLogSampleRate: rate,
      redactContextKeys: splitList(str('redact-context-keys')),
      tls: cert !== undefined && key !== undefined ? { cert, key, ...(ca !== undefined ? { ca } : {}) } : undefined,
      adminSpiffeIds,
      adminToken,
      adminInsecureLoopback,
      httpApiKey,
      workers: integer('--workers', str('workers'), 1, 1, 256),
      defaultCacheTtlMs: ttl === undefined ? undefined : integer('--default-cache-ttl-ms', ttl, 0, 0, 0xffffffff),
      watchPolicies: !bool('no-watch'),
      storePollIntervalMs: integer('--store-poll-ms', str('store-poll-ms'), 150, 0, 60_000),
      shutdownGraceMs: integer('--shutdown-grace-ms', str('shutdown-grace-ms'), 10_000, 0, 600_000),
      limits: {
        maxMessageBytes: integer('--max-message-bytes', str('max-message-bytes'), DEFAULT_LIMITS.maxMessageBytes, 1024, 64 * 1024 * 1024),
        maxFieldBytes: integer('--max-field-bytes', str('max-field-bytes'), DEFAULT_LIMITS.maxFieldBytes, 16, 65536),
        maxBatchSize: integer('--max-batch-size', str('max-batch-size'), DEFAULT_LIMITS.maxBatchSize, 1, 100_000),
        maxWriteRecords: DEFAULT_LIMITS.maxWriteRecords,
      },
      maxInFlight: integer('--max-in-flight', str('max-in-flight'), DEFAULT_MAX_IN_FLIGHT, 0, 1_000_000),
    };
    return { kind: 'ok', config };
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'error', message: err.message };
    throw err;
  }
}

function splitList(text: string | undefined): string[] {
  if (!text) return [];
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
