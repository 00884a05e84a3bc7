import { describe, expect, test } from 'vitest';
import { ConfigError, collect, endpointSecrets, headersProblem, paramsProblem } from '../../src/core';
import { ANTHROPIC_DEFAULT_MAX_TOKENS, ANTHROPIC_VERSION } from '../../src/core/providers/anthropic';
import { FORMATS, ask, rejection, useServer } from './helpers';

const { server, client, endpoint } = useServer();

describe.each(FORMATS)('%s: extra headers and params', (provider) => {
  test('the server receives the extra headers beside the key, in lower case', async () => {
    const headers = { 'X-Gateway-Route': 'team-a', 'api-key': 'azure-secret-1' };
    await collect(client().stream(ask(), { endpoint: endpoint(provider, { apiKey: 'sk-key-1', headers }) }));
    const received = server().requests[0]!.headers;
    expect(received['x-gateway-route']).toBe('team-a');
    expect(received['api-key']).toBe('azure-secret-1');
    expect(received[provider === 'anthropic' ? 'x-api-key' : 'authorization']).toBe(
      provider === 'anthropic' ? 'sk-key-1' : 'Bearer sk-key-1',
    );
    expect(received['content-type']).toBe('application/json');
  });

  test("params are merged into the body; model, messages and stream stay Flowgate's", async () => {
    const params =
      provider === 'ollama'
        ? { keep_alive: '30m', options: { num_ctx: 8192, temperature: 0.7 } }
        : provider === 'openai-responses'
          ? { top_p: 0.5, temperature: 0.7, max_output_tokens: 100 }
          : { top_p: 0.5, temperature: 0.7, max_tokens: 100 };
    await collect(client().stream(ask('q'), { endpoint: endpoint(provider, { params }) }));
    const body = server().requests[0]!.body;
    expect(body).toMatchObject({ ...params, model: 'test-model', stream: true });
    // The Responses API calls the conversation `input`; it is Flowgate's there as `messages` is elsewhere.
    expect(provider === 'openai-responses' ? body.input : body.messages).toEqual([{ role: 'user', content: 'q' }]);
  });

  test('what the request sets wins over params', async () => {
    const limit = provider === 'openai-responses' ? 'max_output_tokens' : 'max_tokens';
    const params =
      provider === 'ollama'
        ? { options: { num_ctx: 8192, num_predict: 100, temperature: 0.7 } }
        : { [limit]: 100, temperature: 0.7, top_p: 0.5 };
    await collect(
      client().stream({ ...ask(), maxTokens: 5, temperature: 0 }, { endpoint: endpoint(provider, { params }) }),
    );
    const body = server().requests[0]!.body;
    if (provider === 'ollama') expect(body.options).toEqual({ num_ctx: 8192, num_predict: 5, temperature: 0 });
    else expect(body).toMatchObject({ [limit]: 5, temperature: 0, top_p: 0.5 });
  });

  test('the key header cannot be overridden, whatever its case; nothing is sent', async () => {
    const name = provider === 'anthropic' ? 'X-Api-Key' : 'Authorization';
    const error = await rejection(
      collect(
        client().stream(ask(), {
          endpoint: endpoint(provider, { id: 'gw', apiKey: 'sk-real', headers: { [name]: 'Bearer stolen-value' } }),
        }),
      ),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `The endpoint "gw": headers: "${name}" carries the API key, which Flowgate adds itself from its key store; it cannot be set here.`,
    );
    expect(server().requests).toHaveLength(0);
  });

  test('a reserved param is a ConfigError; nothing is sent', async () => {
    const error = await rejection(
      collect(client().stream(ask(), { endpoint: endpoint(provider, { params: { model: 'other' } }) })),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('The test-model endpoint: params: "model" is set by Flowgate and cannot be overridden.');
    expect(server().requests).toHaveLength(0);
  });
});

test('Anthropic: params replace the default max_tokens; anthropic-version stays', async () => {
  await collect(client().stream(ask(), { endpoint: endpoint('anthropic') }));
  await collect(
    client().stream(ask(), {
      endpoint: endpoint('anthropic', {
        params: { max_tokens: 16000 },
        headers: { 'anthropic-beta': 'output-128k-2025-02-19' },
      }),
    }),
  );
  const [plain, tuned] = server().requests;
  expect(plain!.body.max_tokens).toBe(ANTHROPIC_DEFAULT_MAX_TOKENS);
  expect(tuned!.body.max_tokens).toBe(16000);
  expect(tuned!.headers['anthropic-beta']).toBe('output-128k-2025-02-19');
  expect(tuned!.headers['anthropic-version']).toBe(ANTHROPIC_VERSION);
});

test("OpenAI: stream_options is Flowgate's, so usage still arrives", async () => {
  const error = await rejection(
    collect(
      client().stream(ask(), {
        endpoint: endpoint('openai', { params: { stream_options: { include_usage: false } } }),
      }),
    ),
  );
  expect(error.message).toMatch(/"stream_options" is set by Flowgate/);
});

test('non-streaming calls carry headers and params too', async () => {
  await client().complete(ask(), { endpoint: endpoint('openai', { headers: { 'x-team': 'a' }, params: { seed: 7 } }) });
  expect(server().requests[0]).toMatchObject({ headers: { 'x-team': 'a' }, body: { seed: 7, stream: false } });
});

describe('header and param rules', () => {
  test("names must be tokens; framing and connection headers are Flowgate's", () => {
    expect(headersProblem({ 'bad name': 'x' })).toMatch(/^"bad name" is not a header name/);
    expect(headersProblem({ 'Content-Type': 'text/plain' })).toBe(
      '"Content-Type" is set by Flowgate for the request\'s format and cannot be changed.',
    );
    expect(headersProblem({ 'accept-encoding': 'gzip' })).toMatch(/is set by Flowgate/);
    expect(headersProblem({ 'anthropic-version': '2099-01-01' })).toMatch(/is set by Flowgate/);
    expect(headersProblem({ Host: 'evil.example' })).toBe(
      '"Host" belongs to the connection, which Flowgate\'s HTTP client manages; it cannot be set.',
    );
    expect(headersProblem({ 'X-A': '1', 'x-a': '2' })).toBe('"x-a" is given twice (header names ignore case).');
    expect(headersProblem(['x'])).toBe('must be an object of header names and values.');
    expect(headersProblem({ 'api-key': 'k', 'HTTP-Referer': 'https://example.com' })).toBeUndefined();
  });

  test('a bad value names its header, never the value', () => {
    for (const value of ['sec\r\nret-1', 'sec\nret-1', 'sec\u0000ret-1', 'secret-一']) {
      const problem = headersProblem({ 'x-token': value })!;
      expect(problem).toBe(
        'the value of "x-token" holds a line break, a control character or a character beyond Latin-1.',
      );
      expect(problem).not.toContain('ret-');
    }
    expect(headersProblem({ 'x-token': 42 })).toBe('the value of "x-token" must be a string.');
  });

  test("params: an object without Flowgate's fields; Ollama's options an object", () => {
    expect(paramsProblem({ temperature: 0.2 })).toBeUndefined();
    expect(paramsProblem('hot')).toBe('must be an object of body fields and values.');
    for (const name of ['model', 'messages', 'stream', 'stream_options'])
      expect(paramsProblem({ [name]: 1 })).toBe(`"${name}" is set by Flowgate and cannot be overridden.`);
    expect(paramsProblem({ options: 3 }, 'ollama')).toMatch(/^"options" must be an object/);
    expect(paramsProblem({ options: 3 }, 'openai')).toBeUndefined();
  });

  test('a bad header value in a call: the ConfigError names the header, not the value', async () => {
    const error = await rejection(
      collect(
        client().stream(ask(), {
          endpoint: endpoint('openai', { id: 'gw', headers: { 'x-token': 'top\nsecret-value' } }),
        }),
      ),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('"x-token"');
    expect(error.message).not.toContain('secret-value');
    expect(server().requests).toHaveLength(0);
  });
});

test('endpointSecrets: the key and the header values that are credentials, once each', () => {
  const token = 'gw_0123456789abcdefghijkl';
  expect(
    endpointSecrets({
      apiKey: 'sk-1',
      headers: {
        'api-key': 'az-2',
        'x-route': 'team',
        'X-Gateway-Token': 'tok-3',
        'x-tenant': token,
        'x-title': 'Flowgate in VS Code',
        'x-copy-key': 'sk-1',
        'x-empty-key': '',
      },
    }),
  ).toEqual(['sk-1', 'az-2', 'tok-3', token]);
  expect(endpointSecrets({})).toEqual([]);
});
