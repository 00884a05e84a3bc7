import { readFile } from 'node:fs/promises';
import { startEngine } from './engine';
import { resolve } from 'node:path';
import { JobQueue, LlmClient, Redactor, cacheSavingOf, costOf, formatCost, formatDuration } from '../core';
import {
  batchStatus,
  compareModes,
  estimateBatch,
  sharedJobIdOf,
  offersProviderBatches,
  loadTokenCounter,
  runBatch,
  writeReport,
  type BatchJob,
  type BatchProgress,
  type BatchReport,
  type ItemRecord,
} from '../core/batch';
import { UsageError, type BatchArgs, type BatchStatusArgs } from './args';

async function jobFrom(
  args: BatchArgs,
  signal: AbortSignal,
  onProgress?: BatchJob['onProgress'],
  onNotice?: BatchJob['onNotice'],
): Promise<BatchJob> {
  const template =
    args.prompt ??
    (await readFile(args.promptFile!, 'utf8').catch(() => {
      throw new UsageError(`--prompt-file ${args.promptFile}: cannot read it.`);
    }));
  if (!template.trim()) throw new UsageError('The prompt is empty.');
  return {
    inputs: args.files,
    cwd: process.cwd(),
    outDir: resolve(args.out),
    template,
    endpoint: args.endpoint,
    system: args.system,
    maxTokens: args.maxTokens,
    timeouts: args.timeouts,
    maxAttempts: args.maxAttempts,
    concurrency: args.concurrency,
    mode: args.mode,
    auto: args.auto,
    promptCache: args.promptCache,
    ...(args.pollMs ? { poll: { firstMs: args.pollMs, maxMs: Math.max(args.pollMs, 60_000) } } : {}),
    skip: { maxBytes: args.maxFileBytes, allowSecrets: args.allowSecrets, allowBinary: args.allowBinary },
    redactor: args.redact ? new Redactor() : undefined,
    writeReasoning: args.writeReasoning,
    signal,
    onProgress,
    onNotice,
  };
}

/** What a run would send, and both modes side by side: cost (with --price) and time. */
export async function dryRun(args: BatchArgs): Promise<string> {
  const job = await jobFrom(args, new AbortController().signal);
  const estimate = await estimateBatch({ ...cleanSkip(job), countTokens: loadTokenCounter() });
  const modes = compareModes(estimate, job.endpoint, args.price, args.auto);
  return JSON.stringify({ ...estimate, modes }, null, 2);
}

export async function runBatchCommand(
  args: BatchArgs,
  signal: AbortSignal,
  err: NodeJS.WriteStream,
): Promise<BatchReport> {
  const progress = err.isTTY ? liveBar(err) : lineByLine(err);
  const job = cleanSkip(await jobFrom(args, signal, progress, (text) => err.write(`flowgate: ${text}\n`)));
  const engine = await startEngine(args, process.env, (line) => err.write(`flowgate: ${line}\n`));
  const client = engine.client;
  try {
    const queue =
      args.join && engine.shared
        ? await JobQueue.open(
            engine.shared,
            args.join,
            sharedJobIdOf(job, { redact: args.redact, allowSecrets: args.allowSecrets, allowBinary: args.allowBinary }),
            args.leaseMs,
          )
        : undefined;
    const report = await runBatch(client, { ...job, queue }).finally(() => queue?.close());
    if (args.price) priceReport(report, args.endpoint.model, args.price);
    const path = await writeReport(job.outDir, report);
    if (err.isTTY) err.write('\n');
    const s = report.summary;
    const redacted = s.redacted ? `, ${s.redacted} with values redacted` : '';
    const rerun = s.rerun ? `, ${s.rerun} asked again` : '';
    err.write(
      `flowgate: ${s.ok} ok (${s.resumed} from an earlier run${rerun}), ${s.failed} failed${s.incomplete ? ` (${s.incomplete} incomplete)` : ''}, ${s.skipped} skipped${redacted} in ${formatDuration(s.wallMs)}${spendLine(s)}; report: ${path}\n`,
    );
    return report;
  } finally {
    await engine.close();
  }
}

/** The run's cost and what the prompt cache saved, over the items requested in this run, at the given price. */
function priceReport(report: BatchReport, model: string, price: NonNullable<BatchArgs['price']>): void {
  const prices = { [model]: price };
  const fresh = report.items.filter((i) => !i.resumed && i.inputTokens !== undefined);
  const sum = (of: (i: ItemRecord) => number | undefined): number =>
    Math.round(fresh.reduce((total, i) => total + (of(i) ?? 0), 0) * 1e6) / 1e6;
  report.summary.cost = sum((i) => costOf(model, i, prices));
  const saving = sum((i) => cacheSavingOf(model, i, prices));
  if (saving > 0) report.summary.cacheSaving = saving;
}

