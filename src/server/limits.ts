/**
 * Input limits and shape checks at the edge. A request that fails them is not a question the
 * decision point can answer, so it gets INVALID_ARGUMENT with a message naming the field.
 */

export interface InputLimits {
  /** Largest accepted gRPC message, bytes. */
  maxMessageBytes: number;
  /** Longest actor / action / resource, UTF-8 bytes. */
  maxFieldBytes: number;
  /** Most requests in one BatchAuthorize call. */
  maxBatchSize: number;
  /** Most records in one Admin.Write call. */
  maxWriteRecords: number;
}

export const DEFAULT_LIMITS: InputLimits = {
  maxMessageBytes: 1024 * 1024,
  maxFieldBytes: 1024,
  maxBatchSize: 1000,
  maxWriteRecords: 10_000,
};

// C0 controls, DEL and C1 controls: never part of an identifier, and they break log lines.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why `value` is not an acceptable actor / action / resource, or undefined when it is.
 * `what` names the field in the message ("actor", "requests[3].resource").
 */
export function checkIdentifier(what: string, value: unknown, maxBytes: number): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return `${what} is required`;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: only measure when it could be too long.
  if (value.length > maxBytes || (value.length * 3 > maxBytes && Buffer.byteLength(value) > maxBytes)) {
    return `${what} is longer than ${maxBytes} bytes`;
  }
  if (CONTROL.test(value)) return `${what} contains a control character`;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first === 32 || last === 32) return `${what} has leading or trailing spaces`;
  if (value.startsWith('spiffe://')) {
    const why = spiffeIdProblem(value);
    if (why) return `${what} is not a valid SPIFFE ID (${why}): ${JSON.stringify(value)}`;
  } else if (value.startsWith('uon://')) {
    const rest = value.slice('uon://'.length);
    const slash = rest.indexOf('/');
    if (rest.length === 0 || slash === 0) return `${what} is not a valid UON (expected uon://<service>/<type>/<id>): ${JSON.stringify(value)}`;
  }
  return undefined;
}

// The common case in one test: a valid trust domain and path segments without "." or "..".
const PLAIN_SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]+(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)*$/;

/** Per https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md (trust domain + path). */
export function spiffeIdProblem(id: string): string | undefined {
  if (PLAIN_SPIFFE_ID.test(id)) return undefined;
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const td = slash === -1 ? rest : rest.slice(0, slash);
  if (td.length === 0) return 'empty trust domain';
  if (!/^[a-z0-9._-]+$/.test(td)) return 'trust domain may only hold lowercase letters, digits, ".", "-" and "_"';
  if (slash === -1) return undefined;
  const path = rest.slice(slash + 1);
  if (path.length === 0) return 'trailing "/"';
  for (const segment of path.split('/')) {
    if (segment.length === 0) return 'empty path segment';
    if (segment === '.' || segment === '..') return 'path segment "." or ".."';
    if (!/^[A-Za-z0-9._-]+$/.test(segment)) return 'path may only hold letters, digits, ".", "-" and "_"';
  }
  return undefined;
}
