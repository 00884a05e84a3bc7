import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { AuthError, CancelledError, HttpError, NetworkError, ProviderError, TimeoutError } from '../../src/core';
import { CircuitBreaker } from '../../src/core/flow/breaker';
import { Histogram, WindowedHistogram } from '../../src/core/metrics/histogram';
import { parseGoDuration, parseRateLimitHeaders, parseRetryAfter } from '../../src/core/flow/rate-limit-headers';
import { DEFAULT_RETRY, describeRetry, retryDelayMs, shouldRetry } from '../../src/core/flow/retry';
import { TokenBucket } from '../../src/core/flow/token-bucket';

const site = { provider: 'openai' as const, origin: 'https://api.example.com' };
const http = (status: number, headers: Record<string, string> = {}, providerType?: string) =>
  new HttpError(status, 'x', {
    site,
    headers,
    providerType,
    retryable: [408, 409, 429, 500, 502, 503, 504, 529].includes(status) && providerType !== 'insufficient_quota',
  });

describe('rate-limit headers', () => {
  test.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['20ms', 20],
    ['1h2m3.5s', 3_723_500],
    ['0.5s', 500],
    ['150us', 0.15],
  ])('Go duration %s = %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 6);
  });

  test.each(['', 'soon', '5', '1x', '1s garbage'])('not a Go duration: %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });

  test('OpenAI headers: resets are relative to arrival', () => {
    const info = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-limit-tokens': '30000',
        'x-ratelimit-remaining-tokens': '29000',
        'x-ratelimit-reset-tokens': '6m0s',
      },
      1_000_000,
    );
    expect(info).toEqual({
      requests: { limit: 500, remaining: 499, resetAt: 1_000_120 },
      tokens: { limit: 30000, remaining: 29000, resetAt: 1_360_000 },
      retryAfterMs: undefined,
    });
  });

  test('Anthropic headers: resets are RFC 3339 instants; tokens fall back to input tokens', () => {
    const info = parseRateLimitHeaders(
      {
        'anthropic-ratelimit-requests-limit': '50',
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': '2026-11-22T10:00:30Z',
        'anthropic-ratelimit-input-tokens-limit': '40000',
        'anthropic-ratelimit-input-tokens-remaining': '39000',
        'anthropic-ratelimit-input-tokens-reset': '2026-11-22T10:00:01Z',
      },
      Date.parse('2026-11-22T10:00:00Z'),
    );
    expect(info.requests).toEqual({ limit: 50, remaining: 0, resetAt: Date.parse('2026-11-22T10:00:30Z') });
    expect(info.tokens).toEqual({ limit: 40000, remaining: 39000, resetAt: Date.parse('2026-11-22T10:00:01Z') });
  });

  test('retry-after-ms wins over retry-after; retry-after takes seconds or an HTTP date', () => {
    const now = Date.parse('Sun, 22 Nov 2026 10:00:00 GMT');
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '9' }, now)).toBe(250);
    expect(parseRetryAfter({ 'retry-after': '3' }, now)).toBe(3000);
    expect(parseRetryAfter({ 'retry-after': 'Sun, 22 Nov 2026 10:00:07 GMT' }, now)).toBe(7000);
    expect(parseRetryAfter({ 'retry-after': 'whenever' }, now)).toBeUndefined();
    expect(parseRetryAfter({}, now)).toBeUndefined();
  });
});

