import { describe, expect, test } from 'vitest';
import { collect, type StreamEvent } from '../../src/core';
import { ANTHROPIC_VERSION } from '../../src/core/providers/anthropic';
import { FORMATS, ask, useServer } from './helpers';

const { server, client, endpoint } = useServer();

describe.each(FORMATS)('%s', (provider) => {
  test('streams text deltas in order, then finish and usage', async () => {
    server().respond({ tokens: ['The ', 'answer ', 'is ', '42.'], usage: { input: 11, output: 4 } });
    const events: StreamEvent[] = [];
    for await (const event of client().stream(ask(), { endpoint: endpoint(provider) })) events.push(event);
    const texts = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text);
    expect(texts).toEqual(['The ', 'answer ', 'is ', '42.']);
    expect(events[0]).toMatchObject({ type: 'response', status: 200, requestId: 'req_test_1' });
    const completion = await collect(events as unknown as AsyncIterable<StreamEvent>);
    expect(completion).toMatchObject({
      text: 'The answer is 42.',
      finishReason: 'stop',
      usage: { inputTokens: 11, outputTokens: 4 },
    });
  });

  test('reports a length finish', async () => {
    server().respond({ finish: 'length' });
    const completion = await collect(client().stream(ask(), { endpoint: endpoint(provider) }));
    expect(completion.finishReason).toBe('length');
  });

  test('non-streaming call asks for JSON and returns the same shape', async () => {
    server().respond({ tokens: ['Whole ', 'answer'], usage: { input: 3, output: 2 } });
    const completion = await client().complete(ask(), { endpoint: endpoint(provider) });
    expect(completion).toMatchObject({
      text: 'Whole answer',
      finishReason: 'stop',
      usage: { inputTokens: 3, outputTokens: 2 },
    });
    expect(server().requests[0]?.body.stream).toBe(false);
  });

  test('a server that ignores stream: true and answers JSON still yields the answer', async () => {
    server().respond((request) => {
      request.body.stream = false; // the responder then sends a whole JSON body
      return { tokens: ['plain'] };
    });
    const completion = await collect(client().stream(ask(), { endpoint: endpoint(provider) }));
    expect(completion.text).toBe('plain');
  });

  test('streamChunks gives the same events as stream, grouped by network chunk', async () => {
    server().respond({ tokens: ['one ', 'two ', 'three'], splitBytes: 40 });
    const events: StreamEvent[] = [];
    for await (const event of client().stream(ask(), { endpoint: endpoint(provider) })) events.push(event);
    server().respond({ tokens: ['one ', 'two ', 'three'], splitBytes: 40 });
    const chunks: StreamEvent[][] = [];
    for await (const chunk of client().streamChunks(ask(), { endpoint: endpoint(provider) })) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2); // the response, then several pieces of the body
    expect(chunks.every((chunk) => chunk.length > 0)).toBe(true);
    expect(chunks.flat()).toEqual(events);
  });

  test('complete({stream: true}) collects a stream', async () => {
    const completion = await client().complete(ask(), { endpoint: endpoint(provider), stream: true });
    expect(completion.text).toBe('Hello, world!');
    expect(server().requests[0]?.body.stream).toBe(true);
  });
});

describe('wire requests', () => {
  test('OpenAI: path under /v1, bearer key, include_usage, system first', async () => {
    await collect(
      client().stream(
        { ...ask('q'), system: 'be brief', maxTokens: 50, temperature: 0 },
        { endpoint: endpoint('openai', { apiKey: 'sk-test-123' }) },
      ),
    );
    const request = server().requests[0]!;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer sk-test-123');
    expect(request.body).toMatchObject({
      model: 'test-model',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
      temperature: 0,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'q' },
      ],
    });
  });

  test('OpenAI: a base URL query string (Azure api-version) is kept', async () => {
    await collect(
      client().stream(ask(), {
        endpoint: endpoint('openai', { baseUrl: `${server().origin}/v1?api-version=2024-10-21` }),
      }),
    );
    expect(server().requests[0]?.path).toBe('/v1/chat/completions?api-version=2024-10-21');
  });

  test('Anthropic: /v1/messages, x-api-key, anthropic-version, system field, default max_tokens', async () => {
    await collect(
      client().stream(
        { ...ask('q'), system: 'be brief' },
        { endpoint: endpoint('anthropic', { apiKey: 'sk-ant-xyz' }) },
      ),
    );
    const request = server().requests[0]!;
    expect(request.path).toBe('/v1/messages');
    expect(request.headers['x-api-key']).toBe('sk-ant-xyz');
    expect(request.headers['anthropic-version']).toBe(ANTHROPIC_VERSION);
    expect(request.headers.authorization).toBeUndefined();
    expect(request.body).toMatchObject({
      system: 'be brief',
      max_tokens: 4096,
      stream: true,
      messages: [{ role: 'user', content: 'q' }],
    });
  });

  test('Ollama: /api/chat with options, no key header', async () => {
    await collect(client().stream({ ...ask('q'), maxTokens: 7, temperature: 0.5 }, { endpoint: endpoint('ollama') }));
    const request = server().requests[0]!;
    expect(request.path).toBe('/api/chat');
    expect(request.headers.authorization).toBeUndefined();
    expect(request.body).toMatchObject({ stream: true, options: { num_predict: 7, temperature: 0.5 } });
  });

  test('Ollama reports its load and eval timings', async () => {
    const completion = await collect(client().stream(ask(), { endpoint: endpoint('ollama') }));
    expect(completion.timings).toEqual({ loadMs: 2000, promptEvalMs: 1000, evalMs: 2000, totalMs: 5000 });
  });

  test('keep-alive comments and pings produce no events', async () => {
    for (const provider of ['openai', 'anthropic'] as const) {
      server().respond({ tokens: ['a', 'b'], tokenDelayMs: 60, keepAliveEveryMs: 10 });
      const events: StreamEvent[] = [];
      for await (const event of client().stream(ask(), { endpoint: endpoint(provider) })) events.push(event);
      expect(events.map((e) => e.type)).toEqual([
        'response',
        ...(provider === 'anthropic' ? ['usage'] : []),
        'text',
        'text',
        'finish',
        'usage',
      ]);
    }
  });

  test('UTF-8 split byte by byte over the socket, with CRLF and CR line ends', async () => {
    const tokens = ['héllo ', '世界 ', '🙂', ' done'];
    for (const lineEnding of ['\r\n', '\r', '\n'] as const) {
      for (const provider of ['openai', 'anthropic'] as const) {
        server().respond({ tokens, splitBytes: 1, lineEnding });
        const completion = await collect(client().stream(ask(), { endpoint: endpoint(provider) }));
        expect(completion.text).toBe(tokens.join(''));
      }
    }
    server().respond({ tokens, splitBytes: 1 });
    expect((await collect(client().stream(ask(), { endpoint: endpoint('ollama') }))).text).toBe(tokens.join(''));
  });
});
