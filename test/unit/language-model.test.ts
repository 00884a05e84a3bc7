/**
 * Flowgate's endpoints as models in VS Code's chat: what VS Code is told about
 * each model, how its messages become the engine's request, token counts, and
 * redaction where nobody can be asked. The provider class itself runs in the
 * E2E suite, inside a real workbench.
 */
import { describe, expect, test } from 'vitest';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { Redactor } from '../../src/core';
import { estimatePromptTokens } from '../../src/core/tokens/estimate';
import { toChatRequest, type LmMessage, type LmOptions } from '../../src/host/language-model/chat-request';
import { ChatUsage } from '../../src/host/language-model/chat-usage';
import { displayName, familyOf, limitsFor, modelInfoFor } from '../../src/host/language-model/model-info';
import { redactChatRequest } from '../../src/host/language-model/redact-request';
import { TokenCounter, estimateTokens, isOpenAiFamily } from '../../src/host/language-model/token-count';
import { statusView } from '../../src/host/monitor/status-format';
import { parseEndpoints, type EndpointSetting } from '../../src/host/settings/settings-model';
import { translate as t } from './helpers';

const endpoint = (fields: Partial<EndpointSetting>): EndpointSetting => ({
  id: 'local',
  provider: 'ollama',
  baseUrl: 'http://127.0.0.1:11434',
  model: 'llama3.2',
  ...fields,
});

const auto: LmOptions = { toolMode: 'auto' };

