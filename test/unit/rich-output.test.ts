import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { collect, LlmClient, TimeoutError, type ChatRequest, type StreamEvent } from '../../src/core';
import { FORMATS, ONE_ATTEMPT, ask, rejection, useServer } from './helpers';

const { server, client, endpoint } = useServer();

const weather = { id: 'call_1', name: 'weather', arguments: '{"location":"San Francisco","unit":"c"}' };
const time = { id: 'call_2', name: 'time', arguments: '{"zone":"PST"}' };

async function events(request: ChatRequest, provider: (typeof FORMATS)[number], on = client()): Promise<StreamEvent[]> {
  const all: StreamEvent[] = [];
  for await (const event of on.stream(request, { endpoint: endpoint(provider) })) all.push(event);
  return all;
}

describe.each(FORMATS)('%s: output that is not only text', (provider) => {
  test('reasoning streams first, then the text, then tool calls assembled from their pieces', async () => {
    server().respond({ reasoning: ['Think', 'ing.'], tokens: ['Let me ', 'check.'], toolCalls: [weather, time] });
    const all = await events(ask('weather?'), provider);
    const kinds = all.map((e) => e.type).filter((t) => t !== 'response' && t !== 'usage' && t !== 'timings');
    expect(kinds.indexOf('reasoning')).toBeLessThan(kinds.indexOf('text'));
    expect(kinds.lastIndexOf('text')).toBeLessThan(kinds.indexOf('toolCallDelta'));
    expect(kinds.at(-1)).toBe('finish');
    const completion = await collect(Readable.from(all));
    expect(completion.reasoning?.text).toBe('Thinking.');
    expect(completion.text).toBe('Let me check.');
    // Ollama sends the arguments as an object, which comes back as JSON text without spaces.
    expect(
      completion.toolCalls?.map(({ name, arguments: args }) => ({ name, args: JSON.parse(args) as unknown })),
    ).toEqual([
      { name: 'weather', args: { location: 'San Francisco', unit: 'c' } },
      { name: 'time', args: { zone: 'PST' } },
    ]);
    if (provider !== 'ollama') expect(completion.toolCalls?.map((c) => c.id)).toEqual(['call_1', 'call_2']);
    expect(completion.finishReason).toBe('tool_calls');
    if (provider === 'anthropic') expect(completion.reasoning?.signature).toBe('sig-test');
  });

  test('a model that reasons past the first-token timeout is not cut off, because reasoning is output', async () => {
    const patient = new LlmClient({ ...ONE_ATTEMPT, timeouts: { firstTokenMs: 300, idleMs: 400 } });
    try {
      // Six pieces 150 ms apart: 750 ms of thinking before the first word of the answer.
      server().respond({ reasoning: ['a', 'b', 'c', 'd', 'e', 'f'], tokenDelayMs: 150, tokens: ['done'] });
      const completion = await collect(patient.stream(ask(), { endpoint: endpoint(provider) }));
      expect(completion.text).toBe('done');
      expect(completion.reasoning?.text).toBe('abcdef');
      const [endpointStats] = patient.metrics().endpoints;
      const firstOutput = endpointStats?.firstOutputMs.sinceStart.p50 ?? Infinity;
      const firstText = endpointStats?.ttftMs.sinceStart.p50 ?? 0;
      expect(firstOutput).toBeLessThan(firstText);
      expect(firstText).toBeGreaterThanOrEqual(700);
    } finally {
      await patient.close();
    }
  });

  test('the first-token timeout still catches a server that sends nothing at all', async () => {
    const impatient = new LlmClient({ ...ONE_ATTEMPT, timeouts: { firstTokenMs: 200 } });
    try {
      server().respond({ firstTokenDelayMs: 5000, reasoning: ['late'] });
      const error = await rejection(collect(impatient.stream(ask(), { endpoint: endpoint(provider) })));
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).phase).toBe('firstToken');
    } finally {
      await impatient.close();
    }
  });
});

/** An error event the provider marks as worth retrying (Ollama's error lines never are). */
const RETRYABLE_EVENT = { openai: 'server_error', anthropic: 'overloaded_error' } as const;

