/**
 * The providers' prompt caches, as the test server models them, so that
 * tests see the cache tokens a shared prefix earns.
 *
 * - OpenAI caches automatically: a prompt of 1,024 tokens or more whose
 *   beginning matches an earlier prompt (routed by `prompt_cache_key`) has
 *   that beginning served from the cache, in steps of 128 tokens
 *   (https://platform.openai.com/docs/guides/prompt-caching).
 * - Anthropic caches up to a block marked `cache_control`: the first request
 *   writes the prefix (cache_creation_input_tokens), later ones read it
 *   (cache_read_input_tokens); prefixes under 1,024 tokens are not cached
 *   (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching).
 *
 * A token is four characters here; the figures only need to be consistent.
 */
import type { Usage, WireFormat } from './wire';

const MIN_TOKENS = 1024;
const tokensOf = (text: string): number => Math.ceil(text.length / 4);

type Block = { type?: string; text?: string; content?: unknown; cache_control?: unknown };

export class PromptCacheModel {
  private readonly openaiPrompts = new Map<string, string[]>();
  private readonly anthropicPrefixes = new Set<string>();

  reset(): void {
    this.openaiPrompts.clear();
    this.anthropicPrefixes.clear();
  }

  /** The prompt side of the usage a request earns; `output` is the caller's. */
  usage(format: WireFormat, body: Record<string, unknown>, output: number): Usage {
    return format === 'anthropic' ? this.anthropic(body, output) : this.openai(body, output);
  }

  private openai(body: Record<string, unknown>, output: number): Usage {
    const prompt = [body.instructions, ...((body.messages ?? body.input ?? []) as Block[])].map(textOf).join('\n');
    const key = typeof body.prompt_cache_key === 'string' ? body.prompt_cache_key : '';
    const earlier = this.openaiPrompts.get(key) ?? [];
    const common = Math.max(0, ...earlier.map((e) => commonPrefix(e, prompt)));
    const commonTokens = tokensOf(prompt) >= MIN_TOKENS ? Math.floor(common / 4) : 0;
    const cachedRead = commonTokens >= MIN_TOKENS ? Math.floor(commonTokens / 128) * 128 : 0;
    this.openaiPrompts.set(key, [...earlier.slice(-19), prompt]);
    return { input: tokensOf(prompt), output, ...(cachedRead ? { cachedRead } : {}) };
  }

  private anthropic(body: Record<string, unknown>, output: number): Usage {
    const system =
      typeof body.system === 'string' ? [{ type: 'text', text: body.system }] : ((body.system ?? []) as Block[]);
    const blocks = [
      ...system,
      ...((body.messages ?? []) as { content: string | Block[] }[]).flatMap((m) =>
        typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content,
      ),
    ];
    const total = tokensOf(blocks.map(textOf).join(''));
    const marked = blocks.map((b) => Boolean(b.cache_control)).lastIndexOf(true);
    if (marked < 0) return { input: total, output };
    const prefix = blocks
      .slice(0, marked + 1)
      .map(textOf)
      .join('');
    const prefixTokens = tokensOf(prefix);
    if (prefixTokens < MIN_TOKENS) return { input: total, output };
    const known = this.anthropicPrefixes.has(prefix);
    this.anthropicPrefixes.add(prefix);
    return {
      input: total - prefixTokens,
      output,
      ...(known ? { cachedRead: prefixTokens } : { cacheWrite: prefixTokens }),
    };
  }
}

function textOf(block: unknown): string {
  if (typeof block === 'string') return block;
  if (!block || typeof block !== 'object') return '';
  const { text, content } = block as Block;
  if (typeof text === 'string') return text;
  if (typeof content === 'string') return content;
  return Array.isArray(content) ? content.map(textOf).join('') : '';
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}
