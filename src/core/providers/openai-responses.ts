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
import { keyHeader } from './openai';
import { responsesReasoning } from './reasoning';
import { ToolCallAssembler } from './tool-calls';

/**
 * OpenAI's Responses API (`POST /v1/responses`), the only API of some
 * reasoning models. A stream is typed events that end with
 * response.completed, response.incomplete or response.failed; there is no
 * [DONE]. An error can arrive as an event after the 200.
 */
export const openaiResponses: Provider = {
  kind: 'openai-responses',
  framing: 'sse',
  endMarker: 'response.completed',

  encode(endpoint: Endpoint, request: ChatRequest, stream: boolean) {
    // Not stored by default: Flowgate sends the whole conversation each time and never refers back to a stored response.
    const quirks = responsesReasoning(endpoint);
    const body: Json = { model: endpoint.model, input: request.messages.flatMap(inputItems), stream, store: false };
    Object.assign(body, quirks.fields, extraParams(endpoint));
    if (request.system) body.instructions = request.system;
    if (request.maxTokens !== undefined) body.max_output_tokens = request.maxTokens;
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
      path: joinPath(endpoint.baseUrl, '/responses'),
      headers: withExtraHeaders(endpoint, headers),
      body: JSON.stringify(body),
    };
  },

  createReader(site: ErrorSite): StreamReader {
    return new ResponsesReader(site);
  },

  readCompletion(body: unknown, site: ErrorSite): StreamEvent[] {
    const response = asObject(body) ?? {};
    throwIfFailed(response, site);
    if (!Array.isArray(response.output)) throw noCompletion(body, site, '"output"');
    const calls = new ToolCallAssembler();
    const events = response.output.flatMap((item, index) => outputItemEvents(asObject(item), index, calls));
    const messages = events.filter((event) => event.type === 'text');
    // Messages are paragraphs apart, as they are when streamed.
    for (const message of messages.slice(1))
      if (message.type === 'text') message.text = `${MESSAGE_BREAK}${message.text}`;
    return [...events, ...calls.complete(), ...endEvents(response)];
  },
};

/** One message as Responses input items: tool calls and their results are items of their own. */
function inputItems(message: ChatMessage): Json[] {
  switch (message.role) {
    case 'user': {
      if (!message.images?.length) return [{ role: 'user', content: message.content }];
      const text = message.content ? [{ type: 'input_text', text: message.content }] : [];
      const images = message.images.map((image) => ({
        type: 'input_image',
        image_url: `data:${image.mediaType};base64,${image.data}`,
      }));
      return [{ role: 'user', content: [...text, ...images] }];
    }
    case 'assistant': {
      const text = message.content ? [{ role: 'assistant', content: message.content }] : [];
      const calls = (message.toolCalls ?? []).map((call) => ({
        type: 'function_call',
        call_id: call.id,
        name: call.name,
        arguments: call.arguments,
      }));
      return [...text, ...calls];
    }
    case 'tool':
      return [{ type: 'function_call_output', call_id: message.toolCallId, output: message.content }];
  }
}

function wireTool(tool: ToolDefinition): Json {
  const wire: Json = { type: 'function', name: tool.name, parameters: tool.parameters };
  if (tool.description) wire.description = tool.description;
  return wire;
}

function wireToolChoice(choice: ToolChoice): unknown {
  return typeof choice === 'string' ? choice : { type: 'function', name: choice.name };
}

class ResponsesReader implements StreamReader {
  finished = false;
  ended = false;
  private readonly calls = new ToolCallAssembler();
  private wroteText = false;
  constructor(private readonly site: ErrorSite) {}

  read(frame: Frame): StreamEvent[] {
    const event = asObject(parseFrameJson(frame, this.site)) ?? {};
    const type = asString(event.type) ?? frame.event;
    switch (type) {
      case 'response.output_text.delta': {
        const text = textEvent('text', event.delta);
        this.wroteText ||= text.length > 0;
        return text;
      }
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        return textEvent('reasoning', event.delta);
      case 'response.refusal.delta':
        return textEvent('refusal', event.delta);
      case 'response.output_item.added':
        return this.itemAdded(asObject(event.item), asNumber(event.output_index) ?? 0);
      case 'response.function_call_arguments.delta':
        return [this.calls.piece(asNumber(event.output_index) ?? 0, undefined, undefined, asString(event.delta) ?? '')];
      case 'response.output_item.done':
        return this.calls.completeOne(asNumber(event.output_index) ?? 0, asString(asObject(event.item)?.arguments));
      case 'response.completed':
      case 'response.incomplete':
        this.finished = this.ended = true;
        return [...this.calls.complete(), ...endEvents(asObject(event.response) ?? {})];
      case 'response.failed':
        throwIfFailed(asObject(event.response) ?? {}, this.site);
        return [];
      case 'error':
        throw streamError(event, this.site);
      default:
        return []; // created, in_progress, part and item bookkeeping, and event types added later
    }
  }