describe('TokenBucket', () => {
  test('holds about one second of budget, less a safety margin, refills continuously, never bursts beyond it', () => {
    const bucket = TokenBucket.forRate(600, 0); // 10 per second: capacity 10 less 100 ms of budget = 9
    for (let i = 0; i < 9; i++) {
      expect(bucket.waitMs(1, 0)).toBe(0);
      bucket.take(1, 0);
    }
    expect(bucket.waitMs(1, 0)).toBe(100);
    expect(bucket.waitMs(1, 100)).toBe(0);
    expect(bucket.available(60_000)).toBe(9); // capped, however long it sat idle
  });

  test('a slow rate still lets one request through, one interval plus the safety margin apart', () => {
    const bucket = TokenBucket.forRate(6, 0); // one per 10 s
    expect(bucket.waitMs(1, 0)).toBe(0);
    bucket.take(1, 0);
    expect(bucket.waitMs(1, 0)).toBe(10_100);
  });

  test('at 60 RPM, where the server holds one request, sends keep 100 ms of lead for arrival jitter', () => {
    const bucket = TokenBucket.forRate(60, 0);
    let now = 0;
    const sentAt: number[] = [];
    for (let i = 0; i < 5; i++) {
      now += bucket.waitMs(1, now);
      bucket.take(1, now);
      sentAt.push(now);
    }
    expect(sentAt.slice(1).map((t, i) => t - sentAt[i]!)).toEqual([1100, 1100, 1100, 1100]);
  });

  test('a take larger than the bucket goes when full and leaves a debt that keeps the rate, plus the margin', () => {
    const bucket = TokenBucket.forRate(6000, 0); // capacity 90, margin 10
    expect(bucket.waitMs(500, 0)).toBe(0);
    bucket.take(500, 0);
    expect(bucket.waitMs(1, 0)).toBe(4210); // (500 + 10 - 90 + 1) / 100 per second
  });

  test('refund returns unused reservation, up to capacity; lowerTo drains', () => {
    const bucket = TokenBucket.forRate(6000, 0);
    bucket.take(80, 0);
    bucket.refund(30, 0);
    expect(bucket.available(0)).toBe(40);
    bucket.refund(500, 0);
    expect(bucket.available(0)).toBe(90);
    bucket.lowerTo(0, 0);
    expect(bucket.waitMs(1, 0)).toBe(10);
  });
});

describe('retry policy', () => {
  test('retries only retryable failures, and never once text reached the caller', () => {
    expect(shouldRetry(http(429), false)).toBe(true);
    expect(shouldRetry(http(503), false)).toBe(true);
    expect(shouldRetry(http(503), true)).toBe(false);
    expect(shouldRetry(http(400), false)).toBe(false);
    expect(shouldRetry(new AuthError(401, 'no', { site }), false)).toBe(false);
    expect(shouldRetry(http(429, {}, 'insufficient_quota'), false)).toBe(false);
    expect(shouldRetry(new CancelledError({ site }), false)).toBe(false);
    expect(shouldRetry(new NetworkError('refused', { site, beforeSend: true }), false)).toBe(true);
    expect(shouldRetry(new NetworkError('reset', { site, beforeSend: false }), false)).toBe(false);
    expect(shouldRetry(new TimeoutError('connect', 10, { site }), false)).toBe(true);
    expect(shouldRetry(new TimeoutError('firstToken', 10, { site }), false)).toBe(false);
    expect(shouldRetry(new ProviderError('busy', 'overloaded_error', { site, retryable: true }), false)).toBe(true);
  });

  test('full jitter: between 0 and the doubling ceiling, capped', () => {
    const options = { ...DEFAULT_RETRY, baseDelayMs: 500, maxDelayMs: 3000 };
    expect(retryDelayMs(1, http(503), options, 0, () => 0)).toBe(0);
    expect(retryDelayMs(1, http(503), options, 0, () => 0.999999)).toBe(500);
    expect(retryDelayMs(3, http(503), options, 0, () => 0.999999)).toBe(2000);
    expect(retryDelayMs(6, http(503), options, 0, () => 0.999999)).toBe(3000);
  });

  test('the server decides when it says: retry-after-ms, retry-after, then the exhausted reset of a 429', () => {
    expect(retryDelayMs(1, http(429, { 'retry-after-ms': '1234' }), DEFAULT_RETRY, 0)).toBe(1234);
    expect(retryDelayMs(1, http(503, { 'retry-after': '2' }), DEFAULT_RETRY, 0)).toBe(2000);
    expect(
      retryDelayMs(
        1,
        http(429, {
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '1.5s',
          'x-ratelimit-remaining-tokens': '900',
          'x-ratelimit-reset-tokens': '30s',
        }),
        DEFAULT_RETRY,
        0,
      ),
    ).toBe(1500);
  });

  test('says what is happening', () => {
    expect(describeRetry(http(429), 4000, 2, 4)).toBe('rate limited, retrying in 4 s (attempt 2 of 4)');
    expect(describeRetry(http(503), 250, 3, 4)).toBe('server error 503, retrying in 250 ms (attempt 3 of 4)');
    expect(describeRetry(new NetworkError('x', { site, beforeSend: true }), 1000, 2, 3)).toBe(
      'connection closed, retrying in 1 s (attempt 2 of 3)',
    );
  });

  test("names the cause: the provider's error type, the system's code", () => {
    expect(describeRetry(new HttpError(503, 'busy', { site, providerType: 'service_unavailable' }), 1000, 2, 4)).toBe(
      'server error 503 (service_unavailable), retrying in 1 s (attempt 2 of 4)',
    );
    expect(describeRetry(new HttpError(429, 'spent', { site, providerType: 'rate_limit_exceeded' }), 1000, 2, 4)).toBe(
      'rate limited, retrying in 1 s (attempt 2 of 4)',
    );
    expect(describeRetry(new HttpError(429, 'spent', { site, providerType: 'tokens' }), 1000, 2, 4)).toBe(
      'rate limited (tokens), retrying in 1 s (attempt 2 of 4)',
    );
    expect(describeRetry(new ProviderError('boom', 'overloaded_error', { site }), 1000, 2, 4)).toBe(
      'provider overloaded, retrying in 1 s (attempt 2 of 4)',
    );
    expect(describeRetry(new ProviderError('boom', 'server_error', { site }), 1000, 2, 4)).toBe(
      'the provider reported an error (server_error), retrying in 1 s (attempt 2 of 4)',
    );
    expect(
      describeRetry(new NetworkError('x', { site, beforeSend: true, systemCode: 'ECONNREFUSED' }), 1000, 2, 4),
    ).toBe('connection refused, retrying in 1 s (attempt 2 of 4)');
    expect(describeRetry(new NetworkError('x', { site, beforeSend: true, systemCode: 'ECONNRESET' }), 1000, 2, 4)).toBe(
      'connection reset, retrying in 1 s (attempt 2 of 4)',
    );
    expect(
      describeRetry(new NetworkError('x', { site, beforeSend: true, systemCode: 'UND_ERR_CLOSED' }), 1000, 2, 4),
    ).toBe('connection failed (UND_ERR_CLOSED), retrying in 1 s (attempt 2 of 4)');
    expect(describeRetry(new TimeoutError('connect', 5000, { site }), 1000, 2, 4)).toBe(
      'connection timed out, retrying in 1 s (attempt 2 of 4)',
    );
  });
});