describe('model information', () => {
  test('one model per endpoint, named so a person recognises it', () => {
    const info = modelInfoFor(endpoint({}), t);
    expect(info).toMatchObject({
      id: 'local',
      name: 'Flowgate · local llama3.2',
      family: 'llama3.2',
      version: 'llama3.2',
      detail: 'Ollama · 127.0.0.1:11434',
      maxInputTokens: 126_976,
      maxOutputTokens: 4_096,
      capabilities: { toolCalling: true, imageInput: false },
    });
    expect(info.tooltip).toContain('llama3.2 at http://127.0.0.1:11434');
    expect(displayName(endpoint({ id: 'gpt-4o', model: 'gpt-4o' }))).toBe('Flowgate · gpt-4o');
  });

  test('known models by name; unknown ones by provider; the endpoint’s own settings win', () => {
    const gpt = limitsFor(endpoint({ provider: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o-mini' }));
    expect(gpt).toEqual({ maxInputTokens: 111_616, maxOutputTokens: 16_384, toolCalling: true, imageInput: true });
    const claude = limitsFor(endpoint({ provider: 'anthropic', model: 'claude-sonnet-4-20250514' }));
    expect(claude).toMatchObject({ maxOutputTokens: 64_000, toolCalling: true, imageInput: true });
    expect(limitsFor(endpoint({ model: 'openrouter/anthropic/claude-3-5-haiku' })).maxOutputTokens).toBe(8_192);
    expect(limitsFor(endpoint({ model: 'my-finetune' }))).toEqual({
      maxInputTokens: 28_672,
      maxOutputTokens: 4_096,
      toolCalling: false,
      imageInput: false,
    });
    expect(limitsFor(endpoint({ provider: 'openai', model: 'sim' })).toolCalling).toBe(true);
    const own = endpoint({ maxInputTokens: 9000, maxOutputTokens: 1000, toolCalling: false, imageInput: true });
    expect(limitsFor(own)).toEqual({
      maxInputTokens: 9000,
      maxOutputTokens: 1000,
      toolCalling: false,
      imageInput: true,
    });
  });

  test("Ollama's window is its num_ctx, less the answer", () => {
    const limits = limitsFor(endpoint({ model: 'my-finetune', params: { options: { num_ctx: 16_384 } } }));
    expect(limits).toMatchObject({ maxInputTokens: 12_288, maxOutputTokens: 4_096 });
  });

  test('family drops the vendor, the tag and the date', () => {
    expect(familyOf('gpt-4o-2024-08-06')).toBe('gpt-4o');
    expect(familyOf('meta/llama3.2:3b')).toBe('llama3.2');
    expect(familyOf('claude-sonnet-4-20250514')).toBe('claude-sonnet-4');
  });

  test('the new endpoint settings are validated like the others', () => {
    const { endpoints, problems } = parseEndpoints([
      endpoint({ id: 'a', maxInputTokens: 8000, maxOutputTokens: 512, toolCalling: true, imageInput: false }),
      { ...endpoint({ id: 'b' }), maxInputTokens: 0 },
      { ...endpoint({ id: 'c' }), maxOutputTokens: 1.5 },
      { ...endpoint({ id: 'd' }), toolCalling: 'yes' },
    ]);
    expect(endpoints.map((e) => e.id)).toEqual(['a']);
    expect(endpoints[0]).toMatchObject({ maxInputTokens: 8000, maxOutputTokens: 512, toolCalling: true });
    expect(problems).toEqual([
      'flowgate.endpoints[1]: "maxInputTokens" must be a whole number of tokens, 1 or more.',
      'flowgate.endpoints[2]: "maxOutputTokens" must be a whole number of tokens, 1 or more.',
      'flowgate.endpoints[3]: "toolCalling" must be true or false.',
    ]);
  });
});

describe("VS Code's messages as the engine's request", () => {
  const text = (value: string) => ({ kind: 'text' as const, text: value });

  test('system, user and assistant text', () => {
    const messages: LmMessage[] = [
      { role: 'system', parts: [text('You are terse.')] },
      { role: 'user', parts: [text('Hi '), text('there')] },
      { role: 'assistant', parts: [text('Hello.')] },
      { role: 'user', parts: [text('Again')] },
    ];
    expect(toChatRequest(messages, auto, 'openai')).toEqual({
      request: {
        system: 'You are terse.',
        messages: [
          { role: 'user', content: 'Hi there' },
          { role: 'assistant', content: 'Hello.' },
          { role: 'user', content: 'Again' },
        ],
      },
    });
  });

  test('tool calls and their results keep their ids; the tools go with their schemas', () => {
    const schema = { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] };
    const messages: LmMessage[] = [
      { role: 'user', parts: [text('Read a.ts')] },
      {
        role: 'assistant',
        parts: [text('Reading.'), { kind: 'toolCall', callId: 'call_7', name: 'read_file', input: { path: 'a.ts' } }],
      },
      {
        role: 'user',
        parts: [{ kind: 'toolResult', callId: 'call_7', content: [text('export const a = 1;')], isError: false }],
      },
    ];
    const options: LmOptions = {
      tools: [
        { name: 'read_file', description: 'Reads a file', inputSchema: schema },
        { name: 'list', description: 'Lists' },
      ],
      toolMode: 'required',
    };
    const { request } = toChatRequest(messages, options, 'anthropic');
    expect(request.messages).toEqual([
      { role: 'user', content: 'Read a.ts' },
      {
        role: 'assistant',
        content: 'Reading.',
        toolCalls: [{ id: 'call_7', name: 'read_file', arguments: '{"path":"a.ts"}' }],
      },
      { role: 'tool', toolCallId: 'call_7', toolName: 'read_file', content: 'export const a = 1;' },
    ]);
    expect(request.tools).toEqual([
      { name: 'read_file', description: 'Reads a file', parameters: schema },
      { name: 'list', description: 'Lists', parameters: { type: 'object', properties: {} } },
    ]);
    expect(request.toolChoice).toBe('required');
  });

  test('a failed tool says so; text after tool results follows them', () => {
    const { request } = toChatRequest(
      [
        { role: 'assistant', parts: [{ kind: 'toolCall', callId: 'c1', name: 'run', input: {} }] },
        {
          role: 'user',
          parts: [{ kind: 'toolResult', callId: 'c1', content: [text('exit 1')], isError: true }, text('Why?')],
        },
      ],
      auto,
      'openai',
    );
    expect(request.messages.slice(1)).toEqual([
      { role: 'tool', toolCallId: 'c1', toolName: 'run', content: 'exit 1', isError: true },
      { role: 'user', content: 'Why?' },
    ]);
  });

  test('images go as images, JSON and text data as text', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const { request } = toChatRequest(
      [
        {
          role: 'user',
          parts: [
            text('What is this? '),
            { kind: 'data', mimeType: 'image/png', data: png },
            { kind: 'data', mimeType: 'application/json', data: new TextEncoder().encode('{"a":1}') },
            { kind: 'other' },
          ],
        },
      ],
      auto,
      'openai',
    );
    expect(request.messages).toEqual([
      { role: 'user', content: 'What is this? {"a":1}', images: [{ mediaType: 'image/png', data: 'iVBORw==' }] },
    ]);
  });

  test("the model's thinking comes back with its signature", () => {
    const { request } = toChatRequest(
      [
        {
          role: 'assistant',
          parts: [
            { kind: 'thinking', text: 'Let me see. ' },
            { kind: 'thinking', text: 'Yes.', metadata: { signature: 'sig==' } },
            { kind: 'thinking', text: '', metadata: { redacted: ['enc=='] } },
            text('Done.'),
          ],
        },
      ],
      auto,
      'anthropic',
    );
    expect(request.messages[0]).toEqual({
      role: 'assistant',
      content: 'Done.',
      reasoning: { text: 'Let me see. Yes.', signature: 'sig==', redacted: ['enc=='] },
    });
  });

  test("model options: VS Code's own (_...) stay home, the rest map or go into the body", () => {
    const messages: LmMessage[] = [{ role: 'user', parts: [text('hi')] }];
    const mapped = toChatRequest(
      messages,
      { ...auto, modelOptions: { _capturingTokenCorrelationId: 'x', temperature: 0.1, max_tokens: 300, top_p: 0.9 } },
      'openai',
    );
    expect(mapped.request).toMatchObject({ temperature: 0.1, maxTokens: 300 });
    expect(mapped.params).toEqual({ top_p: 0.9 });
    expect(() => toChatRequest(messages, { ...auto, modelOptions: { model: 'other' } }, 'openai')).toThrow(
      /modelOptions: "model" is set by Flowgate/,
    );
  });
});

describe('token counts', () => {
  test('OpenAI models exactly with gpt-tokenizer, others by a documented estimate', () => {
    const exact = (text: string) => text.split(' ').length;
    const counter = new TokenCounter(() => exact);
    expect(counter.countText('one two three', true)).toBe(3);
    expect(counter.countText('one two three', false)).toBe(estimateTokens('one two three'));
    expect(estimateTokens('x'.repeat(35))).toBe(10);
    expect(isOpenAiFamily('gpt-4o-mini')).toBe(true);
    expect(isOpenAiFamily('openai/o3-mini')).toBe(true);
    expect(isOpenAiFamily('o1')).toBe(true);
    expect(isOpenAiFamily('llama3.2')).toBe(false);
    expect(isOpenAiFamily('claude-sonnet-4')).toBe(false);
    expect(isOpenAiFamily('olmo2')).toBe(false);
  });

  test('with the real tokenizer, each text is counted once', () => {
    let calls = 0;
    const counter = new TokenCounter(() => (text) => (calls++, countTokens(text)));
    const prompt = 'Summarise the file below in three bullet points.\n'.repeat(200);
    const first = counter.countText(prompt, true);
    expect(first).toBeGreaterThan(1000);
    for (let i = 0; i < 100; i++) expect(counter.countText(prompt, true)).toBe(first);
    expect(calls).toBe(1);
  });

  test('a message counts its text, tool calls, tool results and images', () => {
    const counter = new TokenCounter(() => undefined);
    const parts = [
      { kind: 'text' as const, text: 'x'.repeat(70) },
      { kind: 'toolCall' as const, callId: 'c', name: 'f', input: { a: 1 } },
      { kind: 'toolResult' as const, callId: 'c', content: [{ kind: 'text' as const, text: 'y'.repeat(35) }] },
      { kind: 'data' as const, mimeType: 'image/png', data: new Uint8Array(10) },
    ];
    expect(counter.countParts(parts, false)).toBe(4 + 20 + estimateTokens('f{"a":1}') + (4 + 10) + 1600);
  });

  test('counting 72 KB agent prompts stays fast once they are cached', () => {
    const counter = new TokenCounter(() => undefined);
    const prompts = Array.from({ length: 40 }, (_, i) => `${i} ${'tool schema text '.repeat(4200)}`);
    for (const p of prompts) counter.countText(p, false);
    const started = performance.now();
    for (let round = 0; round < 100; round++) for (const p of prompts) counter.countText(p, false);
    expect((performance.now() - started) / 4000).toBeLessThan(0.05); // ms per count, from the cache
  });
});

describe('the budget holds agent prompts', () => {
  test('tool schemas, tool calls and images count toward the TPM reservation', () => {
    const tools = Array.from({ length: 40 }, (_, i) => ({
      name: `tool_${i}`,
      description: 'Does one thing to the workspace, with care. '.repeat(10),
      parameters: { type: 'object', properties: { path: { type: 'string', description: 'A file path.' } } },
    }));
    const bare = estimatePromptTokens({ messages: [{ role: 'user', content: 'go' }] });
    const agent = estimatePromptTokens({
      messages: [
        { role: 'user', content: 'go', images: [{ mediaType: 'image/png', data: 'AA==' }] },
        { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'tool_1', arguments: '{"path":"a.ts"}' }] },
      ],
      tools,
    });
    expect(agent - bare).toBeGreaterThan(Buffer.byteLength(JSON.stringify(tools)) / 4 + 1600);
  });
});

