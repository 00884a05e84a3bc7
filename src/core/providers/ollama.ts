import { ProviderError, type ErrorSite } from '../errors';
import type { Frame } from '../decode/frame';
import type { ChatRequest, Endpoint, FinishReason, ProviderTimings, StreamEvent } from '../types';
import { extraParams, withExtraHeaders } from './extras';
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
    const messages = request.system
      ? [{ role: 'system', content: request.system }, ...request.messages]
      : request.messages;
    // The endpoint's params fill in, their `options` joined with the request's; what the request itself sets wins.
    const params = extraParams(endpoint);
    const options: Json = { ...asObject(params.options) };
    if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
    if (request.temperature !== undefined) options.temperature = request.temperature;
    const body: Json = { model: endpoint.model, messages, stream, ...params };
    if (Object.keys(options).length) body.options = options;
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
    return lineEvents(line, site);
  },
};

class OllamaReader implements StreamReader {
  finished = false;
  ended = false;
  constructor(private readonly site: ErrorSite) {}

  read(frame: Frame): StreamEvent[] {
    const line = asObject(parseFrameJson(frame, this.site)) ?? {};
    if (line.done === true) this.finished = this.ended = true;
    return lineEvents(line, this.site);
  }
}

function lineEvents(line: Json, site: ErrorSite): StreamEvent[] {
  // Ollama may report an error as a line in a 200 response (a model that fails to load mid-way).
  const error = asString(line.error);
  if (error !== undefined) throw new ProviderError(error, undefined, { site });
  const text = asString(asObject(line.message)?.content);
  const events: StreamEvent[] = text ? [{ type: 'text', text }] : [];
  if (line.done !== true) return events;
  return [
    ...events,
    finishEvent(asString(line.done_reason)),
    { type: 'usage', inputTokens: asNumber(line.prompt_eval_count), outputTokens: asNumber(line.eval_count) },
    { type: 'timings', timings: timings(line) },
  ];
}

const FINISH: Record<string, FinishReason> = { stop: 'stop', length: 'length' };

function finishEvent(raw: string | undefined): StreamEvent {
  return { type: 'finish', reason: raw ? (FINISH[raw] ?? 'other') : 'stop', providerReason: raw };
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
