/**
 * A batch run in provider mode: every prepared item goes into provider
 * batches (OpenAI's Batch API or Anthropic's Message Batches), which are polled until the provider is done;
 * then each answer is written and journalled exactly as a live run writes
 * it. Each provider batch is journalled the moment it exists, so a run that
 * is killed or reloaded resumes polling it instead of paying again.
 */
import { createHash } from 'node:crypto';
import { CancelledError, FlowgateError, HttpError } from '../../errors';
import { onAbort } from '../../request/abort';
import { definedOnly } from '../../request/completion';
import type { Completion } from '../../types';
import { expandInputs } from '../files';
import { inputName } from '../input';
import type { Journal, ProviderBatchRecord } from '../journal';
import type { BatchJob, BatchRun, PreparedItem, ProviderBatchProgress } from '../runner';
import { chatRequestOf, inputFilter, jobIdOf, messageOf } from '../runner';
import { FINAL_STATES, type ProviderBatch, type ProviderBatchApi } from './provider-batch';

/** How often a provider batch is polled unless the job says otherwise: 5 s at first, then up to a minute. */
const DEFAULT_POLL = { firstMs: 5000, maxMs: 60_000 };
/** Polls that may fail in a row (the network, a 5xx) before the batch's items are reported failed. */
const POLL_FAILURES_ALLOWED = 5;

export async function runAsProviderBatches(
  api: ProviderBatchApi,
  job: BatchJob,
  journal: Journal,
  run: BatchRun,
): Promise<void> {
  const pending = await prepareAll(job, run);
  if (job.signal?.aborted) return;
  const batches = [...journal.openBatches];
  const submitted = new Set(batches.flatMap((b) => Object.keys(b.items)));
  const fresh = [...pending].filter(([customId]) => !submitted.has(customId));
  if (fresh.length) batches.push(...(await submit(api, job, journal, run, fresh)));
  const states = new Map<string, ProviderBatchProgress>();
  await Promise.all(batches.map((batch) => follow(api, job, journal, run, batch, pending, states)));
}

/** Every input, prepared as a live run would prepare it; what needs no request is finished on the way. */
async function prepareAll(job: BatchJob, run: BatchRun): Promise<Map<string, PreparedItem>> {
  const pending = new Map<string, PreparedItem>();
  for await (const { path, problem } of expandInputs(job.inputs, job.cwd, inputFilter(job))) {
    if (job.signal?.aborted) break;
    const input = inputName(job.cwd, path);
    if (problem) {
      await run.finish({ input, status: problem.status, attempts: 0, error: problem.reason });
      continue;
    }
    try {
      const item = await run.prepare(path, input);
      if (item) pending.set(customIdOf(input), item);
    } catch (error) {
      await run.finish({ input, status: 'failed', attempts: 0, error: messageOf(error) });
    }
  }
  return pending;
}

/** Uploads the items as request files and creates a provider batch for each; a failure fails its items. */
async function submit(
  api: ProviderBatchApi,
  job: BatchJob,
  journal: Journal,
  run: BatchRun,
  fresh: [string, PreparedItem][],
): Promise<ProviderBatchRecord[]> {
  const created: ProviderBatchRecord[] = [];
  const byId = new Map(fresh);
  const payloads = api.payloads(fresh.map(([customId, item]) => ({ customId, request: chatRequestOf(job, item) })));
  for (const [index, payload] of payloads.entries()) {
    const items = payload.customIds.map((id) => [id, byId.get(id)!] as const);
    try {
      const batch = await api.submit(payload, `flowgate-${jobIdOf(job)}-${index + 1}`, job.signal);
      const record = {
        id: batch.id,
        items: Object.fromEntries(items.map(([id, item]) => [id, item.input])),
        prompts: Object.fromEntries(items.map(([id, item]) => [id, item.extra.promptSha256 ?? ''])),
      };
      await journal.recordBatch(record);
      created.push(record);
    } catch (error) {
      if (error instanceof CancelledError && job.signal?.aborted) return created;
      for (const [, item] of items)
        await run.finish({ input: item.input, status: 'failed', attempts: 1, error: messageOf(error), ...item.extra });
    }
  }
  return created;
}

