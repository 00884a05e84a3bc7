import { DEFAULT_OUTPUT_RESERVATION } from '../tokens/estimate';
import { expandInputs } from './files';
import { inputName, preparePrompt } from './input';
import { refuseOutDirAmongInputs } from './preflight';
import { inputFilter, type BatchJob } from './runner';
import { DEFAULT_SKIP_RULES } from './skip';
import { sharedPrefix } from './template';

export interface BatchEstimate {
  files: number;
  toSend: number;
  skipped: { input: string; reason: string }[];
  /** Inputs that would fail before anything is sent: missing, unreadable. */
  failed: { input: string; reason: string }[];
  /** Files whose prompt holds values a redactor would replace (only counted when the job has one). */
  sensitive: number;
  /** Prompt tokens of everything that would be sent. */
  inputTokens: number;
  /** The most output those requests may produce (max tokens each). */
  maxOutputTokens: number;
  /** The least time the configured RPM and TPM allow for it, in ms; undefined without limits. */
  impliedMs?: number;
  /** Tokens at the start of every prompt that are the same for all (system prompt and template up to the file). */
  sharedPrefixTokens: number;
  /** Of inputTokens, those the provider's cache is expected to serve: the shared prefix of every request but the first. */
  cachedInputTokens: number;
  /** Of inputTokens, those written to the cache (Anthropic bills the first request's prefix at its cache-write rate). */
  cacheWriteInputTokens: number;
}

/** Providers cache only prefixes of at least this many tokens (OpenAI; Anthropic's smallest models). */
export const PROMPT_CACHE_MIN_TOKENS = 1024;

/** What a run would send, without sending anything: the dry run and the confirm step. */
export async function estimateBatch(job: BatchJob): Promise<BatchEstimate> {
  await refuseOutDirAmongInputs(job);
  const rules = { ...DEFAULT_SKIP_RULES, ...job.skip };
  const estimate: BatchEstimate = {
    files: 0,
    toSend: 0,
    skipped: [],
    failed: [],
    sensitive: 0,
    inputTokens: 0,
    maxOutputTokens: 0,
    sharedPrefixTokens: 0,
    cachedInputTokens: 0,
    cacheWriteInputTokens: 0,
  };
  const outputPerItem = job.maxTokens ?? DEFAULT_OUTPUT_RESERVATION;
  // Redaction is counted whether or not the run will redact: the confirm step shows it.
  for await (const { path, problem } of expandInputs(job.inputs, job.cwd, inputFilter(job))) {
    estimate.files++;
    const input = inputName(job.cwd, path);
    if (problem) {
      estimate[problem.status].push({ input, reason: problem.reason });
      continue;
    }
    const prepared = await preparePrompt(job, rules, input, path).catch((error: Error) => ({ failed: error.message }));
    if ('failed' in prepared) {
      estimate.failed.push({ input, reason: prepared.failed });
      continue;
    }
    if ('skip' in prepared) {
      estimate.skipped.push({ input, reason: prepared.skip });
      continue;
    }
    estimate.toSend++;
    if (prepared.redacted > 0) estimate.sensitive++;
    estimate.inputTokens += prepared.tokens;
    estimate.maxOutputTokens += outputPerItem;
  }
  estimate.impliedMs = impliedMs(estimate, job.endpoint.rpm, job.endpoint.tpm);
  Object.assign(estimate, cacheEstimate(job, estimate.toSend));
  return estimate;
}

/** Tokens at the start of every prompt of the job that are the same for all: the system prompt and the template up to the file. */
export function sharedTokens(job: Pick<BatchJob, 'system' | 'template' | 'countTokens'>): number {
  const shared = `${job.system ?? ''}${sharedPrefix(job.template)}`;
  return shared ? (job.countTokens?.(shared) ?? Math.ceil(shared.length / 4)) : 0;
}

/** Whether the job asks for prompt caching from a provider that offers it (Ollama has no such API). */
export function cachesPrompts(job: Pick<BatchJob, 'promptCache' | 'endpoint'>): boolean {
  return (job.promptCache ?? 'off') !== 'off' && job.endpoint.provider !== 'ollama';
}

/** What the provider's prompt cache would serve and write over the run, when the job asks for caching. */
function cacheEstimate(
  job: BatchJob,
  toSend: number,
): Pick<BatchEstimate, 'sharedPrefixTokens' | 'cachedInputTokens' | 'cacheWriteInputTokens'> {
  const sharedPrefixTokens = sharedTokens(job);
  const cached = cachesPrompts(job) && sharedPrefixTokens >= PROMPT_CACHE_MIN_TOKENS && toSend > 0;
  if (!cached) return { sharedPrefixTokens, cachedInputTokens: 0, cacheWriteInputTokens: 0 };
  return {
    sharedPrefixTokens,
    cachedInputTokens: sharedPrefixTokens * (toSend - 1),
    cacheWriteInputTokens: job.endpoint.provider === 'anthropic' ? sharedPrefixTokens : 0,
  };
}

/** The time the rate limits imply: the slower of requests at RPM and tokens at TPM. */
export function impliedMs(
  estimate: Pick<BatchEstimate, 'toSend' | 'inputTokens' | 'maxOutputTokens'>,
  rpm?: number,
  tpm?: number,
): number | undefined {
  const byRequests = rpm ? (estimate.toSend / rpm) * 60_000 : undefined;
  const byTokens = tpm ? ((estimate.inputTokens + estimate.maxOutputTokens) / tpm) * 60_000 : undefined;
  if (byRequests === undefined && byTokens === undefined) return undefined;
  return Math.round(Math.max(byRequests ?? 0, byTokens ?? 0));
}
