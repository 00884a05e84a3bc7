import { ProviderError, type ErrorSite } from '../errors';
import type { Frame } from '../decode/frame';
import type {
  ChatMessage,
  ChatRequest,
  Endpoint,
  FinishReason,
  ProviderTimings,
  StreamEvent,
  ToolDefinition,
} from '../types';
import { extraParams, withExtraHeaders } from './extras';
import { ollamaThink } from './reasoning';
import {
  asNumber,
  asObject,
  asString,
  joinPath,
  noCompletion,
  parseFrameJson,
  type Json,
  type Provider,
  type StreamReader,
} from './provider';

/** Ollama's native chat API: NDJSON lines, the last with `done: true`, usage and timings. */
export const ollama: Provider = {
  kind: 'ollama',
  framing: 'ndjson',
  endMarker: '"done": true',

  encode(endpoint: Endpoint, request: ChatRequest, stream: boolean) {
    const system = request.system ? [{ role: 'system', content: request.system }] : [];
    const messages = [...system, ...request.messages.map(wireMessage)];
    // The endpoint's params fill in, their `options` joined with the request's; what the request itself sets wins.
    const params = extraParams(endpoint);
    const options: Json = { ...asObject(params.options) };
    if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
    if (request.temperature !== undefined) options.temperature = request.temperature;
    const body: Json = { model: endpoint.model, messages, stream, ...ollamaThink(endpoint), ...params };
    if (Object.keys(options).length) body.options = options;
    if (request.tools?.length) body.tools = request.tools.map(wireTool);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    // Ollama itself has no keys; proxies in front of it commonly take a bearer token.
    if (endpoint.apiKey) headers.authorization = `Bearer ${endpoint.apiKey}`;
    return {
      path: joinPath(endpoint.baseUrl, '/api/chat'),
      headers: withExtraHeaders(endpoint, headers),
      body: JSON.stringify(body),
    };
  },

  createReader(site: ErrorSite): StreamReader {
    return new OllamaReader(site);
  },

  readCompletion(body: unknown, site: ErrorSite): StreamEvent[] {
    const line = asObject(body) ?? {};
    if (line.error === undefined && asObject(line.message) === undefined) throw noCompletion(body, site, '"message"');
    return lineEvents(line, site, { made: 0 });
  },
};

class OllamaReader implements StreamReader {
  finished = false;
  ended = false;
  private readonly calls: CallCount = { made: 0 };
  constructor(private readonly site: ErrorSite) {}

  read(frame: Frame): StreamEvent[] {
    const line = asObject(parseFrameJson(frame, this.site)) ?? {};
    if (line.done === true) this.finished = this.ended = true;
    return lineEvents(line, this.site, this.calls);
  }
}

/** Tool calls so far in this answer: Ollama sends each whole, without an index. */
interface CallCount {
  made: number;
}

function wireMessage(message: ChatMessage): Json {
  switch (message.role) {
    case 'user':
      return message.images?.length
        ? { role: 'user', content: message.content, images: message.images.map((image) => image.data) }
        : { role: 'user', content: message.content };
    case 'assistant': {
      const calls = message.toolCalls?.map((call) => ({
        function: { name: call.name, arguments: parseArguments(call.arguments) },
      }));
      return calls?.length
        ? { role: 'assistant', content: message.content, tool_calls: calls }
        : { role: 'assistant', content: message.content };
    }
    case 'tool':
      return { role: 'tool', content: message.content, ...(message.toolName ? { tool_name: message.toolName } : {}) };
  }
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text || '{}') as unknown;
  } catch {
    return { text };
  }
}

function wireTool(tool: ToolDefinition): Json {
  const fn: Json = { name: tool.name, parameters: tool.parameters };
  if (tool.description) fn.description = tool.description;
  return { type: 'function', function: fn };
}

function lineEvents(line: Json, site: ErrorSite, calls: CallCount): StreamEvent[] {
  // Ollama may report an error as a line in a 200 response (a model that fails to load mid-way).
  const error = asString(line.error);
  if (error !== undefined) throw new ProviderError(error, undefined, { site });
  const message = asObject(line.message);
  const events: StreamEvent[] = [];
  const thinking = asString(message?.thinking);
  if (thinking) events.push({ type: 'reasoning', text: thinking });
  const text = asString(message?.content);
  if (text) events.push({ type: 'text', text });
  for (const call of Array.isArray(message?.tool_calls) ? message.tool_calls : [])
    events.push(...toolCallEvents(asObject(call), calls));
  if (line.done !== true) return events;
  return [
    ...events,
    finishEvent(asString(line.done_reason), calls.made > 0),
    { type: 'usage', inputTokens: asNumber(line.prompt_eval_count), outputTokens: asNumber(line.eval_count) },
    { type: 'timings', timings: timings(line) },
  ];
}

/** One whole call, passed on as its one piece and as the finished call. */
function toolCallEvents(call: Json | undefined, calls: CallCount): StreamEvent[] {
  const fn = asObject(call?.function);
  const index = asNumber(fn?.index) ?? calls.made;
  calls.made++;
  const id = asString(call?.id) ?? `call_${index}`;
  const name = asString(fn?.name) ?? '';
  const args = typeof fn?.arguments === 'string' ? fn.arguments : JSON.stringify(fn?.arguments ?? {});
  return [
    { type: 'toolCallDelta', index, id, name, arguments: args },
    { type: 'toolCall', call: { id, name, arguments: args } },
  ];
}

const FINISH: Record<string, FinishReason> = { stop: 'stop', length: 'length' };

/** Ollama says "stop" after tool calls too; Flowgate says tool_calls, as the other providers do. */
function finishEvent(raw: string | undefined, madeCalls: boolean): StreamEvent {
  const reason = raw ? (FINISH[raw] ?? 'other') : 'stop';
  return { type: 'finish', reason: madeCalls && reason === 'stop' ? 'tool_calls' : reason, providerReason: raw };
}

function nsToMs(value: unknown): number | undefined {
  const ns = asNumber(value);
  return ns === undefined ? undefined : ns / 1e6;
}

function timings(line: Json): ProviderTimings {
  return {
    loadMs: nsToMs(line.load_duration),
    promptEvalMs: nsToMs(line.prompt_eval_duration),
    evalMs: nsToMs(line.eval_duration),
    totalMs: nsToMs(line.total_duration),
  };
}