describe('CircuitBreaker', () => {
  test('opens after repeated health failures, lets one probe through after the cool-down, closes on its success', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 });
    for (let i = 0; i < 3; i++) breaker.onFailure(http(503), 0);
    expect(breaker.state(10)).toBe('open');
    expect(breaker.tryPass(10)).toBe(false);
    expect(breaker.tryPass(1000)).toBe(true);
    expect(breaker.tryPass(1000)).toBe(false); // one probe at a time
    breaker.onSuccess();
    expect(breaker.state(1000)).toBe('closed');
  });

  test('a failed probe re-opens it at once', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 1000 });
    breaker.onFailure(http(500), 0);
    breaker.onFailure(http(500), 0);
    expect(breaker.tryPass(1500)).toBe(true);
    breaker.onFailure(new NetworkError('refused', { site, beforeSend: true }), 1500);
    expect(breaker.state(1600)).toBe('open');
    expect(breaker.reopensAt()).toBe(2500);
  });

  test('client errors and cancellations say nothing about the endpoint health', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1000 });
    breaker.onFailure(http(400), 0);
    breaker.onFailure(http(429), 0);
    breaker.onFailure(new AuthError(401, 'no', { site }), 0);
    breaker.onFailure(new CancelledError({ site }), 0);
    expect(breaker.state(0)).toBe('closed');
  });
});

describe('Histogram', () => {
  test('percentiles within 5% of the truth', () => {
    const histogram = new Histogram();
    for (let ms = 1; ms <= 1000; ms++) histogram.record(ms);
    const { count, p50, p95, p99 } = histogram.summary();
    expect(count).toBe(1000);
    expect(Math.abs(p50! - 500) / 500).toBeLessThan(0.05);
    expect(Math.abs(p95! - 950) / 950).toBeLessThan(0.05);
    expect(Math.abs(p99! - 990) / 990).toBeLessThan(0.05);
  });

  test('the recent window forgets old slices; since-start does not', () => {
    const histogram = new WindowedHistogram(60_000, 10_000);
    histogram.record(5000, 0);
    histogram.record(10, 65_000);
    expect(histogram.recent(65_000).summary().count).toBe(1);
    expect(histogram.recent(65_000).percentile(50)).toBeLessThan(11);
    expect(histogram.sinceStart.count).toBe(2);
  });
});

describe('fake time', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  test('jittered backoff with fake timers waits no longer than its ceiling', async () => {
    let slept = false;
    const delay = retryDelayMs(2, http(502), DEFAULT_RETRY, Date.now());
    setTimeout(() => (slept = true), delay);
    await vi.advanceTimersByTimeAsync(DEFAULT_RETRY.baseDelayMs * 2);
    expect(slept).toBe(true);
  });
});
