import { SecretScrubber } from '../guards/secrets';
import { endpointOrigin } from '../endpoint';
import type { ErrorSite } from '../errors';
import type { Endpoint } from '../types';
import { CircuitBreaker, type BreakerOptions } from './breaker';
import { CallStats, type EndpointSnapshot } from '../metrics/metrics';
import { QuotaModel } from './quota';
import { isRateLimitHeader, parseRateLimitHeaders } from './rate-limit-headers';
import { EndpointScheduler, type EndpointLimits, type Lease } from './scheduler';

/** Requests on the wire at once per endpoint when the endpoint does not say. */
export const DEFAULT_CONCURRENCY = 8;

export function endpointKey(endpoint: Endpoint): string {
  return endpoint.id ?? `${endpoint.provider} ${endpoint.baseUrl} ${endpoint.model}`;
}

export function limitsOf(endpoint: Endpoint): EndpointLimits {
  return { concurrency: endpoint.concurrency ?? DEFAULT_CONCURRENCY, rpm: endpoint.rpm, tpm: endpoint.tpm };
}

/** Everything the engine keeps about one endpoint between calls. */
export class EndpointState {
  readonly key: string;
  readonly origin: string;
  readonly site: ErrorSite;
  readonly quota = new QuotaModel();
  readonly scheduler: EndpointScheduler;
  readonly breaker: CircuitBreaker;
  readonly stats = new CallStats();
  private limits: EndpointLimits;
  private scrubbed: { apiKey?: string; headers?: Endpoint['headers']; scrubber: SecretScrubber } = {
    scrubber: SecretScrubber.NONE,
  };

  constructor(
    private current: Endpoint,
    breaker: BreakerOptions,
    onChange: () => void,
  ) {
    this.key = endpointKey(current);
    this.origin = endpointOrigin(current);
    this.site = { provider: current.provider, origin: this.origin };
    this.limits = limitsOf(current);
    this.breaker = new CircuitBreaker(breaker);
    this.scheduler = new EndpointScheduler(this.limits, this.quota, Date.now, onChange);
  }

  /** The endpoint as last configured. */
  get endpoint(): Endpoint {
    return this.current;
  }

  /** What the endpoint's responses are scrubbed of: its key and credential headers (rebuilt only when they change). */
  get scrubber(): SecretScrubber {
    const { apiKey, headers } = this.current;
    if (apiKey !== this.scrubbed.apiKey || headers !== this.scrubbed.headers)
      this.scrubbed = { apiKey, headers, scrubber: SecretScrubber.of(this.current) };
    return this.scrubbed.scrubber;
  }

  /** Settings may change between calls; the queue and the learnt quota stay. */
  update(endpoint: Endpoint): void {
    this.current = endpoint;
    const { concurrency = DEFAULT_CONCURRENCY, rpm, tpm } = endpoint;
    if (concurrency !== this.limits.concurrency || rpm !== this.limits.rpm || tpm !== this.limits.tpm) {
      this.limits = limitsOf(endpoint);
      this.scheduler.configure(this.limits);
    }
  }

  learnFrom(headers: Record<string, string>, lease: Lease): void {
    // Many servers send no rate-limit headers at all: then there is nothing to parse or learn.
    if (!Object.keys(headers).some(isRateLimitHeader)) return;
    this.scheduler.learn(parseRateLimitHeaders(headers, Date.now()), lease);
  }

  snapshot(now: number): EndpointSnapshot {
    const queue = this.scheduler.stats();
    return {
      id: this.key,
      provider: this.current.provider,
      origin: this.origin,
      model: this.current.model,
      ...this.stats.counters(queue, now),
      oldestQueuedMs: queue.oldestWaitMs,
      pausedUntil: queue.pausedUntil,
      breaker: this.breaker.state(now),
      quota: this.quota.snapshot(now),
      ...(this.scheduler.sharedGate ? { shared: this.scheduler.sharedGate.status() } : {}),
    };
  }
}
