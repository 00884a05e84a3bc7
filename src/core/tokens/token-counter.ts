/**
 * Exact token counts for dry runs and for VS Code's chat, with gpt-tokenizer's
 * o200k encoding (the one current OpenAI models use; a fair estimate for
 * other families). Its tables are 2.7 MB, so esbuild bundles this file on its
 * own (dist/token-counter.js), and the CLI and the extension load it only
 * when a dry run or a token count asks for it.
 */
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';

export { countTokens };
