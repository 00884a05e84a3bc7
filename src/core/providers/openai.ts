import { ProviderError, type ErrorSite } from '../errors';
import type { Frame } from '../decode/frame';
import type {
  ChatMessage,
  ChatRequest,
  Endpoint,
  FinishReason,
  StreamEvent,
  ToolChoice,
  ToolDefinition,
} from '../types';
import { openAiChatReasoning } from './reasoning';
import { ToolCallAssembler } from './tool-calls';
import { extraParams, withExtraHeaders } from './extras';
import {
  asNumber,
  asObject,
  asString,
  errorFromBody,
  joinPath,
  noCompletion,
  parseFrameJson,
  parsedUrl,
  type Json,
  type Provider,
  type StreamReader,
} from './provider';

/** OpenAI chat completions, as spoken by OpenAI, vLLM, llama.cpp, LM Studio, OpenRouter, DeepSeek, Mistral and others. */
export const openai: Provider = {
  kind: 'openai',
  framing: 'sse',
  endMarker: 'data: [DONE]',

  encode(endpoint: Endpoint, request: ChatRequest, stream: boolean) {
    const system = request.system ? [{ role: 'system', content: request.system }] : [];
    const messages = [...system, ...request.messages.map(wireMessage)];
    // Reasoning models take max_completion_tokens and no temperature; the endpoint's params fill
    // in after that, and what the request itself sets wins over them.
    const quirks = openAiChatReasoning(endpoint);
    const body: Json = { model: endpoint.model, messages, stream, ...quirks.fields, ...extraParams(endpoint) };
    if (stream) body.stream_options = { include_usage: true };
    if (request.maxTokens !== undefined) body[quirks.limitField] = request.maxTokens;
    if (request.temperature !== undefined && quirks.temperature) body.temperature = request.temperature;
    if (request.tools?.length) body.tools = request.tools.map(wireTool);
    if (request.toolChoice !== undefined) body.tool_choice = wireToolChoice(request.toolChoice);
    if (request.promptCache) body.prompt_cache_key = request.promptCache.key;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
    };
    if (endpoint.apiKey) Object.assign(headers, keyHeader(endpoint));
    return {
      path: joinPath(endpoint.baseUrl, '/chat/completions'),
      headers: withExtraHeaders(endpoint, headers),
      body: JSON.stringify(body),
    };
  },

  createReader(site: ErrorSite): StreamReader {
    return new OpenAiReader(site);
  },

  readCompletion(body: unknown, site: ErrorSite): StreamEvent[] {
    const root = asObject(body) ?? {};
    throwIfError(root, site);
    if (!Array.isArray(root.choices)) throw noCompletion(body, site, '"choices"');
    const choice = asObject(asArrayFirst(root.choices));
    const message = asObject(choice?.message) ?? {};
    const calls = new ToolCallAssembler();
    asArray(message.tool_calls).forEach((call, index) => void toolCallPiece(calls, asObject(call), index));
    const output = [...outputEvents(message), ...calls.complete()];
    const raw = asString(choice?.finish_reason);
    const refused = output.some((event) => event.type === 'refusal');
    return [...output, ...(raw ? [finishEvent(raw, refused)] : []), ...usageEvents(root)];
  },
};

/** Azure OpenAI takes its key in `api-key`; everyone else as a bearer token. */
export function keyHeader(endpoint: Endpoint): Record<string, string> {
  const host = parsedUrl(endpoint.baseUrl).hostname;
  const azure = host.endsWith('.openai.azure.com') || host.endsWith('.cognitiveservices.azure.com');
  return azure ? { 'api-key': endpoint.apiKey ?? '' } : { authorization: `Bearer ${endpoint.apiKey}` };
}

function wireMessage(message: ChatMessage): Json {
  switch (message.role) {
    case 'user':
      if (!message.images?.length) return { role: 'user', content: message.content };
      return {
        role: 'user',
        content: [
          ...(message.content ? [{ type: 'text', text: message.content }] : []),
          ...message.images.map((image) => ({
            type: 'image_url',
            image_url: { url: `data:${image.mediaType};base64,${image.data}` },
          })),
        ],
      };
    case 'assistant': {
      const calls = message.toolCalls?.map((call) => ({
        id: call.id,
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      }));
      // Content may be null beside tool calls; some servers reject an empty string there.
      return calls?.length
        ? { role: 'assistant', content: message.content || null, tool_calls: calls }
        : { role: 'assistant', content: message.content };
    }
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
  }
}

function wireTool(tool: ToolDefinition): Json {
  const fn: Json = { name: tool.name, parameters: tool.parameters };
  if (tool.description) fn.description = tool.description;
  return { type: 'function', function: fn };
}

