import type { ProviderKind } from '../errors';
import { anthropic } from './anthropic';
import { ollama } from './ollama';
import { openai } from './openai';
import { openaiResponses } from './openai-responses';
import type { Provider } from './provider';

export const PROVIDERS: Record<ProviderKind, Provider> = {
  openai,
  'openai-responses': openaiResponses,
  anthropic,
  ollama,
};

export function isProviderKind(value: unknown): value is ProviderKind {
  return typeof value === 'string' && Object.hasOwn(PROVIDERS, value);
}

export type { Provider, StreamReader } from './provider';
