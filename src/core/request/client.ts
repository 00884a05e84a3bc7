import type { SharedCache, SharedLock, SharedState } from '../shared/shared-state';
import { onAbort } from './abort';
import { batchApiFor, type ProviderBatchApi } from '../batch/provider';
import { runCall } from './call';
import { ResponseCache, replay, type CacheUse } from '../cache/response-cache';
import { CompletionFolder, collectBatches } from './completion';
import { EventStream } from './event-stream';
import { endpointOrigin } from '../endpoint';
import { CancelledError, ConfigError } from '../errors';
import { DEFAULT_BREAKER, type BreakerOptions } from '../flow/breaker';
import { EndpointState, endpointKey } from '../flow/endpoint-state';
import type { Histogram } from '../metrics/histogram';
import { CallStats, ThrottledSignal, type MetricsSnapshot } from '../metrics/metrics';
import { DEFAULT_RETRY, type RetryOptions } from '../flow/retry';
import type { Priority } from '../flow/scheduler';
import { PoolRegistry, type PoolStats } from '../http/pools';
import { resolveProxy, type ProxyOptions } from '../http/proxy';
import { resolveTimeouts, type Timeouts } from './timeouts';
import type { ChatRequest, Completion, Endpoint, StreamEvent } from '../types';

export interface CallOptions {
  endpoint: Endpoint;
  /** Tried in order when the endpoint is down, overloaded or out of quota, before any text arrived. */
  fallbacks?: Endpoint[];
  /** Aborting it stops the call in any phase (queued, connecting, streaming) and closes its socket. */
  signal?: AbortSignal;
  /** Per-call overrides of the client's timeouts. */
  timeouts?: Partial<Timeouts>;
  /** @default 'interactive' */
  priority?: Priority;
  /** Attempts per endpoint, the first included. */
  maxAttempts?: number;
  /** `auto` (default) uses the client's cache for deterministic requests only; `use` opts in; `bypass` skips it. */
  cache?: CacheUse;
}

export interface EndpointHistograms {
  id: string;
  latency: Histogram;
  ttft: Histogram;
}

export interface ClientOptions {
  timeouts?: Partial<Timeouts>;
  retry?: Partial<RetryOptions>;
  breaker?: Partial<BreakerOptions>;
  /** Connections per origin; requests beyond it wait in the pool. @default 64 */
  maxConnectionsPerOrigin?: number;
  /** The most often `onMetricsChange` listeners are called. @default 250 */
  metricsIntervalMs?: number;
  /** Proxy settings; by default HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured. */
  proxy?: ProxyOptions;
  /** An extra CA certificate (PEM) to trust, e.g. a company's TLS-inspecting proxy. NODE_EXTRA_CA_CERTS also works. */
  ca?: string;
  /** Exact-match answers for deterministic or opted-in requests. */
  cache?: ResponseCache;
  /**
   * Budgets shared with other processes on the same endpoints (Redis, see
   * connectRedisState). The client uses it; whoever made it closes it.
   */
  sharedState?: SharedState;
}

/**
 * The engine's front door. It owns the connection pools and, per endpoint,
 * the scheduler, learnt quota, circuit breaker and metrics, so one client
 * should serve a whole session; `close()` releases every socket.
 */
export class LlmClient {
  private readonly pools: PoolRegistry;
  private readonly timeouts: Timeouts;
  private readonly retry: RetryOptions;
  private readonly breaker: BreakerOptions;
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly overall = new CallStats();
  private readonly changed: ThrottledSignal;
  private readonly cache: ResponseCache | undefined;
  private sharedState: SharedState | undefined;
  /** Identical cacheable calls in flight: later ones wait for the first instead of asking again. */
  private readonly inflight = new Map<string, Promise<Completion>>();

  constructor(options: ClientOptions = {}) {
    this.timeouts = resolveTimeouts(options.timeouts);
    this.retry = resolveRetry(options.retry);
    this.breaker = { ...DEFAULT_BREAKER, ...options.breaker };
    this.pools = new PoolRegistry(options.maxConnectionsPerOrigin, resolveProxy(options.proxy), options.ca);
    this.changed = new ThrottledSignal(options.metricsIntervalMs ?? 250);
    this.cache = options.cache;
    this.sharedState = options.sharedState;
  }

  /** Streams one answer as typed events. Stopping the iteration early cancels the request. */
  stream(request: ChatRequest, options: CallOptions): AsyncGenerator<StreamEvent> {
    return new EventStream(() => this.call(request, options, true));
  }

