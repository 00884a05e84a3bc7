import { afterEach, describe, expect, test } from 'vitest';
import {
  CancelledError,
  EndpointUnavailableError,
  HttpError,
  LlmClient,
  NetworkError,
  TimeoutError,
  collect,
  type ClientOptions,
  type StreamEvent,
} from '../../src/core';
import { TestLlmServer } from '../server/llm-server';
import { ask, rejection, useServer } from './helpers';

const { server, endpoint } = useServer();
const clients: LlmClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A client with fast backoff so retry tests take milliseconds. */
function flowClient(options: ClientOptions = {}): LlmClient {
  const client = new LlmClient({
    retry: { baseDelayMs: 10, ...options.retry },
    ...options,
    ...(options.retry ? {} : {}),
  });
  clients.push(client);
  return client;
}

async function events(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const seen: StreamEvent[] = [];
  for await (const event of stream) seen.push(event);
  return seen;
}

const texts = (seen: StreamEvent[]) => seen.flatMap((e) => (e.type === 'text' ? [e.text] : []));

describe('retries', () => {
  test('429 then success: one retry event that says why and when, and the text once', async () => {
    server().enqueue({ status: 429, headers: { 'retry-after-ms': '40' } }, { tokens: ['only ', 'once'] });
    const seen = await events(flowClient().stream(ask(), { endpoint: endpoint('openai') }));
    expect(texts(seen)).toEqual(['only ', 'once']);
    const retries = seen.filter((e) => e.type === 'retry');
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({
      attempt: 2,
      maxAttempts: 4,
      delayMs: 40,
      message: 'rate limited, retrying in 40 ms (attempt 2 of 4)',
    });
    expect(server().requests).toHaveLength(2);
    expect(server().arrivals[1]! - server().arrivals[0]!).toBeGreaterThanOrEqual(35);
  });

  test.each([500, 502, 503, 504, 529, 408, 409])('%i twice, then success', async (status) => {
    server().enqueue({ status }, { status }, { tokens: ['ok'] });
    const client = flowClient();
    const completion = await client.complete(ask(), { endpoint: endpoint('anthropic'), stream: true });
    expect(completion.text).toBe('ok');
    expect(client.metrics().overall).toMatchObject({ requests: 1, succeeded: 1, retries: 2 });
  });

  test.each([
    [400, {}],
    [401, {}],
    [403, {}],
    [404, {}],
  ])('%i is never retried', async (status, headers) => {
    server().respond({ status, headers });
    await rejection(collect(flowClient().stream(ask(), { endpoint: endpoint('openai') })));
    expect(server().requests).toHaveLength(1);
  });

  test('a 429 that says the quota is exhausted is not retried', async () => {
    server().respond({
      status: 429,
      error: { message: 'You exceeded your current quota', type: 'insufficient_quota' },
    });
    const error = (await rejection(collect(flowClient().stream(ask(), { endpoint: endpoint('openai') })))) as HttpError;
    expect(error.providerType).toBe('insufficient_quota');
    expect(server().requests).toHaveLength(1);
  });

  test('x-should-retry: true makes a 400 retryable', async () => {
    server().enqueue({ status: 400, headers: { 'x-should-retry': 'true' } }, { tokens: ['ok'] });
    expect((await collect(flowClient().stream(ask(), { endpoint: endpoint('openai') }))).text).toBe('ok');
  });

  test('a reset after text arrived is not retried: the partial text stays with the error, never shown twice', async () => {
    server().respond({ tokens: ['partial ', 'text ', 'lost'], tokenDelayMs: 30, resetAfter: 2 });
    const seen: StreamEvent[] = [];
    const error = (await rejection(
      (async () => {
        for await (const event of flowClient().stream(ask(), { endpoint: endpoint('ollama') })) seen.push(event);
      })(),
    )) as NetworkError;
    expect(error).toBeInstanceOf(NetworkError);
    expect(error.partialText).toBe('partial text ');
    expect(texts(seen)).toEqual(['partial ', 'text ']);
    expect(server().requests).toHaveLength(1);
  });

  test('a refused connection is retried, up to the attempt limit', async () => {
    const gone = await TestLlmServer.start();
    const origin = gone.origin;
    await gone.close();
    const seen: StreamEvent[] = [];
    const error = await rejection(
      (async () => {
        for await (const event of flowClient({ retry: { maxAttempts: 3 } }).stream(ask(), {
          endpoint: { provider: 'ollama', baseUrl: origin, model: 'm' },
        }))
          seen.push(event);
      })(),
    );
    expect(error).toBeInstanceOf(NetworkError);
    expect(seen.map((e) => e.type)).toEqual(['retry', 'retry']);
  });

  test('a retry-after beyond the total deadline fails at once instead of waiting', async () => {
    server().respond({ status: 429, headers: { 'retry-after': '30' } });
    const started = performance.now();
    const error = await rejection(
      collect(flowClient().stream(ask(), { endpoint: endpoint('openai'), timeouts: { totalMs: 2000 } })),
    );
    expect(error).toBeInstanceOf(HttpError);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(server().requests).toHaveLength(1);
  });

  test('cancelling during the backoff wait stops at once', async () => {
    server().respond({ status: 503, headers: { 'retry-after': '10' } });
    const controller = new AbortController();
    const call = collect(flowClient().stream(ask(), { endpoint: endpoint('openai'), signal: controller.signal }));
    while (server().requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    expect(await rejection(call)).toBeInstanceOf(CancelledError);
    expect(server().requests).toHaveLength(1);
  });

  test('a 429 pauses the whole endpoint, not just the request that got it', async () => {
    const client = flowClient({ retry: { maxAttempts: 2 } });
    server().enqueue({ status: 429, headers: { 'retry-after-ms': '300' } });
    const first = collect(client.stream(ask('first'), { endpoint: endpoint('openai') }));
    while (server().requests.length === 0) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 50));
    const second = collect(client.stream(ask('second'), { endpoint: endpoint('openai') }));
    await Promise.all([first, second]);
    const secondArrival = server().requests.findIndex(
      (r) => (r.body.messages as { content: string }[])[0]!.content === 'second',
    );
    expect(server().arrivals[secondArrival]! - server().arrivals[0]!).toBeGreaterThanOrEqual(280);
  });
});

