import type { ChatRequest } from '../types';

/** Output reserved from the token budget when a request sets no max_tokens. */
export const DEFAULT_OUTPUT_RESERVATION = 1024;

/**
 * A quick over-estimate of prompt tokens for budgeting: about four bytes of
 * UTF-8 per token, plus a little per message. The reservation is reconciled
 * with the provider's real usage once the answer is in, so speed matters more
 * here than a model-exact tokenizer.
 */
export function estimatePromptTokens(request: ChatRequest): number {
  const texts = [request.system ?? '', ...request.messages.map((m) => m.content)];
  return texts.reduce((sum, text) => sum + Math.ceil(Buffer.byteLength(text, 'utf8') / 4) + 4, 0);
}

export function reservationFor(request: ChatRequest): number {
  return estimatePromptTokens(request) + (request.maxTokens ?? DEFAULT_OUTPUT_RESERVATION);
}
