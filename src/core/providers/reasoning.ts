/**
 * What each provider needs to be told about reasoning, and the request
 * rules its reasoning models impose, so that a user does not have to know
 * them: OpenAI's reasoning models take max_completion_tokens and no
 * temperature; Anthropic's extended thinking needs a token budget below
 * max_tokens and no temperature; Ollama takes `think`.
 */
import type { Endpoint, ReasoningSetting } from '../types';

/** Anthropic budgets for an effort, when the endpoint gives an effort rather than a budget. */
const ANTHROPIC_BUDGET: Record<NonNullable<ReasoningSetting['effort']>, number> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 24_576,
};

/** Room for the answer itself above the thinking budget. */
const ANSWER_ROOM = 4096;

/**
 * OpenAI's reasoning models by name (o1, o3, o4-mini, gpt-5 and their
 * variants), also behind a router's prefix such as "openai/".
 */
export function isOpenAiReasoningModel(model: string): boolean {
  return /^(?:[\w-]+\/)?(?:o\d|gpt-5)/i.test(model);
}

/** Chat completions: the output limit's name, whether temperature may go, and reasoning_effort. */
export function openAiChatReasoning(endpoint: Endpoint): {
  limitField: string;
  temperature: boolean;
  fields: Record<string, unknown>;
} {
  const reasoningModel = isOpenAiReasoningModel(endpoint.model);
  const effort = endpoint.reasoning?.effort;
  return {
    limitField: reasoningModel ? 'max_completion_tokens' : 'max_tokens',
    temperature: !reasoningModel,
    fields: effort ? { reasoning_effort: effort } : {},
  };
}

/** Responses API: reasoning effort and summaries (streamed as reasoning) for reasoning models. */
export function responsesReasoning(endpoint: Endpoint): { temperature: boolean; fields: Record<string, unknown> } {
  const reasoningModel = isOpenAiReasoningModel(endpoint.model);
  const effort = endpoint.reasoning?.effort;
  if (!reasoningModel && !effort) return { temperature: true, fields: {} };
  return { temperature: false, fields: { reasoning: { ...(effort ? { effort } : {}), summary: 'auto' } } };
}

/**
 * Anthropic extended thinking, when the endpoint asks for it: the budget,
 * and a max_tokens that leaves room for the answer above it.
 */
export function anthropicThinking(
  endpoint: Endpoint,
  maxTokens: number,
): { maxTokens: number; fields: Record<string, unknown> } | undefined {
  const setting = endpoint.reasoning;
  const budget = setting?.budgetTokens ?? (setting?.effort ? ANTHROPIC_BUDGET[setting.effort] : undefined);
  if (budget === undefined) return undefined;
  return {
    maxTokens: Math.max(maxTokens, budget + ANSWER_ROOM),
    fields: { thinking: { type: 'enabled', budget_tokens: budget } },
  };
}

/** Ollama's `think`: a level where the model takes one, else on. */
export function ollamaThink(endpoint: Endpoint): Record<string, unknown> {
  const setting = endpoint.reasoning;
  if (!setting) return {};
  const effort = setting.effort;
  return { think: effort && effort !== 'minimal' ? effort : true };
}