describe('admission against a server that enforces its limit', () => {
  test('configured with the server RPM: zero 429s, and near the ideal time', async () => {
    server().limit({ rpm: 3000 }); // 50/s, burst 50
    const client = flowClient();
    const started = performance.now();
    const calls = Array.from({ length: 150 }, () =>
      collect(client.stream(ask(), { endpoint: endpoint('openai', { rpm: 3000, concurrency: 64 }) })),
    );
    await Promise.all(calls);
    const elapsed = performance.now() - started;
    expect(server().rejected).toBe(0);
    expect(server().requests).toHaveLength(150);
    expect(elapsed).toBeGreaterThanOrEqual(1900); // (150 - 50 burst) / 50 per second
  });

  test('at 60 RPM, where the server holds one request at a time: zero 429s', async () => {
    server().limit({ rpm: 60 }); // one per second, burst 1
    const client = flowClient();
    const calls = Array.from({ length: 4 }, () =>
      collect(client.stream(ask(), { endpoint: endpoint('openai', { rpm: 60 }) })),
    );
    await Promise.all(calls);
    expect(server().rejected).toBe(0);
    const gaps = server()
      .arrivals.slice(1)
      .map((t, i) => t - server().arrivals[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(1050); // one second plus most of the 100 ms lead
  });

  test('no configured RPM: paces itself from the headers and 429s, so few requests are refused', async () => {
    server().limit({ rpm: 3000, headers: 'openai' });
    const client = flowClient({ retry: { maxAttempts: 10 } });
    const calls = Array.from({ length: 150 }, () =>
      collect(client.stream(ask(), { endpoint: endpoint('openai', { concurrency: 64 }) })),
    );
    await Promise.all(calls);
    expect(server().requests.length - server().rejected).toBe(150);
    expect(server().rejected).toBeLessThan(15);
    expect(client.metrics().endpoints[0]!.quota.requests.limit).toBe(3000);
  });

  test('TPM: a reservation the budget cannot cover waits', async () => {
    const client = flowClient();
    const started = performance.now();
    // 6000 tokens/min = 100/s, burst 100; each request reserves ~5 prompt + 95 output.
    await Promise.all(
      Array.from({ length: 4 }, () =>
        collect(client.stream({ ...ask('x'), maxTokens: 95 }, { endpoint: endpoint('openai', { tpm: 6000 }) })),
      ),
    );
    // usage reports 5 + 3 tokens: the unused reservation comes back, so 4 requests need far less than 4 s.
    expect(performance.now() - started).toBeLessThan(1500);
    expect(server().requests).toHaveLength(4);
  });
});

describe('breaker and failover', () => {
  test('repeated failures open the breaker: calls then fail fast without reaching the server, and a probe closes it', async () => {
    const client = flowClient({ retry: { maxAttempts: 1 }, breaker: { failureThreshold: 3, cooldownMs: 300 } });
    server().respond({ status: 503 });
    for (let i = 0; i < 3; i++) await rejection(collect(client.stream(ask(), { endpoint: endpoint('openai') })));
    const fast = await rejection(collect(client.stream(ask(), { endpoint: endpoint('openai') })));
    expect(fast).toBeInstanceOf(EndpointUnavailableError);
    expect(fast.message).toMatch(/is failing repeatedly.*try it again in 1 s/);
    expect(server().requests).toHaveLength(3);
    expect(client.metrics().endpoints[0]!.breaker).toBe('open');
    await new Promise((r) => setTimeout(r, 350));
    server().respond({ tokens: ['back'] });
    expect((await collect(client.stream(ask(), { endpoint: endpoint('openai') }))).text).toBe('back');
    expect(client.metrics().endpoints[0]!.breaker).toBe('closed');
  });

  test('a probe that goes without an answer (cancelled, or its reader stopped) lets the next call probe', async () => {
    const client = flowClient({ retry: { maxAttempts: 1 }, breaker: { failureThreshold: 1, cooldownMs: 200 } });
    server().respond({ status: 503 });
    await rejection(collect(client.stream(ask(), { endpoint: endpoint('openai') })));
    await new Promise((r) => setTimeout(r, 250));
    // The probe's caller gives up before it is sent.
    const cancelled = await rejection(
      collect(client.stream(ask(), { endpoint: endpoint('openai'), signal: AbortSignal.abort() })),
    );
    expect(cancelled).toBeInstanceOf(CancelledError);
    // The next probe's reader stops after the first event.
    server().respond({ tokens: ['back ', 'again'], tokenDelayMs: 50 });
    for await (const event of client.stream(ask(), { endpoint: endpoint('openai') })) if (event.type === 'text') break;
    expect(client.metrics().endpoints[0]!.breaker).toBe('half-open');
    // Neither held the probe: this call is sent, and its answer closes the breaker.
    expect((await collect(client.stream(ask(), { endpoint: endpoint('openai') }))).text).toBe('back again');
    expect(client.metrics().endpoints[0]!.breaker).toBe('closed');
  });

  test('a failing endpoint hands over to its fallback, with a failover event', async () => {
    const backup = await TestLlmServer.start();
    try {
      server().respond({ status: 503 });
      backup.respond({ tokens: ['from ', 'backup'] });
      const client = flowClient({ retry: { maxAttempts: 2 } });
      const seen = await events(
        client.stream(ask(), {
          endpoint: endpoint('openai', { id: 'cloud' }),
          fallbacks: [{ id: 'local', provider: 'ollama', baseUrl: backup.origin, model: 'llama' }],
        }),
      );
      expect(texts(seen)).toEqual(['from ', 'backup']);
      const failover = seen.find((e) => e.type === 'failover');
      expect(failover).toMatchObject({ from: 'cloud', to: 'local' });
      expect((failover as { message: string }).message).toMatch(
        /answered 503.*Trying Ollama at 127\.0\.0\.1:\d+ instead\./,
      );
      const metrics = client.metrics();
      expect(metrics.endpoints.find((e) => e.id === 'cloud')).toMatchObject({
        requests: 1,
        failed: { FLOWGATE_HTTP: 1 },
      });
      expect(metrics.endpoints.find((e) => e.id === 'local')).toMatchObject({ requests: 1, succeeded: 1 });
      expect(metrics.overall).toMatchObject({ requests: 1, succeeded: 1 });
    } finally {
      await backup.close();
    }
  });

  test('a rate-limited endpoint hands over to its fallback at once instead of waiting', async () => {
    const backup = await TestLlmServer.start();
    try {
      server().respond({ status: 429, headers: { 'retry-after': '20' } });
      const started = performance.now();
      const completion = await collect(
        flowClient().stream(ask(), {
          endpoint: endpoint('openai'),
          fallbacks: [{ provider: 'ollama', baseUrl: backup.origin, model: 'm' }],
        }),
      );
      expect(completion.text).toBe('Hello, world!');
      expect(performance.now() - started).toBeLessThan(2000);
      expect(server().requests).toHaveLength(1);
    } finally {
      await backup.close();
    }
  });

  test('an open breaker sends the call straight to the fallback', async () => {
    const backup = await TestLlmServer.start();
    try {
      const client = flowClient({ retry: { maxAttempts: 1 }, breaker: { failureThreshold: 1, cooldownMs: 60_000 } });
      server().respond({ status: 500 });
      await rejection(collect(client.stream(ask(), { endpoint: endpoint('openai', { id: 'cloud' }) })));
      const completion = await collect(
        client.stream(ask(), {
          endpoint: endpoint('openai', { id: 'cloud' }),
          fallbacks: [{ provider: 'ollama', baseUrl: backup.origin, model: 'm' }],
        }),
      );
      expect(completion.text).toBe('Hello, world!');
      expect(server().requests).toHaveLength(1);
    } finally {
      await backup.close();
    }
  });

  test('a request the provider rejects as wrong does not fail over', async () => {
    const backup = await TestLlmServer.start();
    try {
      server().respond({ status: 400 });
      await rejection(
        collect(
          flowClient().stream(ask(), {
            endpoint: endpoint('openai'),
            fallbacks: [{ provider: 'ollama', baseUrl: backup.origin, model: 'm' }],
          }),
        ),
      );
      expect(backup.requests).toHaveLength(0);
    } finally {
      await backup.close();
    }
  });
});

describe('metrics', () => {
  test('counts, percentiles, tokens and quota per endpoint and overall', async () => {
    server().respond({
      tokens: ['a', 'b', 'c'],
      tokenDelayMs: 10,
      usage: { input: 7, output: 3 },
      headers: {
        'x-ratelimit-limit-requests': '6000',
        'x-ratelimit-remaining-requests': '5999',
        'x-ratelimit-reset-requests': '5s',
      },
    });
    const client = flowClient();
    for (let i = 0; i < 5; i++) await collect(client.stream(ask(), { endpoint: endpoint('openai') }));
    server().respond({ status: 400 });
    await rejection(collect(client.stream(ask(), { endpoint: endpoint('openai') })));
    const { overall, endpoints } = client.metrics();
    expect(overall).toMatchObject({
      requests: 6,
      succeeded: 5,
      failed: { FLOWGATE_HTTP: 1 },
      inFlight: 0,
      queued: 0,
      inputTokens: 35,
      outputTokens: 15,
    });
    expect(overall.latencyMs.sinceStart.count).toBe(5);
    expect(overall.latencyMs.recent.p50).toBeGreaterThanOrEqual(19);
    expect(overall.ttftMs.sinceStart.p99).toBeDefined();
    expect(overall.outputTokensPerSecond).toBeGreaterThan(0);
    expect(endpoints).toHaveLength(1);
    // The last header said 5999; the failed request sent after it counts too.
    expect(endpoints[0]!.quota.requests).toMatchObject({ limit: 6000, remaining: 5998 });
  });

  test("the Responses API's rate-limit headers are learnt as chat completions' are", async () => {
    server().respond({
      tokens: ['ok'],
      headers: {
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-limit-tokens': '30000',
        'x-ratelimit-remaining-tokens': '29000',
        'x-ratelimit-reset-tokens': '2s',
      },
    });
    const client = flowClient();
    await collect(client.stream(ask(), { endpoint: endpoint('openai-responses') }));
    const [responses] = client.metrics().endpoints;
    expect(server().requests[0]!.path).toBe('/v1/responses');
    expect(responses!.quota.requests).toMatchObject({ limit: 500, remaining: 499 });
    expect(responses!.quota.tokens).toMatchObject({ limit: 30000, remaining: 29000 });
  });

  test('in flight and queued are visible while they happen, and the change event is throttled', async () => {
    server().respond({ tokens: ['x', 'y'], tokenDelayMs: 200 });
    const client = flowClient({ metricsIntervalMs: 100 });
    let changes = 0;
    client.onMetricsChange(() => changes++);
    const calls = Array.from({ length: 5 }, () =>
      collect(client.stream(ask(), { endpoint: endpoint('openai', { concurrency: 2 }) })),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(client.metrics().overall).toMatchObject({ inFlight: 2, queued: 3 });
    expect(client.metrics().endpoints[0]!.oldestQueuedMs).toBeGreaterThanOrEqual(50);
    await Promise.all(calls);
    await new Promise((r) => setTimeout(r, 150));
    expect(changes).toBeGreaterThan(1);
    expect(changes).toBeLessThan(12); // 5 calls make dozens of changes; at most one per 100 ms is reported
  });

  test('a call queued behind the concurrency cap can be cancelled', async () => {
    server().respond({ tokens: ['x'], firstTokenDelayMs: 300 });
    const client = flowClient();
    const busy = collect(client.stream(ask(), { endpoint: endpoint('openai', { concurrency: 1 }) }));
    const controller = new AbortController();
    const queued = collect(
      client.stream(ask(), { endpoint: endpoint('openai', { concurrency: 1 }), signal: controller.signal }),
    );
    await new Promise((r) => setTimeout(r, 30));
    controller.abort();
    expect(await rejection(queued)).toBeInstanceOf(CancelledError);
    await busy;
    expect(server().requests).toHaveLength(1);
  });

  test('the total deadline also bounds the time spent queued', async () => {
    server().respond({ tokens: ['x'], firstTokenDelayMs: 500 });
    const client = flowClient();
    const busy = collect(client.stream(ask(), { endpoint: endpoint('openai', { concurrency: 1 }) }));
    const error = await rejection(
      collect(client.stream(ask(), { endpoint: endpoint('openai', { concurrency: 1 }), timeouts: { totalMs: 100 } })),
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).phase).toBe('total');
    await busy;
  });
});
