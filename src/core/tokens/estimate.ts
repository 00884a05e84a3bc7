import type { ChatMessage, ChatRequest } from '../types';

/** Output reserved from the token budget when a request sets no max_tokens. */
export const DEFAULT_OUTPUT_RESERVATION = 1024;

/** What a provider bills for one image, about: OpenAI's high-detail tile set and Anthropic's ~1,000-pixel picture. */
export const TOKENS_PER_IMAGE = 1600;

/**
 * A quick over-estimate of prompt tokens for budgeting: about four bytes of
 * UTF-8 per token, plus a little per message. Tool definitions and the
 * model's own tool calls count too: an agent's request carries dozens of
 * tool schemas, often most of its size. The reservation is reconciled with
 * the provider's real usage once the answer is in, so speed matters more
 * here than a model-exact tokenizer.
 */
export function estimatePromptTokens(request: ChatRequest): number {
  let tokens = request.system ? bytesToTokens(request.system) + 4 : 4;
  for (const message of request.messages) tokens += messageTokens(message);
  if (request.tools?.length) tokens += bytesToTokens(JSON.stringify(request.tools));
  return tokens;
}

export function reservationFor(request: ChatRequest): number {
  return estimatePromptTokens(request) + (request.maxTokens ?? DEFAULT_OUTPUT_RESERVATION);
}

function messageTokens(message: ChatMessage): number {
  let tokens = bytesToTokens(message.content) + 4;
  if (message.role === 'user' && message.images) tokens += message.images.length * TOKENS_PER_IMAGE;
  if (message.role === 'assistant') {
    for (const call of message.toolCalls ?? []) tokens += bytesToTokens(call.name) + bytesToTokens(call.arguments);
    if (message.reasoning) tokens += bytesToTokens(message.reasoning.text);
  }
  return tokens;
}

function bytesToTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}