/** Polls one provider batch until it is over, then writes its results. */
async function follow(
  api: ProviderBatchApi,
  job: BatchJob,
  journal: Journal,
  run: BatchRun,
  record: ProviderBatchRecord,
  pending: Map<string, PreparedItem>,
  states: Map<string, ProviderBatchProgress>,
): Promise<void> {
  const poll = job.poll ?? DEFAULT_POLL;
  let waitMs = poll.firstMs;
  let failures = 0;
  for (;;) {
    let batch: ProviderBatch;
    try {
      batch = await api.get(record.id, job.signal);
      failures = 0;
    } catch (error) {
      if (job.signal?.aborted) return cancel(api, job, record);
      // A 429 on a poll is the endpoint asking to slow down: wait as long as it says, and poll less often.
      const limited = error instanceof HttpError && error.status === 429;
      if (limited || (++failures < POLL_FAILURES_ALLOWED && !(error instanceof FlowgateError && !error.retryable))) {
        if (limited) waitMs = Math.min(poll.maxMs, waitMs * 2);
        if (!(await sleep(Math.max(waitMs, (error as HttpError).retryAfterMs ?? 0), job.signal)))
          return cancel(api, job, record);
        continue;
      }
      return failItems(run, record, pending, `polling provider batch ${record.id} failed: ${messageOf(error)}`);
    }
    states.set(batch.id, { id: batch.id, state: batch.state, ...batch.counts });
    run.reportBatches([...states.values()]);
    if (FINAL_STATES.has(batch.state)) return collect(api, job, journal, run, record, batch, pending);
    if (!(await sleep(waitMs, job.signal))) return cancel(api, job, record);
    waitMs = Math.min(poll.maxMs, waitMs * 2);
  }
}

/** Writes every result of a finished provider batch; its items without one are failed. */
async function collect(
  api: ProviderBatchApi,
  job: BatchJob,
  journal: Journal,
  run: BatchRun,
  record: ProviderBatchRecord,
  batch: ProviderBatch,
  pending: Map<string, PreparedItem>,
): Promise<void> {
  const results = await api.results(batch, job.signal);
  const answered = new Set<string>();
  for (const result of results) {
    const item = pending.get(result.customId);
    if (!item) continue; // finished in an earlier run, or no longer among the inputs
    answered.add(result.customId);
    pending.delete(result.customId);
    const extra = { ...item.extra, providerBatch: batch.id };
    const sent = record.prompts?.[result.customId];
    if (sent !== undefined && sent !== item.extra.promptSha256)
      await run.finish({
        input: item.input,
        status: 'failed',
        attempts: 1,
        error: `its content changed after it was sent in provider batch ${batch.id}; the next run sends it again`,
        ...extra,
      });
    else if ('error' in result)
      await run.finish({ input: item.input, status: 'failed', attempts: 1, error: result.error, ...extra });
    else await run.writeAnswer({ ...item, extra }, answerOf(result.completion));
  }
  const why =
    batch.state === 'failed'
      ? `provider batch ${batch.id} failed: ${batch.errors.join('; ') || 'no reason given'}`
      : `provider batch ${batch.id} ended (${batch.state}) without a result for it`;
  await failItems(run, record, pending, why, answered);
  await journal.recordCollected(record.id);
}

async function failItems(
  run: BatchRun,
  record: ProviderBatchRecord,
  pending: Map<string, PreparedItem>,
  error: string,
  except = new Set<string>(),
): Promise<void> {
  for (const customId of Object.keys(record.items)) {
    const item = pending.get(customId);
    if (!item || except.has(customId)) continue;
    pending.delete(customId);
    await run.finish({ input: item.input, status: 'failed', attempts: 1, error, ...item.extra });
  }
}

/** The user stopped the run: the provider batch is cancelled too (what it already ran is billed). */
async function cancel(api: ProviderBatchApi, job: BatchJob, record: ProviderBatchRecord): Promise<void> {
  try {
    await api.cancel(record.id);
    job.onNotice?.(
      `Cancelled provider batch ${record.id}; requests it had already run are billed. Run the job again to collect what it finished.`,
    );
  } catch (error) {
    job.onNotice?.(`Could not cancel provider batch ${record.id}: ${messageOf(error)}`);
  }
}

function answerOf(completion: Completion): Parameters<BatchRun['writeAnswer']>[1] {
  const { inputTokens, outputTokens, cachedInputTokens, cacheWriteInputTokens } = completion.usage;
  return {
    text: completion.text,
    reasoning: completion.reasoning?.text ?? '',
    ending: {
      finish: completion.finishReason,
      toolCalls: completion.toolCalls?.length ?? 0,
      refusal: completion.refusal ?? '',
    },
    usage: definedOnly({ inputTokens, outputTokens, cachedInputTokens, cacheWriteInputTokens }),
    attempts: 1,
  };
}

/** A provider batch's name for an item: from its input's name, so the same item has it in every run. */
function customIdOf(input: string): string {
  return `fg-${createHash('sha256').update(input).digest('hex').slice(0, 32)}`;
}

/** Resolves true after `ms`, or false at once when the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const stopListening = onAbort(signal, () => {
      clearTimeout(timer);
      resolve(false);
    });
    const timer = setTimeout(() => {
      stopListening();
      resolve(true);
    }, ms);
  });
}
