/**
 * `charter sidecar` settings: flags, then CHARTER_* environment variables, then defaults.
 */
import { parseArgs } from 'node:util';

export interface SidecarConfig {
  /** The Charter server: host:port (or unix:/path). */
  upstream: string;
  /** Where to serve charter.v1.Authorization: host:port or unix:/path. */
  listen: string;
  /** HTTP port for /metrics, /healthz, /readyz on the listen host (127.0.0.1 for a unix socket); -1 = off. */
  httpPort: number;
  httpHost: string;
  logLevel: string;
  cacheMaxEntries: number;
  cacheTtlMs: number;
  deadlineMs: number;
  staleAllowMs: number;
  shutdownGraceMs: number;
  tls: { ca?: string; cert?: string; key?: string; serverName?: string } | undefined;
}

interface Setting {
  flag: string;
  env: string;
  arg?: string;
  boolean?: boolean;
  help: string;
}

const SETTINGS: Setting[] = [
  { flag: 'upstream', env: 'CHARTER_UPSTREAM', arg: 'HOST:PORT', help: 'the Charter server to ask (required)' },
  { flag: 'listen', env: 'CHARTER_SIDECAR_LISTEN', arg: 'ADDR', help: 'where to serve: unix:PATH or 127.0.0.1:PORT (port 0 = pick one; default 127.0.0.1:50151)' },
  { flag: 'http-port', env: 'CHARTER_SIDECAR_HTTP_PORT', arg: 'N', help: 'HTTP port for /metrics, /healthz, /readyz; 0 = pick one, -1 = off (default -1)' },
  { flag: 'http-host', env: 'CHARTER_SIDECAR_HTTP_HOST', arg: 'HOST', help: 'HTTP listen address (default: the --listen host, 127.0.0.1 for unix:)' },
  { flag: 'cache-max-entries', env: 'CHARTER_CACHE_MAX_ENTRIES', arg: 'N', help: 'most cached decisions (default 100000)' },
  { flag: 'cache-ttl-ms', env: 'CHARTER_CACHE_TTL_MS', arg: 'MS', help: 'longest a decision is cached, whatever the server allows (default 60000)' },
  { flag: 'deadline-ms', env: 'CHARTER_DEADLINE_MS', arg: 'MS', help: 'deadline of each call to the server; past it the answer is DENY (default 500)' },
  { flag: 'stale-allow-ms', env: 'CHARTER_STALE_ALLOW_MS', arg: 'MS', help: 'while cut off from invalidations, cached ALLOWs older than this are not served (default 1000)' },
  { flag: 'shutdown-grace-ms', env: 'CHARTER_SHUTDOWN_GRACE_MS', arg: 'MS', help: 'how long SIGTERM waits for in-flight calls (default 5000)' },
  { flag: 'log-level', env: 'CHARTER_LOG_LEVEL', arg: 'LEVEL', help: 'trace, debug, info, warn, error, fatal, silent (default info)' },
  { flag: 'tls-ca', env: 'CHARTER_UPSTREAM_TLS_CA', arg: 'FILE', help: 'CA bundle to verify the server (enables TLS to the upstream)' },
  { flag: 'tls-cert', env: 'CHARTER_UPSTREAM_TLS_CERT', arg: 'FILE', help: 'client certificate (mTLS to the upstream)' },
  { flag: 'tls-key', env: 'CHARTER_UPSTREAM_TLS_KEY', arg: 'FILE', help: 'client private key (mTLS to the upstream)' },
  { flag: 'tls-server-name', env: 'CHARTER_UPSTREAM_TLS_SERVER_NAME', arg: 'NAME', help: 'name to verify in the server certificate' },
];

export function sidecarUsage(): string {
  const rows = SETTINGS.map((s) => `  ${`--${s.flag}${s.arg ? ` ${s.arg}` : ''}`.padEnd(30)} ${s.help} [${s.env}]`);
  return `Usage: charter sidecar --upstream HOST:PORT --listen unix:PATH|127.0.0.1:PORT [--http-port N] [options]

Serves charter.v1.Authorization (Authorize, BatchAuthorize) and grpc.health.v1.Health locally,
answered from a decision cache kept fresh by the server's invalidation stream, for services
not written in Node. Fails closed: when the server cannot be asked, the answer is DENY.

Options:
${rows.join('\n')}
  --help                         show this help
`;
}

export type SidecarConfigResult = { kind: 'help' } | { kind: 'error'; message: string } | { kind: 'ok'; config: SidecarConfig };

class ConfigError extends Error {}

function integer(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined || text === '') return fallback;
  if (!/^-?\d+$/.test(text.trim())) throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/** host:port, [v6]:port or unix:/path. */
export function checkAddress(flag: string, value: string): void {
  if (value.startsWith('unix:')) {
    if (value.length <= 'unix:'.length) throw new ConfigError(`${flag} unix: needs a path`);
    return;
  }
  if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):\d{1,5}$/.test(value)) throw new ConfigError(`${flag} must be HOST:PORT or unix:PATH, got ${JSON.stringify(value)}`);
  const port = Number(value.slice(value.lastIndexOf(':') + 1));
  if (port > 65535) throw new ConfigError(`${flag}: port ${port} is out of range`);
}

export function listenHost(listen: string): string {
  if (listen.startsWith('unix:')) return '127.0.0.1';
  const host = listen.slice(0, listen.lastIndexOf(':'));
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

export function parseSidecarArgs(args: string[], env: NodeJS.ProcessEnv = process.env): SidecarConfigResult {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
    for (const s of SETTINGS) options[s.flag] = { type: s.boolean ? 'boolean' : 'string' };
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (err) {
    return { kind: 'error', message: `${(err as Error).message}\nRun \`charter sidecar --help\` for the options.` };
  }
  if (values.help) return { kind: 'help' };
  const str = (flag: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[SETTINGS.find((s) => s.flag === flag)!.env];
    return e === undefined || e === '' ? undefined : e;
  };
  try {
    const upstream = str('upstream');
    if (upstream === undefined) throw new ConfigError('--upstream HOST:PORT is required');
    checkAddress('--upstream', upstream);
    const listen = str('listen') ?? '127.0.0.1:50151';
    checkAddress('--listen', listen);
    const logLevel = (str('log-level') ?? 'info').toLowerCase();
    if (!LEVELS.has(logLevel)) throw new ConfigError(`--log-level must be one of ${[...LEVELS].join(', ')}, got ${logLevel}`);
    const ca = str('tls-ca');
    const cert = str('tls-cert');
    const key = str('tls-key');
    const serverName = str('tls-server-name');
    if ((cert === undefined) !== (key === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
    const tls = ca !== undefined || cert !== undefined ? { ca, cert, key, serverName } : undefined;
    return {
      kind: 'ok',
      config: {
        upstream,
        listen,
        httpPort: integer('--http-port', str('http-port'), -1, -1, 65535),
        httpHost: str('http-host') ?? listenHost(listen),
        logLevel,
        cacheMaxEntries: integer('--cache-max-entries', str('cache-max-entries'), 100_000, 1, 100_000_000),
        cacheTtlMs: integer('--cache-ttl-ms', str('cache-ttl-ms'), 60_000, 1, 86_400_000),
        deadlineMs: integer('--deadline-ms', str('deadline-ms'), 500, 1, 600_000),
        staleAllowMs: integer('--stale-allow-ms', str('stale-allow-ms'), 1_000, 0, 86_400_000),
        shutdownGraceMs: integer('--shutdown-grace-ms', str('shutdown-grace-ms'), 5_000, 0, 600_000),
        tls,
      },
    };
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'error', message: err.message };
    throw err;
  }
}
