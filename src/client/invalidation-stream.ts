/**
 * Keeps one `charter.v1.Invalidation/Subscribe` stream open: applies each event to the cache,
 * reports connected / cut off, and resubscribes with exponential backoff (with jitter) after
 * the stream ends or fails. The call waits for the channel to be ready, so a restarted server
 * is picked up as soon as the channel reconnects.
 */
import { Metadata, status, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import type { InvalidationEventMessage } from './proto.js';

export interface InvalidationStreamOptions {
  stub: Client;
  metadata: () => Metadata;
  onEvent: (event: InvalidationEventMessage) => void;
  onConnected: (connected: boolean) => void;
  onError: (err: ServiceError | Error) => void;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /**
   * The server sends a heartbeat at least every 500 ms. A stream silent for longer than this is
   * treated as cut (a network path that drops packets without closing the connection would
   * otherwise look connected until TCP keepalive gives up, tens of seconds later).
   */
  silenceTimeoutMs: number;
}

export class InvalidationStream {
  private call: ClientReadableStream<InvalidationEventMessage> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private closed = false;
  private live = false;
  /** Subscriptions started after the first one. */
  reconnects = 0;
  private started = 0;
  private lastDataAt = 0;
  private watchdog: NodeJS.Timeout | undefined;

  constructor(private readonly options: InvalidationStreamOptions) {
    this.backoffMs = options.initialBackoffMs;
  }

  start(): void {
    if (this.closed) return;
    this.timer = undefined;
    if (this.started++ > 0) this.reconnects++;
    const fn = (this.options.stub as unknown as Record<string, (...args: unknown[]) => ClientReadableStream<InvalidationEventMessage>>).Subscribe;
    const call = fn.call(this.options.stub, {}, this.options.metadata(), { waitForReady: true });
    this.call = call;
    let ended = false;
    const end = (err: ServiceError | Error | undefined): void => {
      if (ended) return;
      ended = true;
      if (this.call === call) this.call = undefined;
      this.setLive(false);
      if (this.closed) return;
      if (err !== undefined && (err as ServiceError).code !== status.CANCELLED) this.options.onError(err);
      else if (err === undefined) this.options.onError(new Error('invalidation stream ended by the server'));
      this.schedule();
    };
    call.on('data', (event: InvalidationEventMessage) => {
      if (ended || this.closed) return;
      this.lastDataAt = performance.now();
      this.options.onEvent(event);
      if (!this.live) {
        this.setLive(true);
        this.backoffMs = this.options.initialBackoffMs;
      }
    });
    call.on('error', (err: ServiceError) => end(err));
    call.on('end', () => end(undefined));
    this.watch();
  }

  /** Cuts a live stream that has gone silent, so cached ALLOWs stop being trusted. */
  private watch(): void {
    if (this.watchdog !== undefined) return;
    const every = Math.max(10, Math.floor(this.options.silenceTimeoutMs / 4));
    this.watchdog = setInterval(() => {
      const call = this.call;
      if (!this.live || call === undefined) return;
      const silentMs = performance.now() - this.lastDataAt;
      if (silentMs <= this.options.silenceTimeoutMs) return;
      this.options.onError(new Error(`invalidation stream silent for ${Math.round(silentMs)} ms; reconnecting`));
      this.setLive(false);
      call.cancel();
    }, every);
    this.watchdog.unref();
  }

  get connected(): boolean {
    return this.live;
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    this.options.onConnected(live);
  }

  private schedule(): void {
    const jitter = 0.8 + Math.random() * 0.4;
    const delay = Math.round(this.backoffMs * jitter);
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs);
    this.timer = setTimeout(() => this.start(), delay);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.setLive(false);
  }
}
