import { relative, sep } from 'node:path';
import { countFound } from '../redact';
import { DEFAULT_OUTPUT_RESERVATION, estimatePromptTokens } from '../tokens';
import { expandInputs } from './files';
import { readInput } from './input';
import { inputFilter, type BatchJob } from './runner';
import { DEFAULT_SKIP_RULES } from './skip';
import { renderPrompt } from './template';

export interface BatchEstimate {
  files: number;
  toSend: number;
  skipped: { input: string; reason: string }[];
  /** Files whose prompt holds values a redactor would replace (only counted when the job has one). */
  sensitive: number;
  /** Prompt tokens of everything that would be sent. */
  inputTokens: number;
  /** The most output those requests may produce (max tokens each). */
  maxOutputTokens: number;
  /** The least time the configured RPM and TPM allow for it, in ms; undefined without limits. */
  impliedMs?: number;
}

/** What a run would send, without sending anything: the dry run and the confirm step. */
export async function estimateBatch(job: BatchJob): Promise<BatchEstimate> {
  const rules = { ...DEFAULT_SKIP_RULES, ...job.skip };
  const estimate: BatchEstimate = { files: 0, toSend: 0, skipped: [], sensitive: 0, inputTokens: 0, maxOutputTokens: 0 };
  const outputPerItem = job.maxTokens ?? DEFAULT_OUTPUT_RESERVATION;
  for await (const path of expandInputs(job.inputs, job.cwd, inputFilter(job))) {
    estimate.files++;
    const input = relative(job.cwd, path).split(sep).join('/');
    const read = await readInput(path, rules);
    if ('skip' in read) {
      estimate.skipped.push({ input, reason: read.skip });
      continue;
    }
    const prompt = renderPrompt(job.template, { path: input, content: read.text });
    const tokens = job.countTokens?.(prompt) ?? estimatePromptTokens({ messages: [{ role: 'user', content: prompt }] });
    if (tokens > rules.maxTokens) {
      estimate.skipped.push({ input, reason: `about ${tokens} prompt tokens, over the limit of ${rules.maxTokens}` });
      continue;
    }
    estimate.toSend++;
    if (job.redactor && countFound(job.redactor.redact(prompt).found) > 0) estimate.sensitive++;
    estimate.inputTokens += tokens;
    estimate.maxOutputTokens += outputPerItem;
  }
  estimate.impliedMs = impliedMs(estimate, job.endpoint.rpm, job.endpoint.tpm);
  return estimate;
}

/** The time the rate limits imply: the slower of requests at RPM and tokens at TPM. */
export function impliedMs(estimate: Pick<BatchEstimate, 'toSend' | 'inputTokens' | 'maxOutputTokens'>, rpm?: number, tpm?: number): number | undefined {
  const byRequests = rpm ? (estimate.toSend / rpm) * 60_000 : undefined;
  const byTokens = tpm ? ((estimate.inputTokens + estimate.maxOutputTokens) / tpm) * 60_000 : undefined;
  if (byRequests === undefined && byTokens === undefined) return undefined;
  return Math.round(Math.max(byRequests ?? 0, byTokens ?? 0));
}
