import { ProviderError, type ErrorSite } from '../errors';
import type { Frame } from '../decode/frame';
import type {
  ChatMessage,
  ChatRequest,
  Endpoint,
  FinishReason,
  PromptCacheHint,
  StreamEvent,
  ToolChoice,
  ToolDefinition,
} from '../types';
import { anthropicThinking } from './reasoning';
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
  type Json,
  type Provider,
  type StreamReader,
} from './provider';

export const ANTHROPIC_VERSION = '2023-06-01';
/** The Messages API requires max_tokens; this is used when the request gives none. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

/** Anthropic's errors that mean "try again later" rather than "this request is wrong". */
const RETRYABLE_TYPES = new Set(['overloaded_error', 'api_error', 'rate_limit_error']);

/** Anthropic Messages API. */
export const anthropic: Provider = {
  kind: 'anthropic',
  framing: 'sse',
  endMarker: 'message_stop',

  encode(endpoint: Endpoint, request: ChatRequest, stream: boolean) {
    // The endpoint's params replace the default max_tokens; what the request itself sets wins over them.
    const body: Json = {
      model: endpoint.model,
      messages: withCacheBreakpoint(request.messages.map(wireMessage), request.promptCache),
      max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
      stream,
      ...extraParams(endpoint),
    };
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    // Extended thinking needs its budget below max_tokens, and takes no temperature.
    const thinking = anthropicThinking(endpoint, body.max_tokens as number);
    if (thinking) Object.assign(body, thinking.fields, { max_tokens: thinking.maxTokens });
    if (request.system) body.system = systemOf(request.system, request.promptCache);
    if (request.temperature !== undefined && !thinking) body.temperature = request.temperature;
    if (request.tools?.length) body.tools = request.tools.map(wireTool);
    if (request.toolChoice !== undefined) body.tool_choice = wireToolChoice(request.toolChoice);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
      'anthropic-version': ANTHROPIC_VERSION,
    };
    if (endpoint.apiKey) headers['x-api-key'] = endpoint.apiKey;
    return {
      path: joinPath(endpoint.baseUrl, '/v1/messages'),
      headers: withExtraHeaders(endpoint, headers),
      body: JSON.stringify(body),
    };
  },

  createReader(site: ErrorSite): StreamReader {
    return new AnthropicReader(site);
  },

  readCompletion(body: unknown, site: ErrorSite): StreamEvent[] {
    const root = asObject(body) ?? {};
    throwIfError(root, site);
    if (!Array.isArray(root.content)) throw noCompletion(body, site, '"content"');
    const calls = new ToolCallAssembler();
    const output = root.content.flatMap((block, index) => blockEvents(asObject(block), index, calls));
    return [
      ...output,
      ...calls.complete(),
      ...refusalEvents(root),
      ...finishEvents(asString(root.stop_reason)),
      usageEvent(asObject(root.usage)),
    ];
  },
};

/** Anthropic's cache marker: the 5-minute cache unless the hint asks for the hour. */
function cacheControl(hint: PromptCacheHint): Json {
  return hint.ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' };
}

/**
 * The last user message split where its shared beginning ends, the
 * beginning marked for the cache, so everything before the mark (tools,
 * system, that beginning) is cached once and read by every later request.
 */
function withCacheBreakpoint(messages: Json[], hint: PromptCacheHint | undefined): Json[] {
  const last = messages.at(-1);
  if (!hint || !last || last.role !== 'user' || typeof last.content !== 'string') return messages;
  const text = last.content;
  if (hint.sharedChars <= 0 || hint.sharedChars >= text.length) return messages;
  const content = [
    { type: 'text', text: text.slice(0, hint.sharedChars), cache_control: cacheControl(hint) },
    { type: 'text', text: text.slice(hint.sharedChars) },
  ];
  return [...messages.slice(0, -1), { role: 'user', content }];
}

/** The system prompt, marked for the cache when the user message has no shared beginning to mark. */
function systemOf(system: string, hint: PromptCacheHint | undefined): string | Json[] {
  if (!hint || hint.sharedChars > 0) return system;
  return [{ type: 'text', text: system, cache_control: cacheControl(hint) }];
}

/**
 * Anthropic's turns: a user turn carries text and images; tool results go
 * back as a user turn of tool_result blocks; an assistant turn replays its
 * thinking (signature included, as the API requires when tools are in use),
 * its text and its tool_use blocks.
 */
function wireMessage(message: ChatMessage): Json {
  switch (message.role) {
    case 'user':
      if (!message.images?.length) return { role: 'user', content: message.content };
      return {
        role: 'user',
        content: [
          ...message.images.map((image) => ({
            type: 'image',
            source: { type: 'base64', media_type: image.mediaType, data: image.data },
          })),
          ...(message.content ? [{ type: 'text', text: message.content }] : []),
        ],
      };
    case 'assistant': {
      const { reasoning, toolCalls } = message;
      if (!reasoning && !toolCalls?.length) return { role: 'assistant', content: message.content };
      const thinking = reasoning?.signature
        ? [{ type: 'thinking', thinking: reasoning.text, signature: reasoning.signature }]
        : [];
      const redacted = (reasoning?.redacted ?? []).map((data) => ({ type: 'redacted_thinking', data }));
      const text = message.content ? [{ type: 'text', text: message.content }] : [];
      const uses = (toolCalls ?? []).map((call) => ({
        type: 'tool_use',
        id: call.id,
        name: call.name,
        input: parseArguments(call.arguments),
      }));
      return { role: 'assistant', content: [...thinking, ...redacted, ...text, ...uses] };
    }
    case 'tool':
      return {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: message.toolCallId,
            content: message.content,
            ...(message.isError ? { is_error: true } : {}),
          },
        ],
      };
  }
}

