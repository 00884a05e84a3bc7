import type { FlowgateError, ProviderKind } from './errors';

export type { ProviderKind };

/** One place to send requests: a provider family, its base URL as the official SDK takes it, and a model. */
export interface Endpoint {
  provider: ProviderKind;
  /** OpenAI's includes `/v1` (`http://host:port/v1`); Anthropic's and Ollama's are the bare origin. */
  baseUrl: string;
  model: string;
  /** Sent only to this endpoint's own origin. */
  apiKey?: string;
  /** Names the endpoint in metrics and settings; defaults to provider, base URL and model. */
  id?: string;
  /** Requests per minute this client may send; unset learns the limit from rate-limit headers. */
  rpm?: number;
  /** Tokens (prompt + max output) per minute; unset learns it from headers. */
  tpm?: number;
  /** Requests on the wire at once. @default 8 */
  concurrency?: number;
  /** Offer HTTP/2 over TLS (many streams on one connection); HTTP/1.1 otherwise. @default false */
  http2?: boolean;
  /**
   * Extra request headers, e.g. a gateway's routing or its own key (Azure's
   * `api-key`). Their values may be secrets: they are never logged, and
   * `endpointSecrets` lists them for scrubbing. They cannot replace the
   * headers that carry the key (`authorization`, `x-api-key`), Flowgate's
   * framing (`content-type`, `accept`, `accept-encoding`, `content-encoding`,
   * `anthropic-version`) or the connection's own (`host`, `connection`, ...).
   * @example { "x-portkey-config": "pc-abc", "api-key": "..." }
   */
  headers?: Record<string, string>;
  /**
   * Extra JSON body fields, merged into every request: `temperature`,
   * `max_tokens`, `top_p`, Ollama's `options` and `keep_alive`, ... They
   * replace Flowgate's defaults (Anthropic's `max_tokens` of 4096), while
   * what the request itself sets (`maxTokens`, `temperature`, `system`) wins
   * over them. `model`, `messages`, `stream` and `stream_options` are
   * Flowgate's and cannot be set here. They are part of the cache key.
   * @example { "temperature": 0.2, "max_tokens": 2048 }
   */
  params?: Record<string, unknown>;
}

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  system?: string;
  maxTokens?: number;
  temperature?: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'other';

/** What one streamed answer is made of, whichever provider sent it. */
export type StreamEvent =
  | {
      type: 'response';
      status: number;
      requestId?: string;
      headers: Record<string, string>;
      /** Replayed from the response cache. */ cached?: boolean;
    }
  | { type: 'text'; text: string }
  | { type: 'usage'; inputTokens?: number; outputTokens?: number }
  | { type: 'finish'; reason: FinishReason; providerReason?: string }
  | { type: 'timings'; timings: ProviderTimings }
  /** An attempt failed before any text reached the caller and will be repeated after `delayMs`. */
  | { type: 'retry'; attempt: number; maxAttempts: number; delayMs: number; message: string; error: FlowgateError }
  /** The endpoint failed or is unavailable; the call moves on to the next one in line. */
  | { type: 'failover'; from: string; to: string; message: string; error: FlowgateError };

/** Durations the provider reports about its own work (Ollama's load and eval times). */
export interface ProviderTimings {
  loadMs?: number;
  promptEvalMs?: number;
  evalMs?: number;
  totalMs?: number;
}

export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
}

/** A whole answer, from a non-streaming call or a collected stream. */
export interface Completion {
  text: string;
  usage: Usage;
  finishReason?: FinishReason;
  providerReason?: string;
  timings?: ProviderTimings;
  requestId?: string;
}
