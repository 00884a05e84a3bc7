/**
 * Streamed text is never lost and never paid for twice, and the end marker
 * ends the answer, whatever the server does around it.
 */
import { describe, expect, test } from 'vitest';
import { LlmClient, ProviderError, collect, type FlowgateError } from '../../src/core';
import { FORMATS, ask, rejection, useServer, waitFor } from './helpers';

// Retries allowed: a lost text would show up as a second request.
const { server, client, endpoint } = useServer({ retry: { maxAttempts: 3, baseDelayMs: 1 } });

const endMarker: Record<string, string> = { openai: 'data: [DONE]', anthropic: 'message_stop', ollama: '"done": true' };

describe.each(FORMATS)('%s', (provider) => {
  test('text and an error event in one network read: the text reaches the caller, and nothing is sent again', async () => {
    server().respond({ tokens: ['first ', 'second ', 'third'], errorEventAfter: 2, oneWrite: true });
    const seen: string[] = [];
    const error = (await rejection(
      collect(client().stream(ask(), { endpoint: endpoint(provider) }), (text) => seen.push(text)),
    )) as FlowgateError;
    expect(error).toBeInstanceOf(ProviderError);
    expect(seen.join('')).toBe('first second ');
    expect(error.partialText).toBe('first second ');
    expect(server().requests).toHaveLength(1);
  });

  test(`text after the end marker (${endMarker[provider]}) is neither appended nor parsed`, async () => {
    const junk =
      provider === 'ollama'
        ? '{"message":{"content":"EXTRA"},"done":false}\nnot json at all\n'
        : 'data: {"choices":[{"delta":{"content":"EXTRA"}}]}\n\ndata: not json at all\n\n';
    server().respond({ tokens: ['whole ', 'answer'], afterEnd: junk, oneWrite: true });
    const completion = await collect(client().stream(ask(), { endpoint: endpoint(provider) }));
    expect(completion.text).toBe('whole answer');
    expect(completion.finishReason).toBe('stop');
    expect(server().requests).toHaveLength(1);
  });

  test('a server that holds the connection open after the end marker does not turn the answer into an idle timeout', async () => {
    server().respond({ tokens: ['done ', 'here'], holdOpenAfterEnd: true });
    const started = performance.now();
    const completion = await collect(
      client().stream(ask(), { endpoint: endpoint(provider), timeouts: { idleMs: 2000 } }),
    );
    expect(completion.text).toBe('done here');
    expect(performance.now() - started).toBeLessThan(1500);
    // The held response's connection is closed, not left open (the server sees the client go).
    await waitFor(() => server().disconnects === 1, 'the held connection to close', 2000);
  });
});

test('an error event before any text is still retried when the provider says it may be (Anthropic overloaded_error)', async () => {
  server().enqueue({ tokens: ['x'], errorEventAfter: 0, oneWrite: true }, { tokens: ['fine'] });
  const completion = await collect(client().stream(ask(), { endpoint: endpoint('anthropic') }));
  expect(completion.text).toBe('fine');
  expect(server().requests).toHaveLength(2);
});

test('a finished answer whose response ends normally keeps its connection for the next request', async () => {
  const local = new LlmClient();
  try {
    server().respond({ tokens: ['a', 'b'] });
    for (let i = 0; i < 5; i++) {
      await collect(local.stream(ask(), { endpoint: endpoint('openai') }));
      // undici marks a connection free just after the response ends; a request sent in the same tick takes a new one.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(server().openConnections).toBe(1);
    expect(server().disconnects).toBe(0);
  } finally {
    await local.close();
  }
});
