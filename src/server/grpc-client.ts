/**
 * A small gRPC client over the same package definition, for the `write` and `authorize`
 * commands and for tests that drive the server. (The caching client SDK is src/client.)
 */
import { readFileSync } from 'node:fs';
import { Metadata, credentials, loadPackageDefinition, status, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { charterPackageDefinition } from './proto.js';

export interface ClientConnectionOptions {
  /** host:port */
  target: string;
  /** CA bundle to verify the server (enables TLS). */
  tlsCa?: string;
  /** Client certificate and key (mTLS). */
  tlsCert?: string;
  tlsKey?: string;
  /** Overrides the name checked against the server certificate. */
  tlsServerName?: string;
  /** Sent as `authorization: Bearer <token>` (Admin API). */
  token?: string;
}

export interface CharterClients {
  authorization: Client;
  admin: Client;
  invalidation: Client;
  metadata(): Metadata;
  close(): void;
}

function channelCredentials(o: ClientConnectionOptions): ChannelCredentials {
  if (!o.tlsCa && !o.tlsCert) return credentials.createInsecure();
  const read = (flag: string, path: string | undefined): Buffer | null => {
    if (!path) return null;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${flag} ${path}: ${(err as Error).message}`);
    }
  };
  return credentials.createSsl(read('--tls-ca', o.tlsCa), read('--tls-key', o.tlsKey), read('--tls-cert', o.tlsCert));
}

export function connect(o: ClientConnectionOptions): CharterClients {
  const ns = loadPackageDefinition(charterPackageDefinition()) as unknown as {
    charter: { v1: Record<string, new (target: string, creds: ChannelCredentials, options?: object) => Client> };
  };
  const creds = channelCredentials(o);
  const options: Record<string, unknown> = { 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
  if (o.tlsServerName) options['grpc.ssl_target_name_override'] = o.tlsServerName;
  const authorization = new ns.charter.v1.Authorization(o.target, creds, options);
  // Share one channel between the stubs.
  const channelOverride = authorization.getChannel();
  const admin = new ns.charter.v1.Admin(o.target, creds, { ...options, channelOverride });
  const invalidation = new ns.charter.v1.Invalidation(o.target, creds, { ...options, channelOverride });
  return {
    authorization,
    admin,
    invalidation,
    metadata() {
      const md = new Metadata();
      if (o.token) md.set('authorization', `Bearer ${o.token}`);
      return md;
    },
    close() {
      authorization.close();
    },
  };
}

/** Calls a unary method and resolves with its response. */
export function unaryCall<Res>(client: Client, method: string, request: unknown, metadata: Metadata, deadlineMs = 10_000): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
    if (typeof fn !== 'function') {
      reject(new Error(`no method ${method}`));
      return;
    }
    fn.call(client, request, metadata, { deadline: Date.now() + deadlineMs }, (err: ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}

/** Parses host:port, [v6]:port; says what is wrong otherwise. */
export function checkTarget(target: string | undefined): string | undefined {
  if (!target) return '--target HOST:PORT is required';
  if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):\d{1,5}$/.test(target)) return `--target must be HOST:PORT, got ${JSON.stringify(target)}`;
  return undefined;
}

/** parseArgs options shared by the commands that talk to a running server (write, authorize). */
export const CONNECTION_OPTIONS = {
  target: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-server-name': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const CONNECTION_USAGE = `  --target HOST:PORT         the server's gRPC address [CHARTER_TARGET]
  --tls-ca FILE              CA bundle to verify the server (enables TLS)
  --tls-cert FILE            client certificate (mTLS)
  --tls-key FILE             client private key (mTLS)
  --tls-server-name NAME     name to verify in the server certificate (default: the target host)`;

export function connectionOptions(values: Record<string, unknown>, env: NodeJS.ProcessEnv): ClientConnectionOptions {
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  return {
    target: s('target') ?? env.CHARTER_TARGET ?? '',
    tlsCa: s('tls-ca'),
    tlsCert: s('tls-cert'),
    tlsKey: s('tls-key'),
    tlsServerName: s('tls-server-name'),
  };
}

/** A gRPC error as one line a person can act on. */
export function describeRpcError(err: unknown, target: string): string {
  const e = err as Partial<ServiceError>;
  if (typeof e?.code === 'number') {
    const name = Object.entries(status).find(([, v]) => v === e.code)?.[0] ?? String(e.code);
    const hint = e.code === status.UNAVAILABLE ? ` (is a server running at ${target}?)` : '';
    return `${name}: ${e.details || e.message}${hint}`;
  }
  return (err as Error)?.message ?? String(err);
}