describe("redaction inside VS Code's chat", () => {
  test('system, user and tool text are scrubbed with placeholders stable across the conversation', () => {
    const key = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123';
    const { request, redacted } = redactChatRequest(
      {
        system: `Workspace env has ${key}`,
        messages: [
          { role: 'user', content: `why does ${key} fail` },
          { role: 'assistant', content: 'Which key?', toolCalls: [{ id: 'c', name: 'read', arguments: '{}' }] },
          { role: 'tool', toolCallId: 'c', content: `OPENAI_API_KEY=${key}\nmail me: a@b.io` },
        ],
      },
      new Redactor(),
    );
    expect(redacted).toBe(4);
    expect(request.system).toBe('Workspace env has [API_KEY_1]');
    expect(request.messages.map((m) => m.content)).toEqual([
      'why does [API_KEY_1] fail',
      'Which key?',
      'OPENAI_API_KEY=[API_KEY_1]\nmail me: [EMAIL_1]',
    ]);
    expect(JSON.stringify(request)).not.toContain(key);
  });
});

describe("requests from VS Code's chat in the status bar", () => {
  test('counted apart, with their tokens and cost', () => {
    const usage = new ChatUsage();
    let changes = 0;
    usage.onChange(() => changes++);
    expect(usage.summary(t)).toBeUndefined();
    usage.started();
    usage.started();
    usage.finished('ok', { inputTokens: 20_480, outputTokens: 1024, cost: 0.0123 });
    expect(usage.summary(t)).toBe("VS Code's chat: 2 requests (1 running), 20,480 tokens in, 1,024 out, $0.01");
    usage.finished('cancelled', {});
    expect(usage.summary(t)).toBe("VS Code's chat: 2 requests (1 stopped), 20,480 tokens in, 1,024 out, $0.01");
    expect(changes).toBe(4);
  });

  test('running and queued count every endpoint, so a chat request on another endpoint shows', () => {
    expect(statusView('m', undefined, t, 0, { inFlight: 1, queued: 2 }).text).toBe('$(sync~spin) 1 running · 2 queued');
  });
});
