/**
 * CharterClient: `check()` answers from a local decision cache when it can, otherwise asks the
 * PDP (`Authorize`), sharing one call between identical concurrent checks. It never throws
 * because the PDP is unreachable or slow: such a check answers DENY with the reason (fail
 * closed), counts it and tells `onError`. An invalidation stream keeps the cache honest.
 */
import { readFileSync } from 'node:fs';
import { Metadata, credentials, status, type ChannelCredentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { pino, type Logger } from 'pino';
import { DecisionCache } from './decision-cache.js';
import { InvalidationStream } from './invalidation-stream.js';
import { cacheKey, cacheable } from './key.js';
import { objectToStruct, stubConstructors, type AuthorizeRequestMessage, type AuthorizeResponseMessage } from './proto.js';
import { failClosed, resultOf, type CheckResult } from './result.js';

export interface CheckRequest {
  /** SPIFFE ID of the caller, e.g. spiffe://personnel.acme.test/eid/1001. */
  actor: string;
  action: string;
  /** UON, e.g. uon://payments/payment/p-100. */
  resource: string;
  /** Request facts (ip, country, ...): policies read them as env.<key>. */
  context?: Record<string, unknown>;
  /** Attributes the caller knows about the resource; stored ones win on conflict. */
  resourceAttributes?: Record<string, unknown>;
  /** Facts the caller asserts about the actor (verified token claims). */
  actorClaims?: Record<string, unknown>;
}

export interface TlsOptions {
  /** CA bundle to verify the server: PEM text, a Buffer, or a file path. Omitted: system roots. */
  ca?: string | Buffer;
  /** Client certificate and key for mTLS (PEM text, Buffer, or file path). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name to verify in the server certificate instead of the target host. */
  serverName?: string;
}

export interface CharterClientOptions {
  /** The server's gRPC address: host:port, or unix:/path. */
  target: string;
  cache?: {
    /** Most cached decisions (default 10 000). */
    maxEntries?: number;
    /** Longest time a decision is cached, whatever the server allows (default 60 000 ms). */
    ttlMs?: number;
  };
  /** Deadline of each Authorize / BatchAuthorize call (default 500 ms); past it, DENY. */
  deadlineMs?: number;
  /** TLS to the server; true = TLS with the system roots. Default: plaintext. */
  tls?: TlsOptions | true;
  /** While cut off from the invalidation stream, cached ALLOWs older than this are not served (default 1000 ms). */
  staleAllowMs?: number;
  /** Subscribe to invalidations (default true). Without them ALLOWs live at most `staleAllowMs`. */
  invalidations?: boolean;
  /** Resubscription backoff after the stream fails: first and largest delay (default 50 / 2000 ms). */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** A stream silent this long (the server sends heartbeats every 500 ms) counts as cut off. */
  invalidationSilenceMs?: number;
  /** Called for every failed call (once per call, not per coalesced check) and stream failure. */
  onError?: (error: CharterClientError) => void;
  /** Called when the invalidation stream connects or is cut off. */
  onStreamState?: (connected: boolean) => void;
  /** Sent with every call (e.g. an authorization token for a gateway). */
  metadata?: Record<string, string>;
  logger?: Logger;
}

/** A failure the client answered with DENY (or a stream failure), as `onError` sees it. */
export class CharterClientError extends Error {
  constructor(
    /** gRPC status name (UNAVAILABLE, DEADLINE_EXCEEDED, ...) or CLOSED / BAD_RESPONSE. */
    readonly code: string,
    message: string,
    /** Which part failed. */
    readonly source: 'authorize' | 'batch' | 'stream',
    /** How many checks the failed call answered with DENY. */
    readonly checks: number,
  ) {
    super(message);
    this.name = 'CharterClientError';
  }
}

export interface ClientStats {
  hits: number;
  misses: number;
  evictions: number;
  /** Entries dropped by invalidations. */
  invalidated: number;
  /** Cached ALLOWs not served because the stream was down and they were older than staleAllowMs. */
  staleAllowsRefused: number;
  /** Checks that joined an identical call already in flight. */
  coalesced: number;
  /** Authorize + BatchAuthorize calls made. */
  rpcs: number;
  /** Failed calls (each answered its checks with DENY). */
  errors: number;
  errorsByCode: Record<string, number>;
  /** Checks answered DENY because the PDP did not decide. */
  failedClosed: number;
  invalidationEvents: number;
  streamConnected: boolean;
  streamReconnects: number;
  size: number;
}

const DEFAULTS = { maxEntries: 10_000, ttlMs: 60_000, deadlineMs: 500, staleAllowMs: 1_000, maxBatch: 1_000, invalidationSilenceMs: 2_000 };

const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(status).map(([name, code]) => [code, name])) as Record<number, string>;