  /**
   * The same events, as they arrived: one array per network chunk. A chunk
   * often holds many tokens, and handing them over together saves an async
   * hand-off per event; the panel, VS Code's chat, batches and the CLI read
   * answers this way. Stopping the iteration early cancels the request.
   */
  async *streamChunks(request: ChatRequest, options: CallOptions): AsyncGenerator<StreamEvent[]> {
    yield* this.call(request, options, true);
  }

  /** One whole answer. `stream: true` streams underneath (so the idle timeout applies); the default asks for a single JSON response. */
  async complete(request: ChatRequest, options: CallOptions & { stream?: boolean }): Promise<Completion> {
    return collectBatches(this.call(request, options, options.stream ?? false));
  }

  /**
   * The endpoint's provider batch API (OpenAI's Files and Batches, Anthropic's
   * Message Batches), over this client's connections and proxy, scrubbing the
   * endpoint's secrets.
   */
  providerBatches(endpoint: Endpoint): ProviderBatchApi {
    return batchApiFor(endpoint, this.pools, this.stateFor(endpoint).scrubber);
  }

  /**
   * Shares every endpoint's budgets through `state` from now on, or keeps
   * them in this process again (undefined). The caller owns and closes it.
   */
  shareThrough(state: SharedState | undefined): void {
    this.sharedState = state;
    for (const [, endpointState] of this.endpoints)
      endpointState.scheduler.share(state?.gateFor(endpointState.endpoint));
  }

  /** Counters, percentiles, queue and quota per endpoint and overall. */
  metrics(): MetricsSnapshot {
    const now = Date.now();
    const endpoints = [...this.endpoints.values()].map((state) => state.snapshot(now));
    const queue = endpoints.reduce(
      (sum, e) => ({ inFlight: sum.inFlight + e.inFlight, queued: sum.queued + e.queued }),
      { inFlight: 0, queued: 0 },
    );
    return {
      at: now,
      overall: this.overall.counters(queue, now),
      endpoints,
      ...(this.cache ? { cache: this.cache.stats() } : {}),
    };
  }

  /** Each endpoint's latency and time-to-first-token histograms since start, for exporters. */
  histograms(): EndpointHistograms[] {
    return [...this.endpoints.values()].map((state) => ({
      id: state.key,
      latency: state.stats.latency.sinceStart,
      ttft: state.stats.ttft.sinceStart,
    }));
  }

  /** Called after metrics change, at most once per `metricsIntervalMs`. */
  onMetricsChange(listener: () => void): { dispose(): void } {
    return this.changed.on(listener);
  }

  /** Open connections and requests on the wire, across all endpoints. */
  connectionStats(): PoolStats {
    return this.pools.stats();
  }

  async close(): Promise<void> {
    for (const state of this.endpoints.values()) state.scheduler.close(() => new CancelledError({ site: state.site }));
    this.changed.dispose();
    await this.pools.close();
  }

  /** The call's batches of events: from the network, or from the cache when it applies. */
  private call(request: ChatRequest, options: CallOptions, stream: boolean): AsyncIterable<StreamEvent[]> {
    const cache = this.cache;
    if (!cache || !ResponseCache.applies(options.cache ?? 'auto', request, options.endpoint))
      return this.live(request, options, stream);
    return this.cached(cache, request, options, stream);
  }

  private async *cached(
    cache: ResponseCache,
    request: ChatRequest,
    options: CallOptions,
    stream: boolean,
  ): AsyncGenerator<StreamEvent[]> {
    const key = ResponseCache.key(options.endpoint, request);
    const hit = await cache.get(key);
    if (hit) return yield* replay(hit);
    const leader = this.inflight.get(key);
    if (leader) {
      const shared = await waitUnlessAborted(leader, options.signal, options.endpoint);
      if (shared) return yield* replay(shared);
    }
    const team = this.sharedState?.cache;
    if (!team) {
      yield* this.liveAndStore(key, cache, request, options, stream);
      return;
    }
    // Behind this process's cache, the one other processes share: an answer one of them has, or is getting.
    const outcome = (await team.get(key)) ?? (await this.leadOrFollow(team, key, options));
    if (!('release' in outcome)) {
      await cache.set(key, outcome).catch(() => {});
      return yield* replay(outcome);
    }
    try {
      yield* this.liveAndStore(key, cache, request, options, stream, (completion) => team.set(key, completion));
    } finally {
      await outcome.release();
    }
  }

