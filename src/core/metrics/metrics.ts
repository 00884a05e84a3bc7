import type { SharedStatus } from '../shared/shared-state';
import type { CacheStats } from '../cache/response-cache';
import type { ProviderKind } from '../errors';
import type { BreakerState } from '../flow/breaker';
import { WindowedHistogram, type Percentiles } from './histogram';
import type { QuotaSnapshot } from '../flow/quota';
import type { QueueStats } from '../flow/scheduler';

export interface Timing {
  recent: Percentiles;
  sinceStart: Percentiles;
}

export interface Counters {
  requests: number;
  inFlight: number;
  queued: number;
  succeeded: number;
  /** Failed calls by error code, e.g. FLOWGATE_TIMEOUT. */
  failed: Record<string, number>;
  retries: number;
  /** 429 responses seen, retried or not. */
  rateLimited: number;
  inputTokens: number;
  outputTokens: number;
  /** Output tokens per second of generation, over the recent window. */
  outputTokensPerSecond?: number;
  latencyMs: Timing;
  /** Time to the first answer text. */
  ttftMs: Timing;
  /** Time to the first output of any kind: reasoning, a tool call, a refusal or text. */
  firstOutputMs: Timing;
  queueWaitMs: Timing;
}

export interface EndpointSnapshot extends Counters {
  id: string;
  provider: ProviderKind;
  origin: string;
  model: string;
  oldestQueuedMs: number;
  pausedUntil?: number;
  breaker: BreakerState;
  quota: QuotaSnapshot;
  /** Present when the endpoint's budgets are shared with other processes. */
  shared?: SharedStatus;
}

export interface MetricsSnapshot {
  at: number;
  overall: Counters;
  endpoints: EndpointSnapshot[];
  /** Hits, misses and size of the response cache, when the client has one. */
  cache?: CacheStats;
}

/** What one finished call contributes. */
export interface CallRecord {
  ok: boolean;
  errorCode?: string;
  latencyMs: number;
  ttftMs?: number;
  firstOutputMs?: number;
  queueWaitMs: number;
  inputTokens?: number;
  outputTokens?: number;
  /** From the first output to the last. */
  generationMs?: number;
}

const RECENT_WINDOW_MS = 60_000;

/** Counters and histograms for one endpoint, or for all of them. */
export class CallStats {
  requests = 0;
  succeeded = 0;
  failed: Record<string, number> = {};
  retries = 0;
  rateLimited = 0;
  inputTokens = 0;
  outputTokens = 0;
  readonly latency = new WindowedHistogram(RECENT_WINDOW_MS);
  readonly ttft = new WindowedHistogram(RECENT_WINDOW_MS);
  readonly firstOutput = new WindowedHistogram(RECENT_WINDOW_MS);
  private readonly queueWait = new WindowedHistogram(RECENT_WINDOW_MS);
  private generation: { at: number; tokens: number; ms: number }[] = [];

  record(call: CallRecord, now: number): void {
    if (call.ok) this.succeeded++;
    else this.failed[call.errorCode ?? 'ERROR'] = (this.failed[call.errorCode ?? 'ERROR'] ?? 0) + 1;
    this.inputTokens += call.inputTokens ?? 0;
    this.outputTokens += call.outputTokens ?? 0;
    this.queueWait.record(call.queueWaitMs, now);
    if (call.ok) this.latency.record(call.latencyMs, now);
    if (call.ttftMs !== undefined) this.ttft.record(call.ttftMs, now);
    if (call.firstOutputMs !== undefined) this.firstOutput.record(call.firstOutputMs, now);
    if (call.outputTokens && call.generationMs && call.generationMs > 0) {
      this.generation.push({ at: now, tokens: call.outputTokens, ms: call.generationMs });
    }
  }

  counters(queue: Pick<QueueStats, 'inFlight' | 'queued'>, now: number): Counters {
    this.generation = this.generation.filter((g) => now - g.at < RECENT_WINDOW_MS);
    const tokens = this.generation.reduce((sum, g) => sum + g.tokens, 0);
    const ms = this.generation.reduce((sum, g) => sum + g.ms, 0);
    return {
      requests: this.requests,
      inFlight: queue.inFlight,
      queued: queue.queued,
      succeeded: this.succeeded,
      failed: { ...this.failed },
      retries: this.retries,
      rateLimited: this.rateLimited,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      outputTokensPerSecond: ms > 0 ? Math.round((tokens / ms) * 10_000) / 10 : undefined,
      latencyMs: timing(this.latency, now),
      ttftMs: timing(this.ttft, now),
      firstOutputMs: timing(this.firstOutput, now),
      queueWaitMs: timing(this.queueWait, now),
    };
  }
}

function timing(histogram: WindowedHistogram, now: number): Timing {
  return { recent: histogram.recent(now).summary(), sinceStart: histogram.sinceStart.summary() };
}

/**
 * Calls `listener` at most once per `intervalMs` after changes, and once more
 * after the last change, so a UI sees the final state without being flooded.
 */
export class ThrottledSignal {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private lastFiredAt = -Infinity;

  constructor(private readonly intervalMs: number) {}

  on(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  fire(): void {
    if (this.timer || this.listeners.size === 0) return;
    const wait = Math.max(0, this.lastFiredAt + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastFiredAt = Date.now();
      for (const listener of this.listeners) listener();
    }, wait);
    this.timer.unref?.();
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
