import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LlmClient, Redactor, formatDuration } from '../core';
import {
  estimateBatch,
  loadTokenCounter,
  runBatch,
  writeReport,
  type BatchJob,
  type BatchProgress,
  type BatchReport,
  type ItemRecord,
} from '../core/batch';
import { UsageError, type BatchArgs } from './args';

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
    ...(args.pollMs ? { poll: { firstMs: args.pollMs, maxMs: Math.max(args.pollMs, 60_000) } } : {}),
    skip: { maxBytes: args.maxFileBytes, allowSecrets: args.allowSecrets, allowBinary: args.allowBinary },
    redactor: args.redact ? new Redactor() : undefined,
    writeReasoning: args.writeReasoning,
    signal,
    onProgress,
    onNotice,
  };
}

export async function dryRun(args: BatchArgs): Promise<string> {
  const job = await jobFrom(args, new AbortController().signal);
  const estimate = await estimateBatch({ ...cleanSkip(job), countTokens: loadTokenCounter() });
  return JSON.stringify(estimate, null, 2);
}

export async function runBatchCommand(
  args: BatchArgs,
  signal: AbortSignal,
  err: NodeJS.WriteStream,
): Promise<BatchReport> {
  const progress = err.isTTY ? liveBar(err) : lineByLine(err);
  const job = cleanSkip(await jobFrom(args, signal, progress, (text) => err.write(`flowgate: ${text}\n`)));
  const client = new LlmClient({ timeouts: args.timeouts, retry: { maxAttempts: args.maxAttempts } });
  try {
    const report = await runBatch(client, job);
    const path = await writeReport(job.outDir, report);
    if (err.isTTY) err.write('\n');
    const s = report.summary;
    const redacted = s.redacted ? `, ${s.redacted} with values redacted` : '';
    const rerun = s.rerun ? `, ${s.rerun} asked again` : '';
    err.write(
      `flowgate: ${s.ok} ok (${s.resumed} from an earlier run${rerun}), ${s.failed} failed${s.incomplete ? ` (${s.incomplete} incomplete)` : ''}, ${s.skipped} skipped${redacted} in ${formatDuration(s.wallMs)}; report: ${path}\n`,
    );
    return report;
  } finally {
    await client.close();
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
    const line = `flowgate: ${p.done} done, ${p.failed} failed, ${p.skipped} skipped, ${p.running} running · ${p.inputTokens + p.outputTokens} tokens · ${(p.elapsedMs / 1000).toFixed(0)} s`;
    err.write(`\r${line.slice(0, (err.columns ?? 100) - 1).padEnd((err.columns ?? 100) - 1)}`);
  };
}
