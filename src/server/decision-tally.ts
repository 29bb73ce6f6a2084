/**
 * Decision counts and latencies for one (rpc, transport), handed to prom-client in batches.
 * prom-client checks and hashes the labels on every inc() and observe() — several microseconds
 * per decision on a cold path, all of it before the answer's trailers leave. Here a decision
 * costs an array store; the batch reaches prom-client within FLUSH_MS and always before a
 * scrape (the metrics' collect hooks flush), so /metrics is never behind.
 */

const FLUSH_MS = 20;
const CAPACITY = 1024;

export class DecisionTally {
  private allowed = 0;
  private denied = 0;
  private readonly seconds = new Float64Array(CAPACITY);
  private count = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly allowCounter: { inc(n: number): void },
    private readonly denyCounter: { inc(n: number): void },
    private readonly latency: { observe(seconds: number): void },
  ) {}

  /** One decision; `seconds` also feeds the latency histogram unless it is NaN. */
  record(allowed: boolean, seconds: number): void {
    if (allowed) this.allowed++;
    else this.denied++;
    this.observe(seconds);
  }

  /** A latency without a decision (e.g. a whole BatchAuthorize call). */
  observe(seconds: number): void {
    if (Number.isFinite(seconds)) this.seconds[this.count++] = seconds;
    if (this.count === CAPACITY) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(this.flush, FLUSH_MS);
      this.timer.unref();
    }
  }

  readonly flush = (): void => {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.allowed > 0) this.allowCounter.inc(this.allowed);
    if (this.denied > 0) this.denyCounter.inc(this.denied);
    for (let i = 0; i < this.count; i++) this.latency.observe(this.seconds[i]);
    this.allowed = this.denied = this.count = 0;
  };
}
