import { DEFAULT_OUTPUT_RESERVATION } from '../tokens/estimate';
import { expandInputs } from './files';
import { inputName, preparePrompt } from './input';
import { refuseOutDirAmongInputs } from './preflight';
import { inputFilter, type BatchJob } from './runner';
import { DEFAULT_SKIP_RULES } from './skip';

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
}

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
  return estimate;
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
