/**
 * The decision log: one JSON line per (sampled) decision, written through pino's destination
 * in batches, so logging never delays an answer. Decisions that met condition errors are
 * always logged.
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
 * Entries wait up to FLUSH_INTERVAL_MS (or until MAX_PENDING have gathered) and are then
 * serialized and written together. Serializing an entry costs several microseconds and each
 * write to the destination is a system call; doing both per decision put them on the answer's
 * path (gRPC sends a unary answer's trailers one event-loop turn after its message, so even
 * work deferred with setImmediate delayed the caller). Entries keep the time they were made.
 */
const FLUSH_INTERVAL_MS = 20;
const MAX_PENDING = 512;

interface PendingEntry {
  entry: DecisionLogEntry;
  time: number;
}

export class DecisionLog {
  private readonly logger: Logger | undefined;
  private readonly sampleRate: number;
  private readonly redact: Set<string>;
  private readonly random: () => number;

  /** The logger's destination and its bindings as JSON, for the fast line writer. */
  private readonly stream: { write(line: string): unknown } | undefined;
  private readonly bindingsJson: string;
  private pending: PendingEntry[] = [];
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

  /**
   * Queues the entry; it is written at the next flush. The entry's request and decision must
   * not change afterwards (the decision point hands out fresh objects).
   */
  write(entry: DecisionLogEntry): void {
    if (this.logger === undefined) return;
    this.pending.push({ entry, time: Date.now() });
    if (this.pending.length >= MAX_PENDING) this.flushSafely();
    else if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(this.flushNow, FLUSH_INTERVAL_MS);
      this.flushTimer.unref();
    }
  }

  private readonly flushNow = (): void => this.flushSafely();

  /** A destination that throws must not fail the decision (or the timer) that flushed it. */
  private flushSafely(): void {
    try {
      this.flush();
    } catch (error) {
      if (!this.warned) {
        this.warned = true;
        process.emitWarning(`decision log: writing failed, entries were dropped: ${(error as Error)?.message ?? String(error)}`);
      }
    }
  }

  private warned = false;

  /** Writes every queued entry now (also called on shutdown). */
  flush(): void {
    if (this.flushTimer !== undefined) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const logger = this.logger;
    const batch = this.pending;
    if (batch.length === 0 || logger === undefined) return;
    this.pending = [];
    if (!logger.isLevelEnabled('info')) return;
    let chunk = '';
    for (const { entry, time } of batch) {
      const fields = this.fields(entry);
      if (this.stream === undefined) {
        logger.info(fields);
        continue;
      }
      // pino's line format (level, time, bindings, fields, msg) written to the logger's own
      // destination, with one JSON.stringify: pino serializes nested values key by key, which
      // costs about four times as much.
      try {
        chunk += `{"level":30,"time":${time}${this.bindingsJson},${JSON.stringify(fields).slice(1)}\n`;
      } catch {
        // Unserializable context (e.g. a BigInt): pino's safe serializer handles it.
        logger.info(fields);
      }
    }
    if (chunk.length > 0) this.stream?.write(chunk);
  }

  private fields(entry: DecisionLogEntry): Record<string, unknown> {
    const { request, decision } = entry;
    return {
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