  /**
   * The right to ask for `key` on behalf of every process sharing the cache,
   * or the answer the process holding it stored. A holder that gives up or
   * dies lets the right go (its lock lapses), and the waiting starts over.
   */
  private async leadOrFollow(team: SharedCache, key: string, options: CallOptions): Promise<Completion | SharedLock> {
    for (;;) {
      const lock = await team.lead(key);
      if (lock) return lock;
      const answer = await team.follow(key, options.signal);
      if (answer) return answer;
      if (options.signal?.aborted) throw new CancelledError({ site: this.stateFor(options.endpoint).site });
    }
  }

  private async *liveAndStore(
    key: string,
    cache: ResponseCache,
    request: ChatRequest,
    options: CallOptions,
    stream: boolean,
    /** Also stores the answer where other processes find it. */
    share?: (completion: Completion) => Promise<void>,
  ): AsyncGenerator<StreamEvent[]> {
    let settle!: { resolve: (c: Completion) => void; reject: (e: unknown) => void };
    const shared = new Promise<Completion>((resolve, reject) => (settle = { resolve, reject }));
    shared.catch(() => {}); // followers handle it; nobody else must see an unhandled rejection
    this.inflight.set(key, shared);
    const folder = new CompletionFolder();
    try {
      for await (const batch of this.live(request, options, stream)) {
        for (const event of batch) folder.add(event);
        yield batch;
      }
      const completion = folder.result();
      settle.resolve(completion);
      // The answer is already delivered: a full disk must not turn it into a failure.
      await cache.set(key, completion).catch(() => {});
      await share?.(completion);
    } catch (error) {
      settle.reject(error);
      throw error;
    } finally {
      // Stopped early: followers must not wait for an answer that will not come (a no-op once settled).
      // They never see this error: each then asks for itself.
      settle.reject(new CancelledError());
      this.inflight.delete(key);
    }
  }

  private live(request: ChatRequest, options: CallOptions, stream: boolean): AsyncGenerator<StreamEvent[]> {
    const chain = [{ endpoint: options.endpoint, state: this.stateFor(options.endpoint) }];
    for (const endpoint of options.fallbacks ?? []) chain.push({ endpoint, state: this.stateFor(endpoint) });
    const retry =
      options.maxAttempts === undefined
        ? this.retry
        : resolveRetry({ ...this.retry, maxAttempts: options.maxAttempts });
    const timeouts = options.timeouts ? resolveTimeouts({ ...this.timeouts, ...options.timeouts }) : this.timeouts;
    return runCall({
      request,
      chain,
      stream,
      priority: options.priority ?? 'interactive',
      timeouts,
      retry,
      signal: options.signal,
      pools: this.pools,
      overall: this.overall,
      onEnd: this.fireChanged,
    });
  }

  private readonly fireChanged = (): void => this.changed.fire();

  private stateFor(endpoint: Endpoint): EndpointState {
    validateLimits(endpoint);
    const key = endpointKey(endpoint);
    let state = this.endpoints.get(key);
    if (!state) {
      state = new EndpointState(endpoint, this.breaker, () => this.changed.fire());
      if (this.sharedState) state.scheduler.share(this.sharedState.gateFor(endpoint));
      this.endpoints.set(key, state);
    } else {
      state.update(endpoint);
    }
    return state;
  }
}

/** A follower waits for the first identical request, but its own Stop still stops it at once. */
function waitUnlessAborted(
  leader: Promise<Completion>,
  signal: AbortSignal | undefined,
  endpoint: Endpoint,
): Promise<Completion | undefined> {
  const shared = leader.catch(() => undefined);
  if (!signal) return shared;
  const site = { provider: endpoint.provider, origin: endpointOrigin(endpoint) };
  if (signal.aborted) return Promise.reject(new CancelledError({ site }));
  return new Promise((resolve, reject) => {
    const stopListening = onAbort(signal, () => reject(new CancelledError({ site })));
    void shared.then((value) => {
      stopListening();
      resolve(value);
    });
  });
}

function resolveRetry(overrides: Partial<RetryOptions> = {}): RetryOptions {
  const retry = { ...DEFAULT_RETRY, ...overrides };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    throw new ConfigError(
      `maxAttempts must be a whole number of at least 1 (1 = no retries); got ${retry.maxAttempts}.`,
    );
  }
  return retry;
}

function validateLimits(endpoint: Endpoint): void {
  for (const key of ['rpm', 'tpm', 'concurrency'] as const) {
    const value = endpoint[key];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) {
      throw new ConfigError(`The endpoint's ${key} must be a positive number; got ${value}.`);
    }
  }
}