function wireToolChoice(choice: ToolChoice): unknown {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}

class OpenAiReader implements StreamReader {
  finished = false;
  ended = false;
  private readonly calls = new ToolCallAssembler();
  private refused = false;
  constructor(private readonly site: ErrorSite) {}

  read(frame: Frame): StreamEvent[] {
    if (frame.data === '[DONE]') {
      this.finished = this.ended = true;
      // A server that never sent a finish reason still gets its calls finished.
      return this.calls.complete();
    }
    const root = asObject(parseFrameJson(frame, this.site)) ?? {};
    throwIfError(root, this.site);
    // Runs once per streamed chunk: one array, pushed into, and nothing allocated for what is absent.
    const events: StreamEvent[] = [];
    const choice = asObject(asArrayFirst(root.choices));
    const delta = asObject(choice?.delta);
    if (delta) {
      pushOutput(events, delta);
      if (Array.isArray(delta.tool_calls)) {
        for (const call of delta.tool_calls) events.push(toolCallPiece(this.calls, asObject(call)));
      }
      if (typeof delta.refusal === 'string' && delta.refusal) this.refused = true;
    }
    const raw = choice?.finish_reason;
    if (typeof raw === 'string' && raw) {
      this.finished = true;
      events.push(...this.calls.complete(), finishEvent(raw, this.refused));
    }
    if (root.usage) events.push(...usageEvents(root));
    return events;
  }
}

/**
 * What a delta or a whole message says: text (a string, or Mistral's array
 * of typed parts), reasoning (DeepSeek, Qwen and xAI call it
 * reasoning_content; Groq and OpenRouter reasoning; Mistral a thinking part),
 * and a refusal.
 */
function outputEvents(part: Json): StreamEvent[] {
  const events: StreamEvent[] = [];
  pushOutput(events, part);
  return events;
}

function pushOutput(events: StreamEvent[], part: Json): void {
  const reasoning = part.reasoning_content ?? part.reasoning;
  if (typeof reasoning === 'string' && reasoning) events.push({ type: 'reasoning', text: reasoning });
  const content = part.content;
  if (typeof content === 'string') {
    if (content) events.push({ type: 'text', text: content });
  } else if (Array.isArray(content)) {
    for (const item of content) events.push(...contentPartEvents(asObject(item)));
  }
  if (typeof part.refusal === 'string' && part.refusal) events.push({ type: 'refusal', text: part.refusal });
}

/** One typed content part: `text`, or `thinking` whose own parts are text. */
function contentPartEvents(item: Json | undefined): StreamEvent[] {
  if (item?.type === 'text') {
    const text = asString(item.text);
    return text ? [{ type: 'text', text }] : [];
  }
  if (item?.type === 'thinking') {
    const parts = Array.isArray(item.thinking) ? item.thinking : [{ type: 'text', text: item.thinking }];
    const text = parts.map((p) => asString(asObject(p)?.text) ?? '').join('');
    return text ? [{ type: 'reasoning', text }] : [];
  }
  return [];
}

/** One `tool_calls` entry: the first for an index has id and name, later ones argument text. */
function toolCallPiece(calls: ToolCallAssembler, call: Json | undefined, fallbackIndex = 0): StreamEvent {
  const fn = asObject(call?.function);
  const index = asNumber(call?.index) ?? fallbackIndex;
  const args = fn?.arguments;
  // Some servers send the arguments as an object rather than JSON text.
  const text = typeof args === 'string' ? args : args === undefined ? '' : JSON.stringify(args);
  return calls.piece(index, asString(call?.id), asString(fn?.name), text);
}

function throwIfError(root: Json, site: ErrorSite): void {
  if (root.error === undefined) return;
  const { message, type } = errorFromBody(root);
  throw new ProviderError(message ?? 'unknown error', type, { site, retryable: type === 'server_error' });
}

function asArrayFirst(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : undefined;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

/** The finish; an answer that was a refusal finishes as one, whatever reason the server gave. */
function finishEvent(raw: string, refused: boolean): StreamEvent {
  return { type: 'finish', reason: refused ? 'refusal' : (FINISH[raw] ?? 'other'), providerReason: raw };
}

function usageEvents(root: Json): StreamEvent[] {
  const usage = asObject(root.usage);
  if (!usage) return [];
  return [
    {
      type: 'usage',
      inputTokens: asNumber(usage.prompt_tokens),
      outputTokens: asNumber(usage.completion_tokens),
      cachedInputTokens: asNumber(asObject(usage.prompt_tokens_details)?.cached_tokens),
      reasoningTokens: asNumber(asObject(usage.completion_tokens_details)?.reasoning_tokens),
    },
  ];
}