function pem(value: string | Buffer | undefined): Buffer | null {
  if (value === undefined) return null;
  if (Buffer.isBuffer(value)) return value;
  return value.includes('-----BEGIN') ? Buffer.from(value) : readFileSync(value);
}

function channelCredentials(tls: CharterClientOptions['tls']): ChannelCredentials {
  if (tls === undefined) return credentials.createInsecure();
  if (tls === true) return credentials.createSsl();
  return credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
}

type Unary = (req: unknown, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => void;

interface Deferred {
  promise: Promise<CheckResult>;
  resolve: (r: CheckResult) => void;
}

function deferred(): Deferred {
  let resolve!: (r: CheckResult) => void;
  const promise = new Promise<CheckResult>((r) => (resolve = r));
  return { promise, resolve };
}

function toMessage(r: CheckRequest): AuthorizeRequestMessage {
  return {
    actor: r.actor,
    action: r.action,
    resource: r.resource,
    context: r.context ? objectToStruct(r.context) : null,
    resourceAttributes: r.resourceAttributes ? objectToStruct(r.resourceAttributes) : null,
    actorClaims: r.actorClaims ? objectToStruct(r.actorClaims) : null,
  };
}

function badRequest(r: CheckRequest | undefined): TypeError | undefined {
  if (r === null || typeof r !== 'object') return new TypeError('check: the request must be an object');
  if (typeof r.actor !== 'string' || typeof r.action !== 'string' || typeof r.resource !== 'string') {
    return new TypeError('check: actor, action and resource must be strings');
  }
  return undefined;
}

export class CharterClient {
  private readonly cache: DecisionCache;
  private readonly authorization: Client;
  private readonly stream: InvalidationStream | undefined;
  private readonly inflight = new Map<string, Promise<CheckResult>>();
  private readonly deadlineMs: number;
  private readonly logger: Logger;
  private readonly options: CharterClientOptions;
  private readonly authorize: Unary;
  private readonly batchAuthorize: Unary;
  private readonly counters = { coalesced: 0, rpcs: 0, errors: 0, failedClosed: 0, invalidationEvents: 0 };
  private readonly errorsByCode: Record<string, number> = {};
  private readonly streamWaiters = new Set<(connected: boolean) => void>();
  private closed = false;

  constructor(options: CharterClientOptions) {
    if (!options || typeof options.target !== 'string' || options.target.length === 0) throw new TypeError('CharterClient: target (host:port) is required');
    this.options = options;
    this.logger = options.logger ?? pino({ enabled: false });
    this.deadlineMs = options.deadlineMs ?? DEFAULTS.deadlineMs;
    const maxEntries = options.cache?.maxEntries ?? DEFAULTS.maxEntries;
    const ttlMs = options.cache?.ttlMs ?? DEFAULTS.ttlMs;
    if (!(maxEntries >= 1) || !(ttlMs >= 1)) throw new RangeError('CharterClient: cache.maxEntries and cache.ttlMs must be at least 1');
    this.cache = new DecisionCache({ maxEntries, ttlMs, staleAllowMs: options.staleAllowMs ?? DEFAULTS.staleAllowMs });

    const { Authorization, Invalidation } = stubConstructors();
    const creds = channelCredentials(options.tls);
    const reconnectMax = options.reconnect?.maxMs ?? 2_000;
    const channelOptions: Record<string, unknown> = {
      // Come back quickly after a server restart (grpc's default backoff grows to two minutes).
      'grpc.initial_reconnect_backoff_ms': Math.min(options.reconnect?.initialMs ?? 50, reconnectMax) || 50,
      'grpc.max_reconnect_backoff_ms': reconnectMax,
      // Notice a silently dead connection (the stream would look alive) within ~15 s.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    };
    if (options.tls !== undefined && options.tls !== true && options.tls.serverName) {
      channelOptions['grpc.ssl_target_name_override'] = options.tls.serverName;
    }
    this.authorization = new Authorization(options.target, creds, channelOptions);
    const methods = this.authorization as unknown as Record<string, Unary>;
    this.authorize = methods.Authorize.bind(this.authorization);
    this.batchAuthorize = methods.BatchAuthorize.bind(this.authorization);

    if (options.invalidations !== false) {
      // The same channel (one connection): an event and a response leave the server in order.
      const invalidation = new Invalidation(options.target, creds, { ...channelOptions, channelOverride: this.authorization.getChannel() });
      this.stream = new InvalidationStream({
        stub: invalidation,
        metadata: () => this.metadata(),
        initialBackoffMs: options.reconnect?.initialMs ?? 50,
        maxBackoffMs: reconnectMax,
        silenceTimeoutMs: options.invalidationSilenceMs ?? DEFAULTS.invalidationSilenceMs,
        onEvent: (event) => {
          if (event.heartbeat) return; // the stream is alive; nothing changed
          this.counters.invalidationEvents++;
          this.cache.apply(event);
          // A call already in flight may carry an answer this event makes stale: checks asked
          // from now on must not join it (its own callers still get it; it is not cached).
          this.inflight.clear();
        },
        onConnected: (connected) => {
          this.cache.setConnected(connected);
          this.logger.info({ target: options.target, connected }, connected ? 'invalidation stream connected' : 'invalidation stream cut off');
          for (const waiter of this.streamWaiters) waiter(connected);
          this.safely(() => options.onStreamState?.(connected));
        },
        onError: (err) => {
          const code = typeof (err as ServiceError).code === 'number' ? (STATUS_NAMES[(err as ServiceError).code] ?? 'UNKNOWN') : 'STREAM_ENDED';
          this.logger.warn({ target: options.target, code, err: err.message }, 'invalidation stream failed; resubscribing');
          this.report(new CharterClientError(code, err.message, 'stream', 0));
        },
      });
      this.stream.start();
    }
  }

  /**
   * May `actor` do `action` on `resource`? Answers from the cache when it can. Never rejects
   * because the PDP is unreachable, slow or refuses the request: that answer is a DENY with
   * `error` set. Rejects only for a request that is not one (missing strings).
   */
  check(request: CheckRequest): Promise<CheckResult> {
    if (typeof request !== 'object' || request === null) return Promise.reject(new TypeError('check: the request must be an object'));
    const { actor, action, resource } = request;
    if (typeof actor !== 'string' || typeof action !== 'string' || typeof resource !== 'string') {
      return Promise.reject(new TypeError('check: actor, action and resource must be strings'));
    }
    const key = cacheKey(actor, action, resource, request.context, request.resourceAttributes, request.actorClaims);
    const entry = this.cache.lookup(key, actor.length, action.length, resource.length);
    if (entry !== undefined) return entry.hit;
    return this.miss(key, request);
  }

  private miss(key: string, request: CheckRequest): Promise<CheckResult> {
    if (this.closed) return Promise.resolve(this.closedAnswer(1));
    if (!cacheable(request.actor, request.action, request.resource)) return this.fetchOne(undefined, request);
    const pending = this.inflight.get(key);
    if (pending !== undefined) {
      this.counters.coalesced++;
      return pending;
    }
    const promise = this.fetchOne(key, request);
    this.inflight.set(key, promise);
    void promise.then(() => {
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    });
    return promise;
  }

  /**
   * Many checks; the ones the cache cannot answer go to the PDP in one BatchAuthorize call
   * (split at 1000). Answers come back in request order.
   */
  checkMany(requests: readonly CheckRequest[]): Promise<CheckResult[]> {
    if (!Array.isArray(requests)) return Promise.reject(new TypeError('checkMany: expected an array of requests'));
    const answers = new Array<Promise<CheckResult>>(requests.length);
    const missing: { key: string | undefined; request: CheckRequest; done: Deferred }[] = [];
    const inBatch = new Map<string, Promise<CheckResult>>();
    for (let i = 0; i < requests.length; i++) {
      const request = requests[i];
      const problem = badRequest(request);
      if (problem !== undefined) return Promise.reject(new TypeError(`checkMany: requests[${i}]: ${problem.message.replace(/^check: /, '')}`));
      const full = cacheKey(request.actor, request.action, request.resource, request.context, request.resourceAttributes, request.actorClaims);
      const entry = this.cache.lookup(full, request.actor.length, request.action.length, request.resource.length);
      if (entry !== undefined) {
        answers[i] = entry.hit;
        continue;
      }
      const key = cacheable(request.actor, request.action, request.resource) ? full : undefined;
      if (key !== undefined) {
        const pending = this.inflight.get(key) ?? inBatch.get(key);
        if (pending !== undefined) {
          this.counters.coalesced++;
          answers[i] = pending;
          continue;
        }
      }
      const done = deferred();
      answers[i] = done.promise;
      missing.push({ key, request, done });
      if (key !== undefined) inBatch.set(key, done.promise);
    }
    if (missing.length > 0) {
      if (this.closed) {
        const answer = this.closedAnswer(missing.length);
        for (const m of missing) m.done.resolve(answer);
      } else {
        for (const m of missing) {
          if (m.key === undefined) continue;
          const key = m.key;
          const promise = m.done.promise;
          this.inflight.set(key, promise);
          void promise.then(() => {
            if (this.inflight.get(key) === promise) this.inflight.delete(key);
          });
        }
        for (let start = 0; start < missing.length; start += DEFAULTS.maxBatch) this.fetchBatch(missing.slice(start, start + DEFAULTS.maxBatch));
      }
    }
    return Promise.all(answers);
  }

  /** Resolves true once the invalidation stream delivers, false after `timeoutMs` (or when closed). */
  ready(timeoutMs = 5_000): Promise<boolean> {
    if (this.stream === undefined || this.closed) return Promise.resolve(false);
    if (this.cache.streamConnected) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        this.streamWaiters.delete(waiter);
        resolve(ok);
      };
      const waiter = (connected: boolean): void => {
        if (connected || this.closed) finish(connected);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.streamWaiters.add(waiter);
    });
  }

  /** The invalidation stream is delivering (the cache serves ALLOWs for their full TTL). */
  get streamConnected(): boolean {
    return this.cache.streamConnected;
  }

  stats(): ClientStats {
    const c = this.cache.counters;
    return {
      hits: c.hits,
      misses: c.misses,
      evictions: c.evictions,
      invalidated: c.invalidated,
      staleAllowsRefused: c.staleAllowsRefused,
      coalesced: this.counters.coalesced,
      rpcs: this.counters.rpcs,
      errors: this.counters.errors,
      errorsByCode: { ...this.errorsByCode },
      failedClosed: this.counters.failedClosed,
      invalidationEvents: this.counters.invalidationEvents,
      streamConnected: this.cache.streamConnected,
      streamReconnects: this.stream?.reconnects ?? 0,
      size: this.cache.size,
    };
  }

  /** Drops every cached decision. */
  clearCache(): void {
    this.cache.flush();
  }

  /** Stops the stream and closes the channel; later checks answer DENY (CLOSED). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream?.close();
    for (const waiter of this.streamWaiters) waiter(false);
    this.cache.flush();
    this.authorization.close();
  }

  /** One Authorize call; `key` undefined: the answer is not cached. */
  private fetchOne(key: string | undefined, request: CheckRequest): Promise<CheckResult> {
    this.counters.rpcs++;
    const sentAt = performance.now();
    return new Promise<CheckResult>((resolve) => {
      try {
        this.authorize(toMessage(request), this.metadata(), { deadline: Date.now() + this.deadlineMs }, (err, res) => {
          if (err) {
            resolve(this.failure(err, 'authorize', 1));
            return;
          }
          resolve(this.answer(key, request, res as AuthorizeResponseMessage, sentAt));
        });
      } catch (err) {
        // Serialization of an unusual context value, a closed channel: still a DENY.
        resolve(this.failure(err as Error, 'authorize', 1));
      }
    });
  }

  private fetchBatch(items: { key: string | undefined; request: CheckRequest; done: Deferred }[]): void {
    this.counters.rpcs++;
    const sentAt = performance.now();
    const failAll = (err: ServiceError | Error): void => {
      const answer = this.failure(err, 'batch', items.length);
      for (const item of items) item.done.resolve(answer);
    };
    try {
      this.batchAuthorize({ requests: items.map((i) => toMessage(i.request)) }, this.metadata(), { deadline: Date.now() + this.deadlineMs }, (err, res) => {
        if (err) return failAll(err);
        const responses = (res as { responses?: AuthorizeResponseMessage[] } | undefined)?.responses ?? [];
        if (responses.length !== items.length) {
          return failAll(Object.assign(new Error(`BatchAuthorize answered ${responses.length} of ${items.length} requests`), { code: 'BAD_RESPONSE' }));
        }
        for (let i = 0; i < items.length; i++) items[i].done.resolve(this.answer(items[i].key, items[i].request, responses[i], sentAt));
      });
    } catch (err) {
      failAll(err as Error);
    }
  }

  private answer(key: string | undefined, request: CheckRequest, res: AuthorizeResponseMessage, sentAt: number): CheckResult {
    const result = resultOf(res, false);
    if (key !== undefined && !this.closed) this.cache.store(key, request, res, result, sentAt);
    return result;
  }

  private failure(err: ServiceError | Error, source: 'authorize' | 'batch', checks: number): CheckResult {
    const raw = (err as { code?: unknown }).code;
    const code = typeof raw === 'number' ? (STATUS_NAMES[raw] ?? 'UNKNOWN') : typeof raw === 'string' ? raw : 'INTERNAL';
    const message = (err as ServiceError).details || err.message || String(err);
    this.counters.errors++;
    this.counters.failedClosed += checks;
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
    this.logger.warn({ target: this.options.target, code, source, checks, err: message }, 'Charter did not decide; answering DENY');
    this.report(new CharterClientError(code, message, source, checks));
    return failClosed(code, message);
  }

  private closedAnswer(checks: number): CheckResult {
    this.counters.failedClosed += checks;
    return failClosed('CLOSED', 'the client is closed');
  }

  private report(error: CharterClientError): void {
    const hook = this.options.onError;
    if (hook) this.safely(() => hook(error));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err }, 'a CharterClient hook threw; ignoring it');
    }
  }

  private metadata(): Metadata {
    const md = new Metadata();
    const extra = this.options.metadata;
    if (extra) for (const k of Object.keys(extra)) md.set(k, extra[k]);
    return md;
  }
}
