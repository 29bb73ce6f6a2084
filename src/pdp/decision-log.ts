/**
 * The decision log: one JSON line per (sampled) decision, written through pino to an
 * asynchronous destination. The gRPC layer logs after the answer is handed to the transport,
 * so logging never delays an answer. Decisions that met condition errors are always logged.
 */
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import type { DecisionRequest } from '../policy/index.js';
import type { PdpDecision } from './decision-point.js';

export interface DecisionLogOptions {
  /** Where entries go; undefined disables the decision log. */
  logger: Logger | undefined;
  /** Fraction of decisions logged, 0..1 (default 1). */
  sampleRate?: number;
  /** `context` keys whose values are replaced by "[REDACTED]" (e.g. ip, token). */
  redactContextKeys?: string[];
  /** Random source for sampling (tests). */
  random?: () => number;
}

export interface DecisionLogEntry {
  /** The caller's request id (x-request-id metadata), if any; otherwise one is generated. */
  requestId?: string;
  request: DecisionRequest;
  decision: PdpDecision;
  latencyMs: number;
  transport: string;
  /** The mTLS peer, when known. */
  peer?: string;
}

export const REDACTED = '[REDACTED]';

// Request ids: a per-process random prefix and a counter; unique enough and nearly free.
const ID_PREFIX = randomBytes(4).toString('hex');
let idCounter = 0;
export function nextRequestId(): string {
  idCounter = (idCounter + 1) >>> 0;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}

/**
 * Decision lines are written in batches: every write to the destination is a system call
 * (about a third of the server's CPU per call when each decision was written on its own), so
 * lines wait up to FLUSH_INTERVAL_MS or until FLUSH_BYTES have gathered.
 */
const FLUSH_INTERVAL_MS = 20;
const FLUSH_BYTES = 64 * 1024;

export class DecisionLog {
  private readonly logger: Logger | undefined;
  private readonly sampleRate: number;
  private readonly redact: Set<string>;
  private readonly random: () => number;

  /** The logger's destination and its bindings as JSON, for the fast line writer. */
  private readonly stream: { write(line: string): unknown } | undefined;
  private readonly bindingsJson: string;
  /**
   * Lines waiting for the next flush. sonic-boom (pino's destination) measures its whole
   * pending buffer on every write, and each write is a system call: batching saves both.
   */
  private readonly batching: boolean;
  private pending: string[] = [];
  private pendingBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(options: DecisionLogOptions) {
    this.logger = options.logger;
    const stream = options.logger ? (options.logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] : undefined;
    this.stream = stream && typeof (stream as { write?: unknown }).write === 'function' ? (stream as { write(line: string): unknown }) : undefined;
    // pino's own serialized bindings (base fields such as pid, name, and child bindings).
    const chindings = options.logger ? (options.logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym] : undefined;
    if (typeof chindings === 'string') this.bindingsJson = chindings;
    else {
      const json = JSON.stringify(options.logger?.bindings() ?? {});
      this.bindingsJson = json === '{}' ? '' : `,${json.slice(1, -1)}`;
    }
    this.batching = typeof (stream as { flushSync?: unknown } | undefined)?.flushSync === 'function';
    const rate = options.sampleRate ?? 1;
    this.sampleRate = Number.isFinite(rate) ? Math.min(1, Math.max(0, rate)) : 1;
    this.redact = new Set(options.redactContextKeys ?? []);
    this.random = options.random ?? Math.random;
  }

  get enabled(): boolean {
    return this.logger !== undefined;
  }

  /** Whether the next decision should be logged (call before building an entry). */
  sampled(decision: PdpDecision): boolean {
    if (this.logger === undefined) return false;
    if (decision.errors.length > 0) return true;
    return this.sampleRate >= 1 || (this.sampleRate > 0 && this.random() < this.sampleRate);
  }

  write(entry: DecisionLogEntry): void {
    const logger = this.logger;
    if (!logger || !logger.isLevelEnabled('info')) return;
    const { request, decision } = entry;
    const fields = {
      requestId: entry.requestId ?? nextRequestId(),
      transport: entry.transport,
      actor: request.actor,
      action: request.action,
      resource: request.resource,
      context: this.redactContext(request.context),
      peer: entry.peer,
      decision: decision.effect,
      policyIds: decision.policyIds,
      reason: decision.reason,
      errors: decision.errors.length > 0 ? decision.errors : undefined,
      policyRevision: decision.policyRevision,
      attributeRevision: decision.attributeRevision,
      latencyMs: Math.round(entry.latencyMs * 1000) / 1000,
      msg: 'decision',
    };
    if (this.stream === undefined) {
      logger.info(fields);
      return;
    }
    // pino's line format (level, time, bindings, fields, msg) written to the logger's own
    // destination, with one JSON.stringify: pino serializes nested values key by key, which
    // costs about four times as much on this path.
    let line: string;
    try {
      line = `{"level":30,"time":${Date.now()}${this.bindingsJson},${JSON.stringify(fields).slice(1)}\n`;
    } catch {
      // Unserializable context (e.g. a BigInt): let pino's safe serializer handle it.
      logger.info(fields);
      return;
    }
    if (!this.batching) {
      this.stream.write(line);
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(this.flushNow, FLUSH_INTERVAL_MS);
      this.flushTimer.unref();
    }
  }

  private readonly flushNow = (): void => this.flush();

  /** Writes the lines waiting for the next flush (also called on shutdown). */
  flush(): void {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    if (this.pending.length === 0 || this.stream === undefined) return;
    const chunk = this.pending.length === 1 ? this.pending[0] : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.stream.write(chunk);
  }

  /** Logs `entry` if it is sampled. */
  record(entry: DecisionLogEntry): void {
    if (this.sampled(entry.decision)) this.write(entry);
  }

  private redactContext(context: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (context === undefined || this.redact.size === 0) return context;
    let out: Record<string, unknown> | undefined;
    for (const key of this.redact) {
      if (Object.prototype.hasOwnProperty.call(context, key)) {
        out ??= { ...context };
        out[key] = REDACTED;
      }
    }
    return out ?? context;
  }
}
