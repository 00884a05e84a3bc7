/**
 * Token counts for VS Code's chat, which asks before every request to fit
 * its prompt into the model's window: many times per request, for the same
 * texts again and again, so counts are cached per text and never touch the
 * network. No vscode import; tested directly.
 *
 * OpenAI-family models are counted exactly with gpt-tokenizer's o200k
 * encoding (loaded on first use). Other models get an estimate of one token
 * per 3.5 bytes of UTF-8, rounded up: Claude's and Llama's tokenizers average
 * about 3.5 to 4 characters per token on English and code, so the estimate
 * errs high, and a prompt VS Code fits into maxInputTokens fits the real window.
 */
import { TOKENS_PER_IMAGE } from '../../core';
import type { LmPart } from './chat-request';

/** Per message, for the role and the framing around it. */
const MESSAGE_OVERHEAD = 4;
/** Texts kept; the oldest go first. */
const CACHE_SIZE = 5000;

export type Tokenize = (text: string) => number;

export class TokenCounter {
  private readonly cache = new Map<string, number>();

  /** `exact` is gpt-tokenizer's count, or undefined when it cannot be loaded (running from source). */
  constructor(private readonly exact: () => Tokenize | undefined) {}

  /** Tokens of a text, for a model of OpenAI's family or not. */
  countText(text: string, openAiFamily: boolean): number {
    const key = (openAiFamily ? 'o:' : 'e:') + text;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const tokenize = openAiFamily ? this.exact() : undefined;
    const count = tokenize ? tokenize(text) : estimateTokens(text);
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, count);
    return count;
  }

  /** Tokens of a message's parts: text, tool calls and results, images at a flat rate. */
  countParts(parts: readonly LmPart[], openAiFamily: boolean): number {
    let tokens = MESSAGE_OVERHEAD;
    for (const part of parts) tokens += this.countPart(part, openAiFamily);
    return tokens;
  }

  private countPart(part: LmPart, openAiFamily: boolean): number {
    switch (part.kind) {
      case 'text':
      case 'thinking':
        return this.countText(part.text, openAiFamily);
      case 'toolCall':
        return this.countText(`${part.name}${JSON.stringify(part.input ?? {})}`, openAiFamily);
      case 'toolResult':
        return this.countParts(part.content, openAiFamily);
      case 'data':
        return part.mimeType.startsWith('image/')
          ? TOKENS_PER_IMAGE
          : this.countText(Buffer.from(part.data).toString('utf8'), openAiFamily);
      default:
        return 0;
    }
  }
}

export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 3.5);
}

/** GPT, the o-series and OpenAI's open-weight models, wherever they are served from ("openai/gpt-4o" on OpenRouter too). */
export function isOpenAiFamily(model: string): boolean {
  const name = (model.split('/').pop() ?? model).toLowerCase();
  return /^(?:gpt-|chatgpt-|o\d(?:$|-))/.test(name);
}
