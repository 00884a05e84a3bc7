import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CancelledError, LlmClient, collect } from '../../src/core';
import { Blackhole } from '../server/blackhole';
import { FORMATS, ask, rejection, useServer, waitFor } from './helpers';

const { server, client, endpoint } = useServer();

/** Starts a call, aborts it when `when` resolves, and returns the error and how long the rejection took after the abort. */
async function abortWhen(
  run: (signal: AbortSignal) => Promise<unknown>,
  when: Promise<unknown>,
): Promise<{ error: Error; afterAbortMs: number }> {
  const controller = new AbortController();
  const call = run(controller.signal);
  await when;
  const abortedAt = performance.now();
  controller.abort();
  const error = await rejection(call);
  return { error, afterAbortMs: performance.now() - abortedAt };
}

const untilRequest = (count = 1) =>
  new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (server().requests.length >= count) {
        clearInterval(poll);
        resolve();
      }
    }, 2);
  });

test('an already-aborted signal fails before anything is sent', async () => {
  const error = await rejection(
    collect(client().stream(ask(), { endpoint: endpoint('openai'), signal: AbortSignal.abort() })),
  );
  expect(error).toBeInstanceOf(CancelledError);
  expect(server().requests).toHaveLength(0);
});

test('queued in the pool behind a busy connection: rejects at once, is never sent, and the connection survives', async () => {
  const single = new LlmClient({ maxConnectionsPerOrigin: 1 });
  try {
    server().enqueue({ tokens: ['slow ', 'answer'], tokenDelayMs: 300 });
    const first = collect(single.stream(ask('first'), { endpoint: endpoint('openai') }));
    await untilRequest(1);
    const { error, afterAbortMs } = await abortWhen(
      (signal) => collect(single.stream(ask('second'), { endpoint: endpoint('openai'), signal })),
      new Promise((resolve) => setTimeout(resolve, 50)),
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect(afterAbortMs).toBeLessThan(1000);
    expect((await first).text).toBe('slow answer');
    expect(server().requests.map((r) => (r.body.messages as { content: string }[])[0]!.content)).toEqual(['first']);
    expect(server().disconnects).toBe(0);
    // The one connection is still usable.
    expect((await collect(single.stream(ask('third'), { endpoint: endpoint('openai') }))).text).toBe('Hello, world!');
  } finally {
    await single.close();
  }
});

describe('while connecting', () => {
  let blackhole: Blackhole;
  beforeAll(async () => {
    blackhole = await Blackhole.start();
  });
  afterAll(() => blackhole.close());

  test('rejects at once with a cancellation', async () => {
    const { error, afterAbortMs } = await abortWhen(
      (signal) =>
        collect(
          client().stream(ask(), { endpoint: { provider: 'ollama', baseUrl: blackhole.origin, model: 'm' }, signal }),
        ),
      new Promise((resolve) => setTimeout(resolve, 100)),
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect(error.message).toBe('The request to Ollama at 127.0.0.1:' + blackhole.port + ' was cancelled.');
    expect(afterAbortMs).toBeLessThan(1000);
  });
});

describe.each(FORMATS)('%s', (provider) => {
  test('while waiting for headers: rejects at once and the server sees the disconnect', async () => {
    server().respond({ headersDelayMs: 10_000 });
    const disconnected = server().waitForDisconnect();
    const { error, afterAbortMs } = await abortWhen(
      (signal) => collect(client().stream(ask(), { endpoint: endpoint(provider), signal })),
      untilRequest(),
    );
    expect(error).toBeInstanceOf(CancelledError);
    expect((error as CancelledError).retryable).toBe(false);
    expect(afterAbortMs).toBeLessThan(1000);
    await disconnected;
  });

  test('mid-stream: rejects at once, keeps the text already seen, and the socket closes', async () => {
    server().respond({ tokens: ['one ', 'two ', 'three'], stallAfter: 2, keepAliveEveryMs: 20 });
    const seen: string[] = [];
    let secondToken!: () => void;
    const gotTwo = new Promise<void>((resolve) => (secondToken = resolve));
    const disconnected = server().waitForDisconnect();
    const { error, afterAbortMs } = await abortWhen(async (signal) => {
      for await (const event of client().stream(ask(), { endpoint: endpoint(provider), signal })) {
        if (event.type !== 'text') continue;
        seen.push(event.text);
        if (seen.length === 2) secondToken();
      }
    }, gotTwo);
    expect(error).toBeInstanceOf(CancelledError);
    expect(seen).toEqual(['one ', 'two ']);
    expect(afterAbortMs).toBeLessThan(1000);
    await disconnected;
    expect(server().requests).toHaveLength(1); // nothing retried it
  });

  test('breaking out of the loop cancels the request at the server', async () => {
    server().respond({ tokens: ['a', 'b', 'c'], stallAfter: 1 });
    const disconnected = server().waitForDisconnect();
    for await (const event of client().stream(ask(), { endpoint: endpoint(provider) })) {
      if (event.type === 'text') break;
    }
    await disconnected;
    expect(server().disconnects).toBe(1);
  });
});

test('a thousand aborts in every phase leak no socket, listener or timer', async () => {
  const capped = new LlmClient({ maxConnectionsPerOrigin: 16 });
  const timersBefore = countTimers();
  server().respond((_request, index) =>
    index % 2 === 0 ? { headersDelayMs: 10_000 } : { tokens: ['x', 'y'], stallAfter: 1 },
  );
  const signals: AbortSignal[] = [];
  const round = async (i: number): Promise<Error> => {
    const controller = new AbortController();
    signals.push(controller.signal);
    const call = (async () => {
      for await (const _event of capped.stream(ask(), {
        endpoint: endpoint(FORMATS[i % 3]!),
        signal: controller.signal,
      }));
    })();
    // Abort at a spread of moments: queued in the pool, waiting for headers, mid-stream.
    await new Promise((resolve) => setTimeout(resolve, i % 7));
    controller.abort();
    return rejection(call);
  };
  for (let batch = 0; batch < 20; batch++) {
    const errors = await Promise.all(Array.from({ length: 50 }, (_, j) => round(batch * 50 + j)));
    for (const error of errors) expect(error).toBeInstanceOf(CancelledError);
  }
  // Every request that reached the server was cut off there, and none is left running or queued.
  // undici counts an aborted request as running until its socket has closed, a moment after the abort.
  const settled = (): boolean => {
    const stats = capped.connectionStats();
    return stats.pending === 0 && stats.running === 0;
  };
  await waitFor(
    () => server().disconnects === server().requests.length && settled(),
    'every request to be cut off at the server and none running or pending',
    5000,
  );
  expect(server().disconnects).toBe(server().requests.length);
  expect(capped.connectionStats()).toMatchObject({ running: 0, pending: 0, queued: 0 });
  expect(server().openConnections).toBeLessThanOrEqual(16);
  expect(signals.every((signal) => getEventListeners(signal, 'abort').length === 0)).toBe(true);
  expect(countTimers()).toBeLessThanOrEqual(timersBefore);
  await capped.close();
  await waitFor(() => server().openConnections === 0, 'every connection to close', 5000);
  expect(server().openConnections).toBe(0);
});

function countTimers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

test('a caller that stops reading early gives its concurrency slot back', async () => {
  server().respond({ tokens: ['a', 'b', 'c'], tokenDelayMs: 20 });
  const own = new LlmClient();
  const single = endpoint('openai', { concurrency: 1 });
  try {
    for await (const event of own.stream(ask(), { endpoint: single })) if (event.type === 'text') break;
    expect(own.metrics().endpoints[0]!.inFlight).toBe(0);
    // With the slot still taken, this one would wait for ever.
    expect((await collect(own.stream(ask(), { endpoint: single }))).text).toBe('abc');
  } finally {
    await own.close();
  }
});
