/**
 * The HTTP edges of the AuthZEN API: the request id, the JSON body (content type, size,
 * syntax), the API key, and JSON answers that always echo the request id.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nextRequestId } from '../../pdp/index.js';
import { AuthzenError, isObject, type Json } from './request.js';

// Header values node accepts back in setHeader: tab, visible ASCII, obs-text.
const SAFE_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{1,256}$/;

/** The caller's X-Request-ID (echoed as is), or a fresh one when absent or unusable. */
export function requestIdOf(req: IncomingMessage): string {
  const value = req.headers['x-request-id'];
  if (typeof value === 'string' && SAFE_HEADER_VALUE.test(value)) return value;
  return nextRequestId();
}

export function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string, extra?: Record<string, string>): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': requestId,
  };
  if (extra !== undefined) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string, requestId: string, extra?: Record<string, string>): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, status, { error: { status, message } }, requestId, extra);
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * Reads the body as text: 400 for a content type other than JSON (as the certification
 * scenario requires, not 415) or an empty body; 413 when it is larger than `limitBytes`.
 */
export function readJsonText(req: IncomingMessage, limitBytes: number): Promise<string> {
  const type = req.headers['content-type'];
  if (type === undefined || !JSON_TYPE.test(type)) {
    return Promise.reject(new AuthzenError(400, `content-type must be application/json${type === undefined ? '' : `, not ${type.slice(0, 80)}`}`));
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    return Promise.reject(new AuthzenError(413, `request body is larger than ${limitBytes} bytes`));
  }
  return new Promise<string>((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        req.off('data', onData);
        req.off('end', onEnd);
        // Keep draining (and dropping) the rest so the 413 can be written.
        req.resume();
        reject(new AuthzenError(413, `request body is larger than ${limitBytes} bytes`));
        return;
      }
      if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    const onEnd = (): void => {
      if (size === 0) {
        reject(new AuthzenError(400, 'request body is empty; expected a JSON object'));
        return;
      }
      resolve((chunks === undefined ? (first as Buffer) : Buffer.concat(chunks, size)).toString('utf8'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/** Parses a body as a JSON object: 400 for invalid JSON or another JSON value. */
export function parseJsonObject(text: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AuthzenError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new AuthzenError(400, 'request body must be a JSON object');
  return value;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * The optional API key (`Authorization: Bearer <key>`). Fixed-length digests are compared in
 * constant time, so neither the key's length nor its content leaks through timing.
 */
export class ApiKeyCheck {
  private readonly keyDigest: Buffer | undefined;

  constructor(key: string | undefined) {
    this.keyDigest = key === undefined || key === '' ? undefined : digest(key);
  }

  get enabled(): boolean {
    return this.keyDigest !== undefined;
  }

  /** Why the request is not authenticated, or undefined when it is (or no key is set). */
  problem(req: IncomingMessage): string | undefined {
    const expected = this.keyDigest;
    if (expected === undefined) return undefined;
    const header = req.headers.authorization;
    if (header === undefined || header === '') return 'missing "Authorization: Bearer <API key>" header';
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m === null) return 'the Authorization header must be "Bearer <API key>"';
    if (!timingSafeEqual(digest(m[1]), expected)) return 'invalid API key';
    return undefined;
  }
}

/** Minimum length of an API key: short keys are guessable. */
export const MIN_API_KEY_LENGTH = 16;

/** Why `key` cannot be used as the HTTP API key, or undefined. */
export function apiKeyProblem(key: string): string | undefined {
  if (key.length < MIN_API_KEY_LENGTH) return `--http-api-key must be at least ${MIN_API_KEY_LENGTH} characters`;
  if (/\s/.test(key)) return '--http-api-key must not contain whitespace';
  return undefined;
}
