/**
 * What VS Code's chat needs to know about a model that its provider does not
 * say: how much it reads and writes, and whether it takes tools and images.
 * Matched by the start of the model name (after any "vendor/" prefix, as
 * OpenRouter writes it), first match wins, so the more specific come first.
 * Figures are the providers' published limits; an endpoint's own settings win.
 */
export interface ModelLimits {
  /** The context window less what is kept for the answer. */
  maxInputTokens: number;
  maxOutputTokens: number;
  toolCalling: boolean;
  imageInput: boolean;
}

type Known = [prefix: string, limits: ModelLimits];

const limits = (
  maxInputTokens: number,
  maxOutputTokens: number,
  toolCalling = true,
  imageInput = true,
): ModelLimits => ({
  maxInputTokens,
  maxOutputTokens,
  toolCalling,
  imageInput,
});

const KNOWN: Known[] = [
  // OpenAI
  ['gpt-5', limits(272_000, 128_000)],
  ['gpt-4.1', limits(1_014_808, 32_768)],
  ['gpt-4o', limits(111_616, 16_384)],
  ['gpt-4-turbo', limits(123_904, 4_096)],
  ['gpt-4', limits(8_192, 8_192, true, false)],
  ['gpt-3.5-turbo', limits(12_289, 4_096, true, false)],
  ['o1-mini', limits(62_464, 65_536, false, false)],
  ['o1', limits(100_000, 100_000)],
  ['o3', limits(100_000, 100_000)],
  ['o4-mini', limits(100_000, 100_000)],
  ['gpt-oss', limits(98_304, 32_768, true, false)],
  // Anthropic
  ['claude-opus-4', limits(168_000, 32_000)],
  ['claude-sonnet-4', limits(136_000, 64_000)],
  ['claude-haiku-4', limits(136_000, 64_000)],
  ['claude-3-7-sonnet', limits(136_000, 64_000)],
  ['claude-3-5', limits(191_808, 8_192)],
  ['claude-3', limits(195_904, 4_096)],
  // Open models, as Ollama, vLLM and LM Studio serve them
  ['llama3.2-vision', limits(126_976, 4_096, false, true)],
  ['llama3.1', limits(126_976, 4_096, true, false)],
  ['llama3.2', limits(126_976, 4_096, true, false)],
  ['llama3.3', limits(126_976, 4_096, true, false)],
  ['llama4', limits(126_976, 4_096, true, true)],
  ['qwen3', limits(32_768, 8_192, true, false)],
  ['qwen2.5-coder', limits(28_672, 4_096, true, false)],
  ['qwen2.5', limits(28_672, 4_096, true, false)],
  ['deepseek-r1', limits(126_976, 8_192, false, false)],
  ['deepseek-chat', limits(57_344, 8_192, true, false)],
  ['deepseek-reasoner', limits(57_344, 8_192, false, false)],
  ['mistral-small', limits(126_976, 4_096, true, true)],
  ['mistral', limits(28_672, 4_096, true, false)],
  ['gemma3', limits(126_976, 4_096, false, true)],
  ['phi4', limits(12_288, 4_096, false, false)],
  ['llava', limits(2_048, 2_048, false, true)],
];

/** The published limits of a known model, or undefined. */
export function knownModel(model: string): ModelLimits | undefined {
  const name = model.toLowerCase().split('/').pop() ?? '';
  return KNOWN.find(([prefix]) => name.startsWith(prefix))?.[1];
}
