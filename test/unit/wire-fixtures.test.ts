import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LlmClient, type Completion, type ProviderKind, type StreamEvent } from '../../src/core';
import { PROVIDERS } from '../../src/core/providers';
import { CompletionFolder } from '../../src/core/request/completion';
import { TestLlmServer } from '../server/llm-server';
import { WIRE, randomSplits, wireJson, wireStreams, type WireFormat } from './wire-replay';

/**
 * Streams and bodies recorded from real providers by others (sources in
 * test/fixtures/wire/SOURCES.md), replayed byte for byte through the test
 * server, whole and re-split at seeded random byte boundaries.
 */

type Expected = {
  /** The stream ends in this error instead. */
  error?: { name: string; message: RegExp };
  text?: string | { length: number; startsWith: string };
  reasoning?: { length: number; startsWith?: string; signed?: boolean };
  toolCalls?: Completion['toolCalls'];
  refusal?: string;
  finishReason: Completion['finishReason'];
  usage: Completion['usage'];
};

const weatherSF = (id: string, args = '{"location": "San Francisco"}') => [{ id, name: 'weather', arguments: args }];

const EXPECTED: Record<WireFormat, Record<string, Expected | Expected[]>> = {
  // Composed from the objects in Ollama's API documentation (docs/api.md), which shows a stream's first and last lines.
  ollama: {
    'docs-chat-streaming.ndjson': { text: 'The', finishReason: 'stop', usage: { inputTokens: 26, outputTokens: 282 } },
    'docs-chat-streaming-tools.ndjson': {
      text: '',
      toolCalls: [{ id: 'call_0', name: 'get_weather', arguments: '{"city":"Tokyo"}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 169, outputTokens: 15 },
    },
    'docs-chat.json': {
      text: 'Hello! How are you today?',
      finishReason: 'stop',
      usage: { inputTokens: 26, outputTokens: 298 },
    },
    'docs-chat-images.json': {
      text: { length: 196, startsWith: ' The image features a cute, little pig' },
      finishReason: 'stop',
      usage: { inputTokens: 26, outputTokens: 83 },
    },
    'docs-chat-tools.json': {
      text: '',
      toolCalls: [{ id: 'call_0', name: 'get_weather', arguments: '{"city":"Tokyo"}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 169, outputTokens: 18 },
    },
    'docs-chat-with-tools.json': {
      text: '',
      toolCalls: [
        { id: 'call_0', name: 'get_current_weather', arguments: '{"format":"celsius","location":"Paris, FR"}' },
      ],
      finishReason: 'tool_calls',
      usage: { inputTokens: 122, outputTokens: 33 },
    },
  },
  'openai-responses': {
    'azure-text.1.chunks.txt': {
      text: 'Hello',
      finishReason: 'stop',
      usage: { inputTokens: 11, outputTokens: 11, cachedInputTokens: 0, reasoningTokens: 0 },
    },
    'azure-tool-call.1.chunks.txt': {
      text: '',
      toolCalls: [{ id: 'call_H5DxLSFnsGhiROnUiDHmgyc8', name: 'weather', arguments: '{"location":"San Francisco"}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 45, outputTokens: 24, cachedInputTokens: 0, reasoningTokens: 0 },
    },
    // LM Studio's own Responses API.
    'lmstudio-basic.1.chunks.txt': {
      text: { length: 1384, startsWith: '## The Festival of Whispering Leaves' },
      finishReason: 'stop',
      usage: { inputTokens: 31, outputTokens: 282, cachedInputTokens: 30, reasoningTokens: 0 },
    },
    'lmstudio-tool-call.1.chunks.txt': {
      text: { length: 67, startsWith: "I'll get the current weather information" },
      reasoning: { length: 242, startsWith: 'The user is asking for th' },
      toolCalls: [{ id: 'call_2025306790300011', name: 'weather', arguments: '{"location":"San Francisco"}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 182, outputTokens: 61, cachedInputTokens: 2, reasoningTokens: 48 },
    },
    // xAI's Responses API.
    'xai-text-streaming.1.chunks.txt': {
      text: { length: 3068, startsWith: '### Overview of Sonoran Cuisine\nSonoran ' },
      reasoning: { length: 569, startsWith: 'First, the question is: "' },
      finishReason: 'stop',
      usage: { inputTokens: 216, outputTokens: 863, cachedInputTokens: 192, reasoningTokens: 237 },
    },
    'xai-text-with-reasoning-streaming.1.chunks.txt': {
      text: { length: 2849, startsWith: '### Overview of Sonoran Cuisine\nSonoran ' },
      reasoning: { length: 766, startsWith: 'First, the question is: "' },
      finishReason: 'stop',
      usage: { inputTokens: 216, outputTokens: 923, cachedInputTokens: 192, reasoningTokens: 323 },
    },
    // A commentary message, then the answer: two messages, a paragraph apart.
    'openai-phase.1.chunks.txt': {
      text: 'Got it\n\nHere are a few **AI',
      finishReason: 'stop',
      usage: { inputTokens: 7112, outputTokens: 463, cachedInputTokens: 3072, reasoningTokens: 64 },
    },
    'openai-phase.1.json': {
      text: { length: 1368, startsWith: 'I’ll quickly check reliable, up-to-date' },
      finishReason: 'stop',
      usage: { inputTokens: 7243, outputTokens: 423, cachedInputTokens: 3072, reasoningTokens: 58 },
    },
    'github-copilot-id-rotation.1.chunks.txt': {
      text: { length: 138, startsWith: 'There are **3** letter **“r”**s in **“strawberry.”' },
      reasoning: { length: 34, startsWith: '**Counting character occurrenc' },
      finishReason: 'stop',
      usage: {
        inputTokens: 19,
        outputTokens: 105,
        cachedInputTokens: 0,
        cacheWriteInputTokens: 0,
        reasoningTokens: 44,
      },
    },
    // insufficient_quota as an error event after the 200, then response.failed.
    'openai-error.1.chunks.txt': {
      error: { name: 'ProviderError', message: /You exceeded your current quota/ },
      text: '',
      finishReason: undefined,
      usage: {},
    },
    // Four responses of one exchange: three calculator calls (the first after reasoning), then the answer.
    'openai-reasoning-encrypted-content.1.chunks.txt': [
      {
        text: '',
        reasoning: { length: 163, startsWith: '**Calculating step-by-step using calc' },
        toolCalls: [
          { id: 'call_AB6AaRZ1FYZB2RwS6A5vbdqn', name: 'calculator', arguments: '{"a":12,"b":7,"op":"add"}' },
        ],
        finishReason: 'tool_calls',
        usage: { inputTokens: 134, outputTokens: 28, cachedInputTokens: 0, reasoningTokens: 0 },
      },
      {
        text: '',
        toolCalls: [
          { id: 'call_Q6pW65MUgW9vF59BmItYGos3', name: 'calculator', arguments: '{"a":19,"b":3,"op":"multiply"}' },
        ],
        finishReason: 'tool_calls',
        usage: { inputTokens: 221, outputTokens: 26, cachedInputTokens: 0, reasoningTokens: 0 },
      },
      {
        text: '',
        toolCalls: [
          { id: 'call_Zl5vIMnD7dVAjgU6FkhmiCZh', name: 'calculator', arguments: '{"a":57,"b":10,"op":"multiply"}' },
        ],
        finishReason: 'tool_calls',
        usage: { inputTokens: 260, outputTokens: 26, cachedInputTokens: 0, reasoningTokens: 0 },
      },
      {
        text: 'The final result is **570**.',
        finishReason: 'stop',
        usage: { inputTokens: 299, outputTokens: 12, cachedInputTokens: 0, reasoningTokens: 0 },
      },
    ],
    'openai-reasoning-encrypted-content.1.json': {
      text: { length: 56, startsWith: '12 + 7 = 19\n19 × 3 = 57\n57 × 10 = 570' },
      reasoning: { length: 399 },
      finishReason: 'stop',
      usage: { inputTokens: 865, outputTokens: 163, cachedInputTokens: 0, reasoningTokens: 128 },
    },
  },
  'openai-chat': {
    'alibaba-reasoning.chunks.txt': {
      text: { length: 816, startsWith: 'The word **"strawberry"** contains **3**' },
      reasoning: { length: 3301, startsWith: 'We are asked: "How many' },
      finishReason: 'stop',
      usage: { inputTokens: 24, outputTokens: 1355, cachedInputTokens: 0, reasoningTokens: 1084 },
    },
    'alibaba-text.chunks.txt': {
      text: { length: 3771, startsWith: '## The Festival of Shared Stories' },
      finishReason: 'stop',
      usage: { inputTokens: 18, outputTokens: 779, cachedInputTokens: 0 },
    },
    'alibaba-tool-call.chunks.txt': {
      text: '',
      toolCalls: [{ id: 'call_eee11723464a4b9eb8cee71d', name: 'weather', arguments: '{"location": "San Francisco"}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 295, outputTokens: 22, cachedInputTokens: 0 },
    },
    'azure-deepseek-reasoning.1.chunks.txt': {
      // 2,665 UTF-16 units: the answer ends in emoji outside the Basic Multilingual Plane.
      text: { length: 2665, startsWith: "Exciting news, Knicks fans—there's a bra" },
      reasoning: { length: 3832, startsWith: 'We need to invent a new h' },
      finishReason: 'stop',
      usage: { inputTokens: 19, outputTokens: 1720 },
    },
    'moonshotai-stream.chunks.txt': {
      text: 'Hello!',
      reasoning: { length: 16, startsWith: 'Thinking aloud. ' },
      finishReason: 'stop',
      usage: { inputTokens: 9, outputTokens: 12, reasoningTokens: 7 },
    },
    'perplexity-text.chunks.txt': {
      text: { length: 22, startsWith: '**EcoVista Day**[1][5]' },
      finishReason: 'stop',
      usage: { inputTokens: 11, outputTokens: 434 },
    },
    'openai-text.chunks.txt': {
      text: { length: 1724, startsWith: '**Holiday Name:** Harmony Day' },
      finishReason: 'stop',
      usage: { inputTokens: 16, outputTokens: 300, cachedInputTokens: 0, reasoningTokens: 0 },
    },
    'azure-model-router.1.chunks.txt': {
      text: 'Capital of Denmark.',
      finishReason: 'stop',
      usage: { inputTokens: 15, outputTokens: 78, cachedInputTokens: 0, reasoningTokens: 64 },
    },
    'deepseek-text.chunks.txt': {
      text: { length: 1855, startsWith: '## **Holiday Name:** Starlight Remembrance' },
      finishReason: 'length',
      usage: { inputTokens: 13, outputTokens: 400, cachedInputTokens: 0 },
    },
    'deepseek-reasoning.chunks.txt': {
      text: 'The word "strawberry" contains three "r"s.',
      reasoning: { length: 606, startsWith: 'We need to count' },
      finishReason: 'stop',
      usage: { inputTokens: 18, outputTokens: 219, cachedInputTokens: 0, reasoningTokens: 205 },
    },
    'deepseek-reasoning.json': {
      text: { length: 107, startsWith: 'The word "strawberry" contains three' },
      reasoning: { length: 935, startsWith: 'We are asked' },
      finishReason: 'stop',
      usage: { inputTokens: 18, outputTokens: 345, cachedInputTokens: 0, reasoningTokens: 315 },
    },
    'deepseek-tool-call.chunks.txt': {
      text: '',
      reasoning: { length: 191 },
      toolCalls: weatherSF('call_00_ioIn7yN9p1ZOMNpDLwd4MgAF'),
      finishReason: 'tool_calls',
      usage: { inputTokens: 339, outputTokens: 83, cachedInputTokens: 320, reasoningTokens: 39 },
    },
    'deepseek-tool-call.json': {
      text: '',
      reasoning: { length: 242 },
      toolCalls: weatherSF('call_00_9V0vrf86Pc9aelHCJMZqnJBo'),
      finishReason: 'tool_calls',
      usage: { inputTokens: 339, outputTokens: 92, cachedInputTokens: 320, reasoningTokens: 48 },
    },
    'groq-text.chunks.txt': {
      text: { length: 3189, startsWith: 'Introducing "Luminaria"' },
      finishReason: 'stop',
      usage: { inputTokens: 45, outputTokens: 662 },
    },
    'groq-reasoning.chunks.txt': {
      text: { length: 347, startsWith: 'The word **"strawberry"**' },
      reasoning: { length: 2952, startsWith: 'Okay, let me try' },
      finishReason: 'stop',
      usage: { inputTokens: 17, outputTokens: 1107, reasoningTokens: 963 },
    },
    'groq-reasoning.json': {
      text: { length: 206, startsWith: 'The word "strawberry" contains **3**' },
      reasoning: { length: 1724, startsWith: 'Okay, so the user' },
      finishReason: 'stop',
      usage: { inputTokens: 17, outputTokens: 649, reasoningTokens: 570 },
    },
    'groq-tool-call.chunks.txt': {
      text: '',
      toolCalls: [{ id: 'tk85n1k4m', name: 'weather', arguments: '{}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 210, outputTokens: 15 },
    },
    'mistral-text.chunks.txt': {
      text: 'Hello, world! This is a test response.',
      finishReason: 'stop',
      usage: { inputTokens: 13, outputTokens: 8 },
    },
    'mistral-reasoning.chunks.txt': {
      text: '2 + 2 = 4',
      reasoning: { length: 60, startsWith: 'The user is asking for 2+2.' },
      finishReason: 'stop',
      usage: { inputTokens: 10, outputTokens: 46 },
    },
    'mistral-reasoning.json': {
      text: '2 + 2 = 4',
      reasoning: { length: 60, startsWith: 'The user is asking for 2+2.' },
      finishReason: 'stop',
      usage: { inputTokens: 10, outputTokens: 46 },
    },
    'mistral-tool-call.chunks.txt': {
      text: '',
      toolCalls: weatherSF('gSIMJiOkT'),
      finishReason: 'tool_calls',
      usage: { inputTokens: 124, outputTokens: 22 },
    },
    'mistral-incremental-tool-call.chunks.txt': {
      text: '',
      toolCalls: [
        {
          id: 'chatcmpl-tool-9f149c74c42f265b',
          name: 'webSearchTool',
          arguments: '{"query": "current Berlin weather"}',
        },
      ],
      finishReason: 'tool_calls',
      usage: { inputTokens: 171, outputTokens: 14, cachedInputTokens: 128 },
    },
    'xai-text.chunks.txt': {
      text: 'Grok',
      reasoning: { length: 1455, startsWith: 'First, the user said' },
      finishReason: 'stop',
      usage: { inputTokens: 12, outputTokens: 2, cachedInputTokens: 11, reasoningTokens: 340 },
    },
    'xai-tool-call.chunks.txt': {
      text: '',
      reasoning: { length: 1069 },
      toolCalls: weatherSF('call_79382389', '{"location":"San Francisco"}'),
      finishReason: 'tool_calls',
      usage: { inputTokens: 307, outputTokens: 26, cachedInputTokens: 306, reasoningTokens: 227 },
    },
    'xai-tool-call.json': {
      text: '',
      reasoning: { length: 1194 },
      toolCalls: weatherSF('call_46427107', '{"location":"San Francisco"}'),
      finishReason: 'tool_calls',
      usage: { inputTokens: 307, outputTokens: 26, cachedInputTokens: 244, reasoningTokens: 255 },
    },
  },
  anthropic: {
    'anthropic-text.chunks.txt': {
      text: { length: 108, startsWith: "Hello! I'm doing well, thank you for asking." },
      finishReason: 'stop',
      usage: { inputTokens: 12, outputTokens: 30, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-text.json': {
      text: { length: 105, startsWith: "Hello! I'm doing well, thanks for asking." },
      finishReason: 'stop',
      usage: { inputTokens: 12, outputTokens: 29, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-message-delta-input-tokens.chunks.txt': {
      text: 'pong',
      finishReason: 'stop',
      usage: { inputTokens: 61, outputTokens: 2 },
    },
    'anthropic-clear-thinking.1.chunks.txt': {
      text: '925 ÷ 5 = 185',
      reasoning: { length: 75, startsWith: 'The previous result was 925.', signed: true },
      finishReason: 'stop',
      usage: { inputTokens: 69, outputTokens: 53, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-claude-opus-5-reasoning-high.1.json': {
      text: { length: 2644, startsWith: '## Step 1: Set up the problem' },
      reasoning: { length: 352, startsWith: 'I need to find all roots', signed: true },
      finishReason: 'stop',
      usage: { inputTokens: 51, outputTokens: 1699, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-tool-no-args.chunks.txt': {
      text: "I'll update the issue list for you.",
      toolCalls: [{ id: 'toolu_01QE1WLsSVp5hy5Q3GmGTmjP', name: 'updateIssueList', arguments: '{}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 565, outputTokens: 48, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-tool-no-args.json': {
      text: { length: 255, startsWith: '<thinking>\nThe updateIssueList tool' },
      toolCalls: [{ id: 'toolu_01LRmxn9vGM1d2DZSDBowdZ1', name: 'updateIssueList', arguments: '{}' }],
      finishReason: 'tool_calls',
      usage: { inputTokens: 602, outputTokens: 93, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-json-tool.1.chunks.txt': {
      text: '',
      toolCalls: [
        {
          id: 'toolu_01KFbKqPYSuAKujiL6mTfzYA',
          name: 'json',
          arguments: '{"elements": [{"location": "San Francisco", "temperature": 58, "condition": "sunny"}]}',
        },
      ],
      finishReason: 'tool_calls',
      usage: { inputTokens: 849, outputTokens: 47, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-refusal.chunks.txt': {
      text: '',
      refusal:
        "This request triggered restrictions on violative cyber content and was blocked under Anthropic's Usage Policy.",
      finishReason: 'refusal',
      usage: { inputTokens: 18, outputTokens: 5, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-refusal.json': {
      text: '',
      refusal:
        "This request triggered restrictions on violative cyber content and was blocked under Anthropic's Usage Policy.",
      finishReason: 'refusal',
      usage: { inputTokens: 18, outputTokens: 5, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
    'anthropic-refusal-no-details.json': {
      text: '',
      finishReason: 'refusal',
      usage: { inputTokens: 18, outputTokens: 5, cachedInputTokens: 0, cacheWriteInputTokens: 0 },
    },
  },
};

const PROVIDER: Record<WireFormat, ProviderKind> = {
  'openai-chat': 'openai',
  'openai-responses': 'openai-responses',
  anthropic: 'anthropic',
  ollama: 'ollama',
};
const site = { provider: 'openai' as const, origin: 'http://127.0.0.1' };

let server: TestLlmServer;
const client = new LlmClient({ retry: { maxAttempts: 1 } });
beforeAll(async () => (server = await TestLlmServer.start()));
afterAll(async () => {
  await client.close();
  await server.close();
});

/** Every event but the response's own (its headers differ per run). */
/** Every event but the response's own (its headers differ per run), and the error the stream ended with. */
async function streamed(
  format: WireFormat,
  body: string,
  splitSizes?: number[],
): Promise<{ events: StreamEvent[]; error?: Error }> {
  const provider = PROVIDER[format];
  const contentType = provider === 'ollama' ? 'application/x-ndjson' : 'text/event-stream';
  server.respond({ rawStream: body, headers: { 'content-type': contentType }, splitSizes });
  const baseUrl = provider === 'anthropic' || provider === 'ollama' ? server.origin : `${server.origin}/v1`;
  const request = { messages: [{ role: 'user' as const, content: 'x' }] };
  const events: StreamEvent[] = [];
  try {
    for await (const event of client.stream(request, { endpoint: { provider, baseUrl, model: 'm' } })) {
      if (event.type !== 'response') events.push(event);
    }
    return { events };
  } catch (error) {
    return { events, error: error as Error };
  }
}

function fold(events: StreamEvent[]): Completion {
  const folder = new CompletionFolder();
  for (const event of events) folder.add(event);
  return folder.result();
}

function check(completion: Completion, expected: Expected, error?: Error): void {
  if (expected.error) {
    expect(error?.name).toBe(expected.error.name);
    expect(error?.message).toMatch(expected.error.message);
  } else expect(error).toBeUndefined();
  const { text, reasoning, toolCalls, refusal, finishReason, usage } = expected;
  if (typeof text === 'string') expect(completion.text).toBe(text);
  else if (text) {
    expect(completion.text).toHaveLength(text.length);
    expect(completion.text.startsWith(text.startsWith)).toBe(true);
  }
  if (reasoning) {
    expect(completion.reasoning?.text).toHaveLength(reasoning.length);
    if (reasoning.startsWith) expect(completion.reasoning?.text.startsWith(reasoning.startsWith)).toBe(true);
    expect(Boolean(completion.reasoning?.signature)).toBe(reasoning.signed ?? false);
  } else expect(completion.reasoning).toBeUndefined();
  expect(completion.toolCalls).toEqual(toolCalls);
  expect(completion.refusal).toBe(refusal);
  expect(completion.finishReason).toBe(finishReason);
  expect(completion.usage).toEqual(usage);
}

test('every recorded file has its expectations, and every expectation its file', () => {
  for (const format of Object.keys(EXPECTED) as WireFormat[]) {
    expect(readdirSync(join(WIRE, format)).sort()).toEqual(Object.keys(EXPECTED[format]).sort());
  }
});

for (const format of Object.keys(EXPECTED) as WireFormat[]) {
  describe(format, () => {
    for (const [file, expected] of Object.entries(EXPECTED[format])) {
      if (file.endsWith('.json')) {
        test(`${file}: the whole body reads as recorded`, () => {
          const events = PROVIDERS[PROVIDER[format]].readCompletion(wireJson(format, file), site);
          check(fold(events), expected as Expected);
        });
        continue;
      }
      test(`${file}: streamed whole and re-split at random byte boundaries, the same events`, async () => {
        const bodies = wireStreams(format, file);
        const expectations = [expected].flat();
        expect(bodies).toHaveLength(expectations.length);
        for (const [index, body] of bodies.entries()) {
          const whole = await streamed(format, body);
          check(fold(whole.events), expectations[index]!, whole.error);
          // Every output piece reaches the caller before the finish; after it come only usage, finished calls and timings.
          const finishAt = whole.events.findIndex((event) => event.type === 'finish');
          const afterFinish = finishAt < 0 ? [] : whole.events.slice(finishAt + 1);
          expect(afterFinish.every((e) => e.type === 'usage' || e.type === 'toolCall' || e.type === 'timings')).toBe(
            true,
          );
          for (const seed of [1, 2, 3]) {
            const split = await streamed(format, body, randomSplits(seed * 7919 + file.length + index));
            expect(split.events).toEqual(whole.events);
            expect(split.error?.message).toBe(whole.error?.message);
          }
        }
      });
    }
  });
}
