import type { ProviderKind } from './errors';

export type { ProviderKind };

/** One place to send requests: a provider family, its base URL as the official SDK takes it, and a model. */
export interface Endpoint {
  provider: ProviderKind;
  /** OpenAI's includes `/v1` (`http://host:port/v1`); Anthropic's and Ollama's are the bare origin. */
  baseUrl: string;
  model: string;
  /** Sent only to this endpoint's own origin. */
  apiKey?: string;
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
  | { type: 'response'; status: number; requestId?: string; headers: Record<string, string> }
  | { type: 'text'; text: string }
  | { type: 'usage'; inputTokens?: number; outputTokens?: number }
  | { type: 'finish'; reason: FinishReason; providerReason?: string }
  | { type: 'timings'; timings: ProviderTimings };

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
