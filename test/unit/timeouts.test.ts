import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LlmClient, TimeoutError, collect } from '../../src/core';
import { Blackhole } from '../server/blackhole';
import { FORMATS, ask, rejection, useServer } from './helpers';

const { server, client, endpoint } = useServer();

async function timeoutOf(promise: Promise<unknown>): Promise<TimeoutError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(TimeoutError);
  return error as TimeoutError;
}

describe('connect timeout', () => {
  let blackhole: Blackhole;
  beforeAll(async () => {
    blackhole = await Blackhole.start();
  });
  afterAll(() => blackhole.close());

  test('a host that never completes the handshake raises the connect timeout', async () => {
    const started = performance.now();
    const error = await timeoutOf(
      collect(
        client().stream(ask(), {
          endpoint: { provider: 'ollama', baseUrl: blackhole.origin, model: 'm' },
          timeouts: { connectMs: 300 },
        }),
      ),
    );
    expect(error.phase).toBe('connect');
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/could not be connected to within 300 ms/);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe.each(FORMATS)('%s', (provider) => {
  test('first-token timeout when headers never come', async () => {
    server().respond({ headersDelayMs: 5000 });
    const error = await timeoutOf(
      collect(client().stream(ask(), { endpoint: endpoint(provider), timeouts: { firstTokenMs: 200 } })),
    );
    expect(error.phase).toBe('firstToken');
    expect(error.retryable).toBe(false);
  });

  test('first-token timeout when headers come but no token does, even with keep-alives', async () => {
    server().respond({ firstTokenDelayMs: 5000, keepAliveEveryMs: 30 });
    const error = await timeoutOf(
      collect(client().stream(ask(), { endpoint: endpoint(provider), timeouts: { firstTokenMs: 250 } })),
    );
    expect(error.phase).toBe('firstToken');
  });

  test('a slow first token inside the limit succeeds', async () => {
    server().respond({ firstTokenDelayMs: 300 });
    const completion = await collect(
      client().stream(ask(), { endpoint: endpoint(provider), timeouts: { firstTokenMs: 2000, idleMs: 100 } }),
    );
    expect(completion.text).toBe('Hello, world!');
  });

  test('idle timeout on a stall mid-stream; keep-alive pings do not reset it', async () => {
    server().respond({ tokens: ['a', 'b', 'c', 'd'], stallAfter: 2, keepAliveEveryMs: 20 });
    const seen: string[] = [];
    const error = await timeoutOf(
      (async () => {
        for await (const event of client().stream(ask(), { endpoint: endpoint(provider), timeouts: { idleMs: 250 } })) {
          if (event.type === 'text') seen.push(event.text);
        }
      })(),
    );
    expect(error.phase).toBe('idle');
    expect(seen).toEqual(['a', 'b']);
    expect(error.message).toMatch(/stopped sending tokens for 250 ms mid-answer/);
  });

  test('total timeout while tokens keep flowing', async () => {
    server().respond({ tokens: Array.from({ length: 100 }, () => 'x'), tokenDelayMs: 20 });
    const error = await timeoutOf(
      collect(client().stream(ask(), { endpoint: endpoint(provider), timeouts: { totalMs: 300, idleMs: 1000 } })),
    );
    expect(error.phase).toBe('total');
  });
});

test('non-streaming: first-token covers the wait for the body', async () => {
  server().respond({ headersDelayMs: 5000 });
  const error = await timeoutOf(
    client().complete(ask(), { endpoint: endpoint('openai'), timeouts: { firstTokenMs: 200 } }),
  );
  expect(error.phase).toBe('firstToken');
});

test('the client-wide timeouts apply when a call gives none', async () => {
  const strict = new LlmClient({ timeouts: { firstTokenMs: 150 } });
  server().respond({ headersDelayMs: 3000 });
  try {
    const error = await timeoutOf(collect(strict.stream(ask(), { endpoint: endpoint('ollama') })));
    expect(error.phase).toBe('firstToken');
  } finally {
    await strict.close();
  }
});

test('a timeout closes the socket so the server stops generating', async () => {
  server().respond({ tokens: ['a', 'b'], stallAfter: 1 });
  const disconnected = server().waitForDisconnect();
  await timeoutOf(collect(client().stream(ask(), { endpoint: endpoint('openai'), timeouts: { idleMs: 150 } })));
  await disconnected;
  expect(server().disconnects).toBe(1);
});