/** The model's argument text as the object Anthropic wants back; text that is not an object is wrapped, not dropped. */
function parseArguments(text: string): unknown {
  try {
    const value: unknown = JSON.parse(text || '{}');
    return asObject(value) ?? { value };
  } catch {
    return { text };
  }
}

function wireTool(tool: ToolDefinition): Json {
  const wire: Json = { name: tool.name, input_schema: tool.parameters };
  if (tool.description) wire.description = tool.description;
  return wire;
}

function wireToolChoice(choice: ToolChoice): Json {
  if (typeof choice !== 'string') return { type: 'tool', name: choice.name };
  return { type: choice === 'required' ? 'any' : choice };
}

class AnthropicReader implements StreamReader {
  finished = false;
  ended = false;
  private readonly calls = new ToolCallAssembler();
  private readonly blocks = new Map<number, string>();
  constructor(private readonly site: ErrorSite) {}

  read(frame: Frame): StreamEvent[] {
    const root = asObject(parseFrameJson(frame, this.site)) ?? {};
    switch (asString(root.type) ?? frame.event) {
      case 'message_start':
        return [usageEvent(asObject(asObject(root.message)?.usage))];
      case 'content_block_start': {
        const index = asNumber(root.index) ?? 0;
        const block = asObject(root.content_block);
        this.blocks.set(index, asString(block?.type) ?? '');
        // A tool_use block opens with id and name (and an empty input that the deltas then fill).
        if (block?.type === 'tool_use') return [this.calls.piece(index, asString(block.id), asString(block.name), '')];
        return blockEvents(block, index, undefined);
      }
      case 'content_block_delta':
        return this.deltaEvents(asNumber(root.index) ?? 0, asObject(root.delta));
      case 'content_block_stop':
        return this.calls.completeOne(asNumber(root.index) ?? 0);
      case 'message_delta': {
        const usage = asObject(root.usage);
        const delta = asObject(root.delta);
        const events = [
          ...this.calls.complete(),
          ...refusalEvents(delta),
          ...finishEvents(asString(delta?.stop_reason)),
        ];
        return usage ? [...events, usageEvent(usage)] : events;
      }
      case 'message_stop':
        this.finished = this.ended = true;
        return this.calls.complete();
      case 'error':
        throwIfError(root, this.site);
        return [];
      default:
        return []; // ping, and event types added later
    }
  }

  private deltaEvents(index: number, delta: Json | undefined): StreamEvent[] {
    switch (delta?.type) {
      case 'text_delta': {
        const text = asString(delta.text);
        return text ? [{ type: 'text', text }] : [];
      }
      case 'thinking_delta': {
        const text = asString(delta.thinking);
        return text ? [{ type: 'reasoning', text }] : [];
      }
      case 'signature_delta': {
        const signature = asString(delta.signature);
        return signature ? [{ type: 'reasoning', text: '', signature }] : [];
      }
      case 'input_json_delta':
        return [this.calls.piece(index, undefined, undefined, asString(delta.partial_json) ?? '')];
      default:
        return []; // citations and delta types added later
    }
  }
}

/** A whole content block (non-streaming, or the start of a streamed one): text, thinking, redacted thinking, tool use. */
function blockEvents(block: Json | undefined, index: number, calls: ToolCallAssembler | undefined): StreamEvent[] {
  switch (block?.type) {
    case 'text': {
      const text = asString(block.text);
      return text ? [{ type: 'text', text }] : [];
    }
    case 'thinking': {
      const text = asString(block.thinking) ?? '';
      const signature = asString(block.signature);
      return text || signature ? [{ type: 'reasoning', text, ...(signature ? { signature } : {}) }] : [];
    }
    case 'redacted_thinking': {
      const data = asString(block.data);
      return data ? [{ type: 'reasoning', text: '', redacted: data }] : [];
    }
    case 'tool_use':
      return calls
        ? [calls.piece(index, asString(block.id), asString(block.name), JSON.stringify(block.input ?? {}))]
        : [];
    default:
      return [];
  }
}

/**
 * Anthropic counts prompt tokens read from and written to its cache apart
 * from input_tokens; Flowgate's inputTokens is the whole prompt, their sum.
 */
function usageEvent(usage: Json | undefined): StreamEvent {
  const fresh = asNumber(usage?.input_tokens);
  const cacheRead = asNumber(usage?.cache_read_input_tokens);
  const cacheWrite = asNumber(usage?.cache_creation_input_tokens);
  const parts = [fresh, cacheRead, cacheWrite].filter((n): n is number => n !== undefined);
  return {
    type: 'usage',
    inputTokens: parts.length ? parts.reduce((a, b) => a + b, 0) : undefined,
    outputTokens: asNumber(usage?.output_tokens),
    cachedInputTokens: cacheRead,
    cacheWriteInputTokens: cacheWrite,
  };
}

function throwIfError(root: Json, site: ErrorSite): void {
  if (root.type !== 'error' && root.error === undefined) return;
  const { message, type } = errorFromBody(root);
  throw new ProviderError(message ?? 'unknown error', type, {
    site,
    retryable: type !== undefined && RETRYABLE_TYPES.has(type),
  });
}

const FINISH: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  pause_turn: 'other',
  refusal: 'refusal',
};

/** A refusal by stop reason carries its explanation in stop_details (on the message, or the message_delta's delta). */
function refusalEvents(holder: Json | undefined): StreamEvent[] {
  if (holder?.stop_reason !== 'refusal') return [];
  const explanation = asString(asObject(holder.stop_details)?.explanation);
  return explanation ? [{ type: 'refusal', text: explanation }] : [];
}

function finishEvents(raw: string | undefined): StreamEvent[] {
  return raw ? [{ type: 'finish', reason: FINISH[raw] ?? 'other', providerReason: raw }] : [];
}
