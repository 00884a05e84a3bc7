import { open, stat } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { countFound, type Redactor } from '../guards/redact';
import { estimatePromptTokens } from '../tokens/estimate';
import { looksBinary, skipBeforeReading, type SkipRules } from './skip';
import { renderPrompt, sharedPrefix } from './template';

/** An input's name in journals and reports: relative to the working folder, with forward slashes. */
export function inputName(cwd: string, path: string): string {
  return relative(cwd, path).split(sep).join('/');
}

export interface PromptJob {
  template: string;
  redactor?: Redactor;
  countTokens?: (text: string) => number;
}

/**
 * What would be sent for one file, as the run and the dry run both see it:
 * the filled-in prompt (redacted when the job has a redactor) and its token
 * count, or why the file is skipped.
 */
export async function preparePrompt(
  job: PromptJob,
  rules: SkipRules,
  input: string,
  path: string,
): Promise<PreparedPrompt | { skip: string }> {
  const read = await readInput(path, rules);
  if ('skip' in read) return read;
  const rendered = renderPrompt(job.template, { path: input, content: read.text });
  const scrubbed = job.redactor?.redact(rendered);
  const prompt = scrubbed?.text ?? rendered;
  const tokens = job.countTokens?.(prompt) ?? estimatePromptTokens({ messages: [{ role: 'user', content: prompt }] });
  if (tokens > rules.maxTokens) return { skip: `about ${tokens} prompt tokens, over the limit of ${rules.maxTokens}` };
  const shared = sharedPrefix(job.template);
  // Redaction could change the shared part; then there is no beginning to share.
  const sharedChars = prompt.startsWith(shared) ? shared.length : 0;
  return { prompt, tokens, redacted: scrubbed ? countFound(scrubbed.found) : 0, sharedChars };
}

export interface PreparedPrompt {
  prompt: string;
  tokens: number;
  redacted: number;
  /** How many characters at its start every prompt of the job shares (see sharedPrefix). */
  sharedChars: number;
}

/** A file's text, or why it is not sent: a secret, too large, or binary. */
export async function readInput(path: string, rules: SkipRules): Promise<{ text: string } | { skip: string }> {
  const size = (await stat(path)).size;
  const reason = skipBeforeReading(path, size, rules);
  if (reason) return { skip: reason };
  const file = await open(path, 'r');
  try {
    const bytes = await file.readFile();
    if (!rules.allowBinary && looksBinary(bytes)) return { skip: 'looks binary (use --allow-binary to send it)' };
    return { text: bytes.toString('utf8') };
  } finally {
    await file.close();
  }
}
