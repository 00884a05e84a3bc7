import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { QuotaModel } from '../../src/core/flow/quota';
import { parseRateLimitHeaders } from '../../src/core/flow/rate-limit-headers';
import { EndpointScheduler, type AdmissionRequest, type Lease, type Priority } from '../../src/core/flow/scheduler';

const request = (overrides: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  priority: 'interactive',
  tokens: 10,
  onDeadline: () => new Error('deadline'),
  onCancel: () => new Error('cancelled'),
  ...overrides,
});

describe('EndpointScheduler (fake time)', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  /** Admission times (fake ms) of `count` requests, each released at once. */
  async function admissionTimes(
    scheduler: EndpointScheduler,
    count: number,
    untilMs: number,
    tokens = 10,
  ): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      void scheduler.acquire(request({ tokens })).then((lease) => {
        times.push(Date.now());
        lease.release(tokens);
      });
    }
    await vi.advanceTimersByTimeAsync(untilMs);
    return times;
  }

  test('RPM: one second of burst, then paced evenly; never more than the budget in any window', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 100, rpm: 600 }, new QuotaModel());
    const times = await admissionTimes(scheduler, 40, 5000);
    expect(times).toHaveLength(40);
    expect(times.filter((t) => t === 0)).toHaveLength(9);
    expect(times[39]).toBe(3100);
    // In any one-second window at most 9 (the burst) + 10 (the refill) requests are admitted.
    for (const start of times)
      expect(times.filter((t) => t >= start && t < start + 1000).length).toBeLessThanOrEqual(20);
  });

  test('TPM: a reservation waits for budget; the unused part is given back on release', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 100, tpm: 6000 }, new QuotaModel()); // 100 tokens/s, burst 100
    const first = await scheduler.acquire(request({ tokens: 100 }));
    let secondAt: number | undefined;
    void scheduler.acquire(request({ tokens: 100 })).then(() => (secondAt = Date.now()));
    await vi.advanceTimersByTimeAsync(100);
    expect(secondAt).toBeUndefined();
    first.release(20); // only 20 were used: 80 come back
    await vi.advanceTimersByTimeAsync(300);
    // The first reservation filled the server's whole bucket, so it also paid the 100 ms safety margin
    // (10 tokens): -20 at 0 ms, -10 at 100 ms, +80 back = 70; the second needs 90 (the bucket) at 300 ms.
    expect(secondAt).toBe(300);
  });

  test('concurrency: a slot frees only on release', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 2 }, new QuotaModel());
    const leases: Lease[] = [];
    for (let i = 0; i < 3; i++) void scheduler.acquire(request()).then((lease) => leases.push(lease));
    await vi.advanceTimersByTimeAsync(10);
    expect(leases).toHaveLength(2);
    expect(scheduler.stats()).toMatchObject({ inFlight: 2, queued: 1 });
    leases[0]!.release();
    leases[0]!.release(); // a second release is ignored
    await vi.advanceTimersByTimeAsync(0);
    expect(leases).toHaveLength(3);
    expect(scheduler.stats()).toMatchObject({ inFlight: 2, queued: 0 });
  });

  test('interactive requests go ahead of batch items already waiting', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 1 }, new QuotaModel());
    const order: string[] = [];
    const hold = await scheduler.acquire(request());
    const enqueue = (priority: Priority, name: string) =>
      void scheduler.acquire(request({ priority })).then((lease) => {
        order.push(name);
        lease.release();
      });
    enqueue('batch', 'b1');
    enqueue('batch', 'b2');
    enqueue('interactive', 'chat');
    vi.advanceTimersByTime(5000);
    expect(scheduler.stats()).toMatchObject({ queued: 3, oldestWaitMs: 5000 });
    hold.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['chat', 'b1', 'b2']);
  });

  test('a queued request leaves at once when aborted, and at its deadline', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 1 }, new QuotaModel());
    await scheduler.acquire(request());
    const controller = new AbortController();
    const aborted = scheduler.acquire(request({ signal: controller.signal }));
    const late = scheduler.acquire(request({ deadlineAt: 300 })).catch((error: Error) => error);
    controller.abort();
    await expect(aborted).rejects.toThrow('cancelled');
    await vi.advanceTimersByTimeAsync(300);
    expect(await late).toEqual(new Error('deadline'));
    expect(scheduler.stats().queued).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a pause holds every request until it ends', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 10 }, new QuotaModel());
    scheduler.pauseUntil(2000);
    const times = await admissionTimes(scheduler, 3, 3000);
    expect(times).toEqual([2000, 2000, 2000]);
  });

  test('learnt quota: what is left caps the burst, then the learnt rate paces', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 10 }, new QuotaModel());
    const lease = await scheduler.acquire(request());
    scheduler.learn(
      parseRateLimitHeaders(
        {
          'x-ratelimit-limit-requests': '6000',
          'x-ratelimit-remaining-requests': '3',
          'x-ratelimit-reset-requests': '1s',
        },
        0,
      ),
      lease,
    );
    const times = await admissionTimes(scheduler, 5, 2000);
    expect(times).toEqual([0, 0, 0, 10, 20]);
  });

  test('without a limit, a spent allowance waits for its reset', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 10 }, new QuotaModel());
    const lease = await scheduler.acquire(request());
    scheduler.learn(
      parseRateLimitHeaders({ 'x-ratelimit-remaining-requests': '2', 'x-ratelimit-reset-requests': '1s' }, 0),
      lease,
    );
    const times = await admissionTimes(scheduler, 3, 2000);
    expect(times).toEqual([0, 0, 1000]);
  });

  test('headers count only what was sent after the request they answer', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 10 }, new QuotaModel());
    const first = await scheduler.acquire(request());
    await scheduler.acquire(request());
    await scheduler.acquire(request());
    // The first request's response says 2 are left; the two sent after it already used them.
    scheduler.learn(
      parseRateLimitHeaders({ 'x-ratelimit-remaining-requests': '2', 'x-ratelimit-reset-requests': '1s' }, 0),
      first,
    );
    const times = await admissionTimes(scheduler, 1, 2000);
    expect(times).toEqual([1000]);
  });

  test('learnt and configured limits: the tighter wins', async () => {
    const scheduler = new EndpointScheduler({ concurrency: 100, rpm: 6000 }, new QuotaModel());
    const lease = await scheduler.acquire(request());
    lease.release();
    scheduler.learn(parseRateLimitHeaders({ 'x-ratelimit-limit-requests': '600' }, 0), lease);
    const times = await admissionTimes(scheduler, 20, 2000);
    expect(times.filter((t) => t === 0)).toHaveLength(9); // the learnt 600/min, not the configured 6000/min
  });
});
