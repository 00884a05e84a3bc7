/**
 * Responses that are not an answer say what came back: redirects (never
 * followed), HTML pages, JSON without a completion; compressed bodies are
 * decoded; a key no header can carry is a settings error, not a retried
 * "connection failed".
 */
import { describe, expect, test } from 'vitest';
import { ConfigError, HttpError, ProtocolError, collect, type FlowgateError } from '../../src/core';
import { TestLlmServer } from '../server/llm-server';
import { FORMATS, ask, rejection, useServer } from './helpers';

const { server, client, endpoint } = useServer({ retry: { maxAttempts: 3, baseDelayMs: 1 } });

async function failure(provider: (typeof FORMATS)[number], extra = {}, stream = true): Promise<FlowgateError> {
  const call = stream
    ? collect(client().stream(ask(), { endpoint: endpoint(provider, extra) }))
    : client().complete(ask(), { endpoint: endpoint(provider, extra) });
  return (await rejection(call)) as FlowgateError;
}

describe.each(FORMATS)('%s', (provider) => {
  test.each([301, 302, 307, 308])(
    'a %i is not followed: the key stays home, and the error names the status and the target origin',
    async (status) => {
      const elsewhere = await TestLlmServer.start();
      try {
        server().respond({
          status,
          rawBody: '',
          headers: { location: `${elsewhere.origin}/v1/chat/completions?stolen=1` },
        });
        const error = await failure(provider, { apiKey: 'sk-redirect-test-123456' });
        expect(error).toBeInstanceOf(HttpError);
        expect(error).toMatchObject({ status, retryable: false, target: elsewhere.origin });
        expect(error.message).toContain(`answered ${status}, a redirect to ${elsewhere.origin}`);
        expect(error.message).toContain('does not follow redirects');
        expect(elsewhere.requests).toHaveLength(0);
        expect(server().requests).toHaveLength(1);
      } finally {
        await elsewhere.close();
      }
    },
  );

  test.each([true, false])(
    'a 200 HTML page (a captive portal) says so, streaming=%s, and is not retried',
    async (stream) => {
      server().respond({
        rawBody:
          '<!DOCTYPE html>\n<html><head><title>Hotel Wi-Fi - Log in</title></head><body>Accept the terms</body></html>',
        headers: { 'content-type': 'text/html; charset=utf-8' },
      });
      const error = await failure(provider, {}, stream);
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error.message).toContain(
        'answered 200 with an HTML page titled "Hotel Wi-Fi - Log in" instead of an API response',
      );
      expect(error.message).toContain('captive portal');
      expect(server().requests).toHaveLength(1);
    },
  );

  test('an HTML page labelled as JSON still says it is a page', async () => {
    server().respond({
      rawBody: '<html><head><title>Sign in</title></head></html>',
      headers: { 'content-type': 'application/json' },
    });
    const error = await failure(provider, {}, false);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toContain('answered with an HTML page titled "Sign in", not JSON');
  });

  test('a JSON body without a completion is an error that shows what came back, not an empty success', async () => {
    server().respond({ rawBody: '{"status":"ok","detail":"gateway healthy"}' });
    const error = await failure(provider, {}, false);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toContain('JSON that holds no answer');
    expect(error.message).toContain('{"status":"ok","detail":"gateway healthy"}');
  });

  test('an empty 200 body says it was empty', async () => {
    server().respond({ rawBody: '' });
    const error = await failure(provider, {}, false);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toContain('answered with an empty body, not JSON');
  });

  test.each(['gzip', 'deflate', 'br'] as const)('a %s-compressed stream is decoded as it streams', async (compress) => {
    server().respond({ tokens: ['com', 'pressed ', 'answer'], compress, tokenDelayMs: 5 });
    const seen: string[] = [];
    const completion = await collect(client().stream(ask(), { endpoint: endpoint(provider) }), (text) =>
      seen.push(text),
    );
    expect(completion.text).toBe('compressed answer');
    expect(seen.length).toBeGreaterThanOrEqual(3);
  });

  test.each(['gzip', 'deflate', 'br'] as const)(
    'a %s-compressed whole answer and error body are decoded',
    async (compress) => {
      server().enqueue(
        { tokens: ['whole'], compress },
        { status: 400, error: { message: 'bad model name' }, compress },
      );
      expect((await client().complete(ask(), { endpoint: endpoint(provider) })).text).toBe('whole');
      const error = await failure(provider, {}, false);
      expect(error).toBeInstanceOf(HttpError);
      expect(error.message).toContain('The server said: bad model name');
    },
  );

  test.each([
    ['a trailing newline', 'sk-newline-key-0123456789\n', 'contains a line break'],
    ['a newline inside', 'sk-newline\nkey-0123456789', 'contains a line break'],
    ['a leading space', ' sk-space-key-0123456789', 'starts or ends with a space'],
    ['a curly quote', 'sk-quote-key-0123456789”', 'outside ASCII'],
  ])('a key with %s is a settings error before anything is sent, never retried', async (_what, apiKey, words) => {
    if (provider === 'ollama') return void expect(await failure(provider, { apiKey })).toBeInstanceOf(ConfigError);
    const error = await failure(provider, { apiKey });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('The API key for');
    expect(error.message).toContain(words);
    expect(error.message).not.toContain(apiKey.trim());
    expect(server().requests).toHaveLength(0);
  });
});

test('a gzip stream cut off mid-way is a protocol error that says the body could not be decoded', async () => {
  server().respond({
    rawStream: 'data: {"choices":[{"delta":{"content":"x"}}]}\n\n',
    headers: { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' },
  });
  const error = await failure('openai');
  expect(error).toBeInstanceOf(ProtocolError);
  expect(error.message).toMatch(/compressed body that could not be decoded \(Z_/);
});
