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
   * How hard a reasoning model should think: an effort (OpenAI's
   * reasoning_effort, the Responses API's reasoning.effort, an Ollama think
   * level, or an Anthropic budget by size) or Anthropic's thinking budget in
   * tokens. Unset: the provider's default (no extended thinking for Anthropic).
   */
  reasoning?: ReasoningSetting;
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

export interface ReasoningSetting {
  effort?: 'minimal' | 'low' | 'medium' | 'high';
  /** Anthropic's budget_tokens; wins over an effort there. */
  budgetTokens?: number;
}

/** A picture sent with a user message. */
export interface ImageInput {
  /** e.g. image/png, image/jpeg, image/webp, image/gif */
  mediaType: string;
  /** The image's bytes, base64-encoded. */
  data: string;
}

/** A call the model asks the caller to make: a function name and its arguments as the model wrote them. */
export interface ToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments object; may not parse if the model wrote it badly. */
  arguments: string;
}

/** A function the model may call. */
export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

/** Whether the model may, must, or must not call a tool, or must call one named tool. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/**
 * A model's reasoning as the provider returned it. Anthropic needs the
 * thinking blocks sent back unchanged, signature included, when a turn with
 * tool calls continues; the others only show it.
 */
export interface Reasoning {
  text: string;
  /** Anthropic's signature over the thinking text. */
  signature?: string;
  /** Anthropic's redacted_thinking blocks: encrypted, passed back as they came. */
  redacted?: string[];
}

export interface UserMessage {
  role: 'user';
  content: string;
  images?: ImageInput[];
}

export interface AssistantMessage {
  role: 'assistant';
  content: string;
  toolCalls?: ToolCall[];
  reasoning?: Reasoning;
}

/** The result of one tool call, sent back to the model. */
export interface ToolResultMessage {
  role: 'tool';
  toolCallId: string;
  /** The tool's name; Ollama and Gemini-style APIs match results by name. */
  toolName?: string;
  content: string;
  isError?: boolean;
}

export type ChatMessage = UserMessage | AssistantMessage | ToolResultMessage;

export interface ChatRequest {
  messages: ChatMessage[];
  system?: string;
  maxTokens?: number;
  temperature?: number;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** Asks the provider to cache the beginning that many requests share (a batch's instruction). */
  promptCache?: PromptCacheHint;
}

/**
 * OpenAI caches long prompt prefixes by itself; `key` keeps requests that
 * share one on the same cache. Anthropic caches up to a marked point: the
 * system prompt and the first `sharedChars` characters of the last user
 * message, kept for `ttl`.
 */
export interface PromptCacheHint {
  key: string;
  ttl: '5m' | '1h';
  sharedChars: number;
}

/** `refusal`: the model declined (OpenAI's refusal, Anthropic's stop_reason "refusal"). */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'refusal' | 'other';

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
  /** A piece of the model's reasoning (or of its summary); `signature` and `redacted` arrive on their own. */
  | { type: 'reasoning'; text: string; signature?: string; redacted?: string }
  /** A piece of a tool call: the first piece for an index carries id and name, later ones more argument text. */
  | { type: 'toolCallDelta'; index: number; id?: string; name?: string; arguments: string }
  /** A tool call whose arguments are complete. */
  | { type: 'toolCall'; call: ToolCall }
  /** A piece of the model's refusal, said instead of an answer. */
  | { type: 'refusal'; text: string }
  | ({ type: 'usage' } & Usage)
  | { type: 'finish'; reason: FinishReason; providerReason?: string }
  | { type: 'timings'; timings: ProviderTimings }
  /** An attempt failed before any output reached the caller and will be repeated after `delayMs`. */
  | { type: 'retry'; attempt: number; maxAttempts: number; delayMs: number; message: string; error: FlowgateError }
  /** The endpoint failed or is unavailable; the call moves on to the next one in line. */
  | { type: 'failover'; from: string; to: string; message: string; error: FlowgateError };

/** The events that are the model's output; any of them counts as progress for the timers. */
export type OutputEvent = Extract<
  StreamEvent,
  { type: 'text' | 'reasoning' | 'toolCallDelta' | 'toolCall' | 'refusal' }
>;

export function isOutput(event: StreamEvent): event is OutputEvent {
  return OUTPUT_TYPES.has(event.type);
}

const OUTPUT_TYPES = new Set<StreamEvent['type']>(['text', 'reasoning', 'toolCallDelta', 'toolCall', 'refusal']);

/** Durations the provider reports about its own work (Ollama's load and eval times). */
export interface ProviderTimings {
  loadMs?: number;
  promptEvalMs?: number;
  evalMs?: number;
  totalMs?: number;
}

export interface Usage {
  /** Every prompt token, including those read from or written to the provider's prompt cache. */
  inputTokens?: number;
  /** Every output token, reasoning included. */
  outputTokens?: number;
  /** Prompt tokens served from the provider's cache (billed at a lower rate). */
  cachedInputTokens?: number;
  /** Prompt tokens written to the provider's cache (Anthropic bills them at a higher rate). */
  cacheWriteInputTokens?: number;
  /** Output tokens spent on reasoning, part of outputTokens. */
  reasoningTokens?: number;
}

/** A whole answer, from a non-streaming call or a collected stream. */
export interface Completion {
  text: string;
  usage: Usage;
  /** The reasoning, when the model showed any. */
  reasoning?: Reasoning;
  /** The tool calls the model asked for, in order. */
  toolCalls?: ToolCall[];
  /** What the model said instead of answering, when it refused. */
  refusal?: string;
  finishReason?: FinishReason;
  providerReason?: string;
  timings?: ProviderTimings;
  requestId?: string;
}
