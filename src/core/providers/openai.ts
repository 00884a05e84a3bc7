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

/** OpenAI chat completions, as spoken by OpenAI, vLLM, llama.cpp, LM Studio, OpenRouter and others. */
export const openai: Provider = {
  kind: 'openai',
  framing: 'sse',
  endMarker: 'data: [DONE]',

  encode(endpoint: Endpoint, request: ChatRequest, stream: boolean) {
    const messages = request.system
      ? [{ role: 'system', content: request.system }, ...request.messages]
      : request.messages;
    // The endpoint's params fill in; what the request itself sets wins over them.
    const body: Json = { model: endpoint.model, messages, stream, ...extraParams(endpoint) };
    if (stream) body.stream_options = { include_usage: true };
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    if (request.temperature !== undefined) body.temperature = request.temperature;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
    };
    if (endpoint.apiKey) headers.authorization = `Bearer ${endpoint.apiKey}`;
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
    const text = asString(asObject(choice?.message)?.content);
    return [...(text ? [{ type: 'text' as const, text }] : []), ...finishEvents(choice), ...usageEvents(root)];
  },
};

class OpenAiReader implements StreamReader {
  finished = false;
  ended = false;
  constructor(private readonly site: ErrorSite) {}

  read(frame: Frame): StreamEvent[] {
    if (frame.data === '[DONE]') {
      this.finished = this.ended = true;
      return [];
    }
    const root = asObject(parseFrameJson(frame, this.site)) ?? {};
    throwIfError(root, this.site);
    const choice = asObject(asArrayFirst(root.choices));
    const content = asString(asObject(choice?.delta)?.content);
    const events: StreamEvent[] = content ? [{ type: 'text', text: content }] : [];
    const finish = finishEvents(choice);
    if (finish.length) this.finished = true;
    return [...events, ...finish, ...usageEvents(root)];
  }
}

function throwIfError(root: Json, site: ErrorSite): void {
  if (root.error === undefined) return;
  const { message, type } = errorFromBody(root);
  throw new ProviderError(message ?? 'unknown error', type, { site, retryable: type === 'server_error' });
}

function asArrayFirst(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : undefined;
}

const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

function finishEvents(choice: Json | undefined): StreamEvent[] {
  const raw = asString(choice?.finish_reason);
  return raw ? [{ type: 'finish', reason: FINISH[raw] ?? 'other', providerReason: raw }] : [];
}

function usageEvents(root: Json): StreamEvent[] {
  const usage = asObject(root.usage);
  if (!usage) return [];
  return [
    { type: 'usage', inputTokens: asNumber(usage.prompt_tokens), outputTokens: asNumber(usage.completion_tokens) },
  ];
}