describe.each(['openai', 'anthropic'] as const)('%s: retries stop at the first output', (provider) => {
  async function run(script: Parameters<ReturnType<typeof server>['respond']>[0]) {
    const retrying = new LlmClient({ retry: { maxAttempts: 3, baseDelayMs: 1 } });
    server().enqueue(script as never, { tokens: ['fine'] });
    const seen: StreamEvent[] = [];
    try {
      for await (const event of retrying.stream(ask(), { endpoint: endpoint(provider) })) seen.push(event);
      return { seen, error: undefined };
    } catch (error) {
      return { seen, error: error as Error };
    } finally {
      await retrying.close();
    }
  }

  test('a retryable error event before any output is retried', async () => {
    const { seen, error } = await run({ errorEventAfter: 0, errorEventType: RETRYABLE_EVENT[provider] });
    expect(error).toBeUndefined();
    expect(seen.filter((e) => e.type === 'retry')).toHaveLength(1);
    expect(server().requests).toHaveLength(2);
  });

  test('the same error after reasoning reached the caller is not: the reasoning would be shown twice', async () => {
    const { seen, error } = await run({
      reasoning: ['thinking'],
      errorEventAfter: 0,
      errorEventType: RETRYABLE_EVENT[provider],
    });
    expect(error?.name).toBe('ProviderError');
    expect(seen.filter((e) => e.type === 'retry')).toEqual([]);
    expect(seen.flatMap((e) => (e.type === 'reasoning' ? [e.text] : [])).join('')).toBe('thinking');
    expect(server().requests).toHaveLength(1);
  });
});

describe('requests carry tools, tool results and images in each provider’s words', () => {
  const image = { mediaType: 'image/png', data: 'iVBORw0KGgo=' };
  const request: ChatRequest = {
    system: 'Be brief.',
    tools: [
      {
        name: 'weather',
        description: 'Weather now',
        parameters: { type: 'object', properties: { location: { type: 'string' } } },
      },
    ],
    toolChoice: 'required',
    messages: [
      { role: 'user', content: 'What is this, and the weather?', images: [image] },
      { role: 'assistant', content: '', toolCalls: [weather], reasoning: { text: 'Look it up.', signature: 'sig-1' } },
      { role: 'tool', toolCallId: 'call_1', toolName: 'weather', content: '18 °C' },
    ],
  };

  test('OpenAI chat completions', async () => {
    await collect(client().stream(request, { endpoint: endpoint('openai') }));
    const body = server().requests[0]!.body;
    expect(body.tools).toEqual([
      {
        type: 'function',
        function: { name: 'weather', description: 'Weather now', parameters: request.tools![0]!.parameters },
      },
    ]);
    expect(body.tool_choice).toBe('required');
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this, and the weather?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        ],
      },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: weather.arguments } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '18 °C' },
    ]);
  });

  test('Anthropic messages', async () => {
    await collect(client().stream(request, { endpoint: endpoint('anthropic') }));
    const body = server().requests[0]!.body;
    expect(body.tools).toEqual([
      { name: 'weather', description: 'Weather now', input_schema: request.tools![0]!.parameters },
    ]);
    expect(body.tool_choice).toEqual({ type: 'any' });
    expect(body.system).toBe('Be brief.');
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'text', text: 'What is this, and the weather?' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Look it up.', signature: 'sig-1' },
          { type: 'tool_use', id: 'call_1', name: 'weather', input: { location: 'San Francisco', unit: 'c' } },
        ],
      },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: '18 °C' }] },
    ]);
  });

  test('Ollama chat', async () => {
    await collect(client().stream(request, { endpoint: endpoint('ollama') }));
    const body = server().requests[0]!.body;
    expect(body.tools).toEqual([
      {
        type: 'function',
        function: { name: 'weather', description: 'Weather now', parameters: request.tools![0]!.parameters },
      },
    ]);
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is this, and the weather?', images: ['iVBORw0KGgo='] },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ function: { name: 'weather', arguments: { location: 'San Francisco', unit: 'c' } } }],
      },
      { role: 'tool', content: '18 °C', tool_name: 'weather' },
    ]);
  });
});