  private itemAdded(item: Json | undefined, index: number): StreamEvent[] {
    // A second message (a model's commentary, then its answer) starts a new paragraph.
    if (item?.type === 'message') return this.wroteText ? [{ type: 'text', text: MESSAGE_BREAK }] : [];
    if (item?.type !== 'function_call') return [];
    return [this.calls.piece(index, asString(item.call_id), asString(item.name), asString(item.arguments) ?? '')];
  }
}

const MESSAGE_BREAK = '\n\n';

function textEvent(type: 'text' | 'reasoning' | 'refusal', delta: unknown): StreamEvent[] {
  const text = asString(delta);
  return text ? [{ type, text }] : [];
}

/** A whole output item: a message's text and refusals, a reasoning item's summary, a function call. */
function outputItemEvents(item: Json | undefined, index: number, calls: ToolCallAssembler): StreamEvent[] {
  switch (item?.type) {
    case 'message': {
      const parts = (Array.isArray(item.content) ? item.content : []).map(asObject);
      const text = parts.map((p) => (p?.type === 'output_text' ? (asString(p.text) ?? '') : '')).join('');
      const refusals = parts.flatMap((p) => (p?.type === 'refusal' ? textEvent('refusal', p.refusal) : []));
      return [...textEvent('text', text), ...refusals];
    }
    case 'reasoning': {
      const summary = (Array.isArray(item.summary) ? item.summary : []).map((s) => asString(asObject(s)?.text) ?? '');
      return textEvent('reasoning', summary.join('\n\n'));
    }
    case 'function_call':
      return [calls.piece(index, asString(item.call_id), asString(item.name), asString(item.arguments) ?? '')];
    default:
      return [];
  }
}

/** The finish and usage a completed or incomplete response ends with. */
function endEvents(response: Json): StreamEvent[] {
  const status = asString(response.status);
  const incomplete = asString(asObject(response.incomplete_details)?.reason);
  const usage = asObject(response.usage);
  const usageEvents: StreamEvent[] = usage
    ? [
        {
          type: 'usage',
          inputTokens: asNumber(usage.input_tokens),
          outputTokens: asNumber(usage.output_tokens),
          cachedInputTokens: asNumber(asObject(usage.input_tokens_details)?.cached_tokens),
          cacheWriteInputTokens: asNumber(asObject(usage.input_tokens_details)?.cache_write_tokens),
          reasoningTokens: asNumber(asObject(usage.output_tokens_details)?.reasoning_tokens),
        },
      ]
    : [];
  const calledTools =
    Array.isArray(response.output) && response.output.some((item) => asObject(item)?.type === 'function_call');
  const reason: FinishReason =
    status === 'incomplete' ? (INCOMPLETE[incomplete ?? ''] ?? 'other') : calledTools ? 'tool_calls' : 'stop';
  return [{ type: 'finish', reason, providerReason: incomplete ?? status ?? 'completed' }, ...usageEvents];
}

const INCOMPLETE: Record<string, FinishReason> = { max_output_tokens: 'length', content_filter: 'content_filter' };

/** A failed response, streamed or whole: the provider's error, retryable when the server says it was its fault. */
function throwIfFailed(response: Json, site: ErrorSite): void {
  if (response.status !== 'failed' && response.error === undefined) return;
  const error = asObject(response.error);
  if (!error && response.status !== 'failed') return;
  const code = asString(error?.code) ?? asString(error?.type);
  throw new ProviderError(asString(error?.message) ?? 'the response failed', code, {
    site,
    retryable: code === 'server_error' || code === 'rate_limit_exceeded',
  });
}

function streamError(event: Json, site: ErrorSite): ProviderError {
  const { message, type } = errorFromBody(event);
  const code = asString(event.code) ?? type;
  return new ProviderError(message ?? 'unknown error', code, { site, retryable: code === 'server_error' });
}
