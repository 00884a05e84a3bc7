import { join } from 'node:path';

/**
 * gpt-tokenizer's counter, from the separate bundle esbuild writes beside
 * cli.js and extension.js (dist/token-counter.js), loaded on first use so
 * that its 2.7 MB of tables never slow start-up. Without it (running from
 * source), estimates fall back to the quick byte-based count.
 */
export function loadTokenCounter(): ((text: string) => number) | undefined {
  try {
    // A run-time require of a file beside the bundle, which esbuild must leave alone.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(join(__dirname, 'token-counter.js')) as { countTokens: (text: string) => number }).countTokens;
  } catch {
    return undefined;
  }
}