function spendLine(s: BatchReport['summary']): string {
  const cached = s.cachedInputTokens
    ? `, ${s.cachedInputTokens} prompt tokens from the cache${s.cacheSaving ? ` (saved ${formatCost(s.cacheSaving)})` : ''}`
    : '';
  const cost =
    s.cost === undefined ? '' : `, cost ${formatCost(s.cost)}${s.mode === 'provider' ? ' at the batch price' : ''}`;
  return `${cached}${cost}`;
}

/** `--status DIR`: the folder's jobs from their journals, and where each open provider batch is when the endpoint is given. */
export async function statusCommand(args: BatchStatusArgs, out: NodeJS.WritableStream): Promise<number> {
  const status = await batchStatus(args.dir).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`--status ${args.dir}: ${error.code === 'ENOENT' ? 'no such folder' : error.message}.`);
  });
  const { runner } = status;
  out.write(
    runner?.running
      ? `${args.dir}: a batch is running (process ${runner.pid} on ${runner.host}, started ${runner.started})\n`
      : `${args.dir}: no batch is running\n`,
  );
  if (!status.jobs.length) {
    out.write('No Flowgate batch job has run here.\n');
    return 1;
  }
  // An endpoint without a batch API (the default Ollama) has nothing to ask.
  const endpoint = args.endpoint && offersProviderBatches(args.endpoint) ? args.endpoint : undefined;
  const client = endpoint && new LlmClient();
  try {
    for (const job of status.jobs) {
      out.write(
        `job ${job.jobId}: ${job.ok} ok, ${job.failed} failed, ${job.incomplete} incomplete; last written ${job.lastWritten.toISOString()}\n`,
      );
      for (const batch of job.openBatches) {
        const items = Object.keys(batch.items).length;
        if (!client || !endpoint) {
          out.write(
            `  provider batch ${batch.id}: ${items} items, not collected yet (add the endpoint flags to ask the provider)\n`,
          );
          continue;
        }
        const line = await client
          .providerBatches(endpoint)
          .get(batch.id)
          .then(
            (b) =>
              `${b.state.replace('_', ' ')} ${b.counts.completed + b.counts.failed}/${b.counts.total}${b.counts.failed ? ` (${b.counts.failed} failed)` : ''}`,
            (error: Error) => `could not ask the provider: ${error.message}`,
          );
        out.write(`  provider batch ${batch.id}: ${items} items, ${line}\n`);
      }
    }
    return 0;
  } finally {
    await client?.close();
  }
}

/** Undefined skip options must not override the defaults. */
function cleanSkip(job: BatchJob): BatchJob {
  const skip = Object.fromEntries(Object.entries(job.skip ?? {}).filter(([, v]) => v !== undefined));
  return { ...job, skip };
}

function lineByLine(err: NodeJS.WritableStream): BatchJob['onProgress'] {
  const said = new Map<string, string>();
  return (progress: BatchProgress, item?: ItemRecord) => {
    // Provider mode: each provider batch's id and state, as it changes.
    for (const batch of progress.providerBatches ?? []) {
      const line = `provider batch ${batch.id}: ${batch.state.replace('_', ' ')} ${batch.completed + batch.failed}/${batch.total}${batch.failed ? ` (${batch.failed} failed)` : ''}`;
      if (said.get(batch.id) !== line) err.write(`${line}\n`);
      said.set(batch.id, line);
    }
    if (!item) return;
    const again = item.rerun ? `asked again: ${item.rerun}` : '';
    const detail =
      item.status === 'ok'
        ? item.resumed
          ? 'done earlier'
          : [item.ms === undefined ? 'from the provider batch' : `${item.ms} ms`, again].filter(Boolean).join(', ')
        : [item.error, again].filter(Boolean).join('; ');
    err.write(`${item.status.padEnd(7)} ${item.input}${detail ? `  (${detail})` : ''}\n`);
  };
}

function liveBar(err: NodeJS.WriteStream): BatchJob['onProgress'] {
  return (p: BatchProgress) => {
    const job = p.shared ? `${p.shared.recorded}/${p.shared.total} by every process, ` : '';
    const line = `flowgate: ${job}${p.done} done, ${p.failed} failed, ${p.skipped} skipped, ${p.running} running · ${p.inputTokens + p.outputTokens} tokens · ${(p.elapsedMs / 1000).toFixed(0)} s`;
    err.write(`\r${line.slice(0, (err.columns ?? 100) - 1).padEnd((err.columns ?? 100) - 1)}`);
  };
}
