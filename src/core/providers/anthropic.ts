import { ProviderError, type ErrorSite } from '../errors';
import type { Frame } from '../decode/frame';
import type { ChatRequest, Endpoint, FinishReason, StreamEvent } from '../types';
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
      messages: request.messages,
      max_tokens: ANTHROPIC_DEFAULT_MAX_TOKENS,
      stream,
      ...extraParams(endpoint),
    };
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    if (request.system) body.system = request.system;
    if (request.temperature !== undefined) body.temperature = request.temperature;
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
    const blocks = root.content.map(asObject);
    const text = blocks.map((block) => (block?.type === 'text' ? (asString(block.text) ?? '') : '')).join('');
    const usage = asObject(root.usage);
    return [
      ...(text ? [{ type: 'text' as const, text }] : []),
      ...finishEvents(asString(root.stop_reason)),
      { type: 'usage', inputTokens: asNumber(usage?.input_tokens), outputTokens: asNumber(usage?.output_tokens) },
    ];
  },
};

class AnthropicReader implements StreamReader {
  finished = false;
  ended = false;
  constructor(private readonly site: ErrorSite) {}

  read(frame: Frame): StreamEvent[] {
    const root = asObject(parseFrameJson(frame, this.site)) ?? {};
    switch (asString(root.type) ?? frame.event) {
      case 'message_start':
        return startEvents(asObject(root.message));
      case 'content_block_delta':
        return deltaEvents(asObject(root.delta));
      case 'message_delta': {
        const usage = asObject(root.usage);
        const events = finishEvents(asString(asObject(root.delta)?.stop_reason));
        return usage ? [...events, { type: 'usage', outputTokens: asNumber(usage.output_tokens) }] : events;
      }
      case 'message_stop':
        this.finished = this.ended = true;
        return [];
      case 'error':
        throwIfError(root, this.site);
        return [];
      default:
        return []; // ping, content_block_start/stop, and event types added later
    }
  }
}

function startEvents(message: Json | undefined): StreamEvent[] {
  const usage = asObject(message?.usage);
  if (!usage) return [];
  return [{ type: 'usage', inputTokens: asNumber(usage.input_tokens), outputTokens: asNumber(usage.output_tokens) }];
}

function deltaEvents(delta: Json | undefined): StreamEvent[] {
  if (delta?.type !== 'text_delta') return []; // thinking and tool-input deltas are not answer text
  const text = asString(delta.text);
  return text ? [{ type: 'text', text }] : [];
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
  refusal: 'content_filter',
};

function finishEvents(raw: string | undefined): StreamEvent[] {
  return raw ? [{ type: 'finish', reason: FINISH[raw] ?? 'other', providerReason: raw }] : [];
}
