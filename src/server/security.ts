/**
 * Transport security: TLS / mTLS credentials, the caller's SPIFFE ID from its certificate, and
 * who may call the Admin API.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { ServerCredentials, status, type Metadata } from '@grpc/grpc-js';

export interface TlsFiles {
  /** PEM certificate chain of the server. */
  cert: string;
  /** PEM private key of the server. */
  key: string;
  /** PEM CA bundle; when set, clients must present a certificate it signed (mTLS). */
  ca?: string;
}

export function serverCredentials(tls: TlsFiles | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const cert = read('--tls-cert', tls.cert);
  const key = read('--tls-key', tls.key);
  const ca = tls.ca ? read('--tls-ca', tls.ca) : null;
  return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], ca !== null);
}

/** The first `URI:spiffe://...` subject alternative name of a certificate, if any. */
export function spiffeIdOfCertificate(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string | undefined {
  const san = cert?.subjectaltname;
  if (!san) return undefined;
  // Node renders SANs as `DNS:a, URI:spiffe://td/x, IP Address:1.2.3.4`; values with commas or
  // quotes are JSON-quoted (`URI:"..."`).
  for (const part of san.split(/, (?=[A-Za-z ]+:)/)) {
    if (!part.startsWith('URI:')) continue;
    let value = part.slice(4);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    if (value.startsWith('spiffe://')) return value;
  }
  return undefined;
}

interface CallWithAuthContext {
  getAuthContext?: () => { sslPeerCertificate?: PeerCertificate } | null;
}

// One lookup per connection's certificate object, not per call.
const spiffeIdCache = new WeakMap<object, string | null>();

/** The SPIFFE ID of the mTLS peer of a call, or undefined (no TLS, no client cert, no URI SAN). */
export function peerSpiffeId(call: CallWithAuthContext): string | undefined {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  if (!cert || typeof cert !== 'object') return undefined;
  let id = spiffeIdCache.get(cert);
  if (id === undefined) {
    id = spiffeIdOfCertificate(cert) ?? null;
    spiffeIdCache.set(cert, id);
  }
  return id ?? undefined;
}

export interface AdminAccessConfig {
  /** mTLS is on (a client CA is configured). */
  mtls: boolean;
  /** SPIFFE IDs allowed to call Admin (mTLS only). */
  adminSpiffeIds: string[];
  /** A bearer token allowed to call Admin (`authorization: Bearer <token>`). */
  adminToken?: string;
  /** Any caller may use Admin: only allowed when the server listens on loopback. */
  adminInsecureLoopback: boolean;
}

export interface AccessDenied {
  code: status;
  details: string;
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Decides whether a call may use the Admin API; see docs/server.md "Admin access". */
export class AdminGuard {
  private readonly ids: Set<string>;
  private readonly tokenDigest: Buffer | undefined;

  constructor(private readonly config: AdminAccessConfig) {
    this.ids = new Set(config.adminSpiffeIds);
    this.tokenDigest = config.adminToken ? digest(config.adminToken) : undefined;
  }

  check(call: CallWithAuthContext & { metadata: Metadata }): AccessDenied | undefined {
    if (this.config.adminInsecureLoopback) return undefined;
    if (this.config.mtls && this.ids.size > 0) {
      const id = peerSpiffeId(call);
      if (id !== undefined && this.ids.has(id)) return undefined;
      if (this.tokenDigest === undefined) {
        return {
          code: status.PERMISSION_DENIED,
          details:
            id === undefined
              ? 'Admin API: the client certificate has no SPIFFE ID (URI SAN)'
              : `Admin API: ${id} is not an admin identity (configure --admin-spiffe-id)`,
        };
      }
    }
    if (this.tokenDigest !== undefined) {
      const header = call.metadata.get('authorization')[0];
      const value = typeof header === 'string' ? header : header?.toString('utf8');
      if (!value) return { code: status.UNAUTHENTICATED, details: 'Admin API: missing "authorization: Bearer <token>" metadata' };
      const m = /^Bearer\s+(.+)$/i.exec(value);
      if (!m) return { code: status.UNAUTHENTICATED, details: 'Admin API: authorization metadata must be "Bearer <token>"' };
      // Compare fixed-length digests so neither the length nor the content leaks through timing.
      if (timingSafeEqual(digest(m[1].trim()), this.tokenDigest)) return undefined;
      return { code: status.PERMISSION_DENIED, details: 'Admin API: invalid token' };
    }
    return {
      code: status.PERMISSION_DENIED,
      details:
        'Admin API is disabled: start the server with mTLS and --admin-spiffe-id, with --admin-token, or (loopback only) --admin-insecure-loopback',
    };
  }
}
