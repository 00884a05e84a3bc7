import { describe, expect, test } from 'vitest';
import {
  AuthError,
  ConfigError,
  HttpError,
  NetworkError,
  ProtocolError,
  ProviderError,
  collect,
  type FlowgateError,
} from '../../src/core';
import { TestLlmServer } from '../server/llm-server';
import { FORMATS, ask, rejection, useServer } from './helpers';

const { server, client, endpoint } = useServer();
const KEY = 'sk-secret-key-0123456789';

async function failure(provider: (typeof FORMATS)[number], extra = {}): Promise<FlowgateError> {
  return (await rejection(collect(client().stream(ask(), { endpoint: endpoint(provider, extra) })))) as FlowgateError;
}

describe.each(FORMATS)('%s', (provider) => {
  test('401 is an AuthError that says what to do, with the request id, never retryable', async () => {
    server().respond({ status: 401, error: { message: 'invalid x-api-key', type: 'authentication_error' } });
    const error = await failure(provider, { apiKey: KEY });
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({
      status: 401,
      retryable: false,
      provider,
      requestId: 'req_test_1',
      code: 'FLOWGATE_AUTH',
    });
    expect(error.message).toContain('the key for this endpoint is missing or wrong');
    expect(error.message).toContain('invalid x-api-key');
    expect(error.message).toContain('(request id req_test_1)');
  });

  test('an error body that echoes the key never carries it into the error', async () => {
    server().respond({ status: 401, error: { message: `Incorrect API key provided: ${KEY}` } });
    const error = await failure(provider, { apiKey: KEY });
    expect(error.message).not.toContain(KEY);
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(KEY);
    expect(error.message).toContain('[redacted]');
  });

  test.each([
    [400, false],
    [404, false],
    [408, true],
    [429, true],
    [500, true],
    [503, true],
    [529, true],
  ])('status %i is an HttpError, retryable=%s, with headers kept', async (status, retryable) => {
    server().respond({ status, headers: { 'retry-after': '3' } });
    const error = await failure(provider);
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ status, retryable });
    expect((error as HttpError).headers['retry-after']).toBe('3');
  });

  test('a reset mid-stream is a NetworkError after sending', async () => {
    server().respond({ tokens: ['a', 'b', 'c'], resetAfter: 1 });
    const error = await failure(provider);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).beforeSend).toBe(false);
    expect(error.message).toMatch(/closed the connection while the answer was on its way/);
  });

  test('a connection reset after the request was written is a NetworkError that is not repeated', async () => {
    server().respond({ resetOnRequest: true });
    const error = await failure(provider);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError).beforeSend).toBe(false);
    expect(error.retryable).toBe(false);
  });

  test('a stream that ends without its end marker is a truncation ProtocolError', async () => {
    server().respond({ tokens: ['a', 'b', 'c'], truncateAfter: 2 });
    const error = await failure(provider);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toMatch(/closed the stream before the answer finished/);
  });

  test('an error reported inside a 200 stream is a ProviderError', async () => {
    server().respond({ tokens: ['a', 'b'], errorEventAfter: 1 });
    const error = await failure(provider);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error.message).toContain('The server had an error while processing your request.');
  });

  test('an HTML error page from a proxy is an HttpError that says it is a page, with its title', async () => {
    server().respond({
      status: 502,
      rawBody: '<html><head><title>502 Bad Gateway</title></head>\n<body>...</body></html>',
    });
    const error = await failure(provider);
    expect(error).toMatchObject({ status: 502, retryable: true });
    expect(error.message).toContain('The server said: an HTML page titled "502 Bad Gateway"');
  });
});

test('a malformed event is a ProtocolError quoting it', async () => {
  server().respond({ status: 200, rawBody: 'data: {not json}\n\n', headers: { 'content-type': 'text/event-stream' } });
  const error = await failure('openai');
  expect(error).toBeInstanceOf(ProtocolError);
  expect(error.message).toContain('{not json}');
});

test('Ollama: a {"error"} line in a 200 response is a ProviderError', async () => {
  server().respond({
    status: 200,
    rawBody: '{"error":"model requires more system memory (9 GiB) than is available"}\n',
    headers: { 'content-type': 'application/x-ndjson' },
  });
  const error = await failure('ollama');
  expect(error).toBeInstanceOf(ProviderError);
  expect(error.message).toBe(
    'Ollama at ' +
      server().origin.replace('http://', '') +
      ' reported an error: model requires more system memory (9 GiB) than is available',
  );
});

test('a refused connection says the server is not running', async () => {
  const gone = await TestLlmServer.start();
  const origin = gone.origin;
  await gone.close();
  const error = (await rejection(
    collect(client().stream(ask(), { endpoint: { provider: 'ollama', baseUrl: origin, model: 'm' } })),
  )) as NetworkError;
  expect(error).toBeInstanceOf(NetworkError);
  expect(error.beforeSend).toBe(true);
  expect(error.message).toBe(
    `Ollama at ${origin.replace('http://', '')} refused the connection; is the server running on that port? (ECONNREFUSED)`,
  );
});

describe('bad settings fail before anything is sent', () => {
  test.each([
    [{ baseUrl: 'not a url' }, /is not a URL/],
    [{ baseUrl: 'ftp://127.0.0.1' }, /must start with http/],
    [{ baseUrl: 'http://user:pw@127.0.0.1:1' }, /must not contain a user name or password/],
    [{ model: '' }, /No model is set/],
    [{ provider: 'gemini' }, /Unknown provider "gemini"/],
  ])('%j', async (extra, message) => {
    const error = await rejection(
      collect(client().stream(ask(), { endpoint: { ...endpoint('openai'), ...extra } as never })),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
    expect(server().requests).toHaveLength(0);
  });

  test('a bad per-call timeout is a ConfigError', async () => {
    const error = await rejection(
      collect(client().stream(ask(), { endpoint: endpoint('openai'), timeouts: { idleMs: -5 } })),
    );
    expect(error).toBeInstanceOf(ConfigError);
  });
});
