/**
 * Hot reload of the policy directory. Changes are debounced, compiled off the request path (a
 * decision never waits for a compile), and swapped in only when the whole set compiles: a
 * broken set is rejected with every diagnostic logged, and the last good set keeps serving.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { formatDiagnostic, loadPolicies, type Diagnostic, type LoadResult, type PolicySet } from '../policy/index.js';
import type { DecisionPoint } from './decision-point.js';

export interface ReloadOutcome {
  /** True when a set compiled (whether or not its revision changed). */
  ok: boolean;
  /** True when a new revision was swapped in. */
  changed: boolean;
  revision: string;
  previousRevision: string;
  diagnostics: Diagnostic[];
  reason: string;
  durationMs: number;
}

export type PolicyLoader = (dir: string, options?: { defaultCacheTtlMs?: number }) => Promise<LoadResult>;

export interface PolicyReloaderOptions {
  dir: string;
  decisionPoint: DecisionPoint;
  logger: Logger;
  debounceMs?: number;
  defaultCacheTtlMs?: number;
  load?: PolicyLoader;
  /** Called after every reload attempt (metrics, invalidations). */
  onOutcome?: (outcome: ReloadOutcome) => void;
}

/** Loads the initial set; throws an Error listing every diagnostic when it does not compile. */
export async function loadInitialPolicies(dir: string, options: { defaultCacheTtlMs?: number; load?: PolicyLoader } = {}): Promise<{ set: PolicySet; warnings: Diagnostic[] }> {
  const load = options.load ?? loadPolicies;
  const result = await load(dir, { defaultCacheTtlMs: options.defaultCacheTtlMs });
  if (!result.set) {
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    const text = (errors.length ? errors : result.diagnostics).map(formatDiagnostic).join('\n');
    throw new Error(`policies in ${dir} do not compile:\n${text || '(no diagnostics reported)'}`);
  }
  return { set: result.set, warnings: result.diagnostics.filter((d) => d.severity === 'warning') };
}

export class PolicyReloader {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ReloadOutcome> | undefined;
  private pending: { reason: string; resolve: (o: ReloadOutcome) => void; promise: Promise<ReloadOutcome> } | undefined;
  private closed = false;
  private readonly debounceMs: number;
  private readonly load: PolicyLoader;

  constructor(private readonly options: PolicyReloaderOptions) {
    this.debounceMs = options.debounceMs ?? 200;
    this.load = options.load ?? loadPolicies;
  }

  /** Starts watching the directory (recursively) for changes. */
  watch(): void {
    if (this.closed || this.watcher) return;
    try {
      this.watcher = watch(this.options.dir, { recursive: true, persistent: false }, (_event, file) => this.schedule(`file changed: ${file ?? '?'}`));
      this.watcher.on('error', (err) => {
        this.options.logger.warn({ err, dir: this.options.dir }, 'policy watcher failed; retrying in 1s (SIGHUP reloads meanwhile)');
        this.watcher?.close();
        this.watcher = undefined;
        setTimeout(() => this.watch(), 1_000).unref();
      });
    } catch (err) {
      this.options.logger.warn({ err, dir: this.options.dir }, 'cannot watch the policy directory; reload with SIGHUP');
    }
  }

  /** Debounced reload: a burst of file events leads to one compile. */
  schedule(reason: string): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload(reason);
    }, this.debounceMs);
    this.timer.unref();
  }

  /**
   * Compiles the directory now and swaps it in if it is good. Reloads never overlap: a request
   * made while one runs is served by one more reload after it (several requests share it).
   */
  reload(reason: string): Promise<ReloadOutcome> {
    if (this.running) {
      if (!this.pending) {
        let resolve!: (o: ReloadOutcome) => void;
        const promise = new Promise<ReloadOutcome>((r) => (resolve = r));
        this.pending = { reason, resolve, promise };
      }
      return this.pending.promise;
    }
    const run = this.reloadOnce(reason).finally(() => {
      this.running = undefined;
      const next = this.pending;
      this.pending = undefined;
      if (next) void this.reload(next.reason).then(next.resolve);
    });
    this.running = run;
    return run;
  }

  private async reloadOnce(reason: string): Promise<ReloadOutcome> {
    const { decisionPoint, logger, dir } = this.options;
    const started = performance.now();
    const previousRevision = decisionPoint.policyRevision;
    let outcome: ReloadOutcome;
    try {
      const result = await this.load(dir, { defaultCacheTtlMs: this.options.defaultCacheTtlMs });
      const durationMs = performance.now() - started;
      if (!result.set) {
        outcome = { ok: false, changed: false, revision: previousRevision, previousRevision, diagnostics: result.diagnostics, reason, durationMs };
        logger.error(
          { reason, errors: result.diagnostics.map(formatDiagnostic), policyRevision: previousRevision },
          `policy reload rejected (${result.diagnostics.filter((d) => d.severity === 'error').length} errors); still serving ${previousRevision}`,
        );
      } else {
        const changed = result.set.revision !== previousRevision;
        if (changed && !this.closed) decisionPoint.replacePolicies(result.set);
        outcome = { ok: true, changed, revision: result.set.revision, previousRevision, diagnostics: result.diagnostics, reason, durationMs };
        logger.info(
          { reason, policyRevision: result.set.revision, previousRevision, rules: result.set.ruleCount, durationMs: Math.round(durationMs) },
          changed ? 'policy set reloaded' : 'policy set unchanged',
        );
      }
    } catch (err) {
      const durationMs = performance.now() - started;
      const message = (err as Error)?.message ?? String(err);
      const diagnostic: Diagnostic = { file: dir, line: 0, column: 0, message, severity: 'error' };
      outcome = { ok: false, changed: false, revision: previousRevision, previousRevision, diagnostics: [diagnostic], reason, durationMs };
      logger.error({ err, reason, policyRevision: previousRevision }, `policy reload failed; still serving ${previousRevision}`);
    }
    try {
      this.options.onOutcome?.(outcome);
    } catch (err) {
      logger.error({ err }, 'policy reload listener failed');
    }
    return outcome;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
