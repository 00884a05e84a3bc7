import { createHash } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import { sep } from 'node:path';
import type { LlmClient } from '../request/client';
import { onAbort } from '../request/abort';
import { CancelledError, FlowgateError } from '../errors';
import { Histogram } from '../metrics/histogram';
import type { Timeouts } from '../request/timeouts';
import type { CacheUse } from '../cache/response-cache';
import type { Redactor } from '../guards/redact';
import type { ChatRequest, Endpoint, FinishReason, PromptCacheHint, StreamEvent } from '../types';
import { expandInputs, outsideOf, type BatchInput, type IgnoreCheck } from './files';
import { Journal, jobId, type ItemRecord, type RerunReason } from './journal';
import { BatchLock } from './lock';
import { batchFilesFailure } from './errors';
import { mirrorTarget, type OutputTarget } from './output';
import { inputName, preparePrompt } from './input';
import { checkFolders, refuseOutDirAmongInputs } from './preflight';
import { refuseLinks, writeAtomically } from '../fs/safe-fs';
import { DEFAULT_SKIP_RULES, type SkipRules } from './skip';
import { runAsProviderBatches } from './provider/provider-run';
import { PROMPT_CACHE_MIN_TOKENS, cachesPrompts, estimateBatch, sharedTokens } from './estimate';
import { chooseMode, type AutoRules } from './modes';
import type { JobQueue, QueuedItem } from '../shared/job-queue';
import { resolve as resolvePath } from 'node:path';

export interface BatchJob {
  /** Files and folders, relative to `cwd` or absolute. */
  inputs: string[];
  cwd: string;
  /** Results go under it; nothing is written outside it. */
  outDir: string;
  /** Where the job's journal, lock and report live. @default outDir */
  journalDir?: string;
  /** Leave files under `outDir` out of the inputs (it may sit inside an input folder). @default true */
  excludeOutDir?: boolean;
  template: string;
  endpoint: Endpoint;
  /** Tried in order when the endpoint is down, overloaded or out of quota, as `CallOptions.fallbacks`. */
  fallbacks?: Endpoint[];
  system?: string;
  maxTokens?: number;
  timeouts?: Partial<Timeouts>;
  maxAttempts?: number;
  /** Items in flight at once. @default 4 */
  concurrency?: number;
  skip?: Partial<SkipRules>;
  /** Where each result goes; the default mirrors the input under `outDir`. */
  target?: (input: string) => OutputTarget;
  /** Extra exclusions on top of .gitignore (VS Code's files.exclude). */
  ignore?: IgnoreCheck;
  /** Write a model's reasoning into each output, folded above the answer. @default false */
  writeReasoning?: boolean;
  /** Whether items may use the client's response cache. @default 'auto' */
  cache?: CacheUse;
  /** Scrubs each prompt before it is sent (redaction mode "redact"). */
  redactor?: Redactor;
  /** Counts prompt tokens for the token limit; a quick estimate when absent. */
  countTokens?: (text: string) => number;
  /**
   * `live` (the default) asks item by item. `provider` sends the run as
   * provider batches (OpenAI's Batch API, Anthropic's Message Batches): half
   * price, from a separate quota, answered within the provider's completion
   * window. `auto` takes the provider's batches for a run large enough whose
   * deadline allows the window.
   */
  mode?: BatchMode;
  /** What `auto` weighs: the least files for a provider batch and the deadline. */
  auto?: AutoRules;
  /**
   * Prompt caching of the beginning every request shares (the system prompt
   * and the template up to the file): `5m` or `1h` marks it for Anthropic's
   * cache with that lifetime and gives OpenAI one `prompt_cache_key` for the
   * job; a live run then sends one request alone first, to write the cache,
   * before fanning out. @default 'off'
   */
  promptCache?: PromptCacheSetting;
  /** Provider mode: how often a provider batch is polled, at first and at most (the wait doubles). */
  poll?: { firstMs: number; maxMs: number };
  /**
   * Works on the job together with every other process that joins the same
   * queue (`flowgate batch --redis URL --join NAME`): items are leased from
   * Redis, each result is committed once, and the report covers everyone's.
   * The output folder is not locked: the queue is what keeps processes apart.
   */
  queue?: JobQueue;
  signal?: AbortSignal;
  onProgress?: (progress: BatchProgress, item?: ItemRecord) => void;
  /** What a person should know that is no item's result: a stale lock taken over. */
  onNotice?: (text: string) => void;
}

/** `auto` picks live or provider per run (see chooseMode). */
export type BatchMode = 'live' | 'provider' | 'auto';
export type PromptCacheSetting = 'off' | '5m' | '1h';

/** A provider batch as the provider last described it. */
export interface ProviderBatchProgress {
  id: string;
  state: string;
  total: number;
  completed: number;
  failed: number;
}

export interface BatchProgress {
  /** Provider mode: the provider batches of the run, as last polled. */
  providerBatches?: ProviderBatchProgress[];
  /** A shared job: the items every process has recorded so far, of all the job's items. */
  shared?: { recorded: number; total: number };
  done: number;
  failed: number;
  skipped: number;
  /** Finished in an earlier run of the same job; not requested again. */
  resumed: number;
  running: number;
  inputTokens: number;
  outputTokens: number;
  elapsedMs: number;
}

export interface BatchSummary extends Omit<BatchProgress, 'running'> {
  ok: number;
  /** Answered but not whole (cut off, refused, filtered, tool calls only); counted in `failed` too. */
  incomplete: number;
  /** Items an earlier run had finished but this one asked again: their input changed or their output was gone. */
  rerun: number;
  /** Items whose prompt had values redacted before sending. */
  redacted: number;
  /** What the run cost, when prices are configured (filled in by the caller that knows them). */
  cost?: number;
  /** Prompt tokens the provider served from its cache, over the items requested in this run. */
  cachedInputTokens: number;
  /** What that cache saved, when the model's price has a cached rate (filled in by the caller). */
  cacheSaving?: number;
  total: number;
  /** How this run went: item by item, or as provider batches. */
  mode: 'live' | 'provider';
  cancelled: boolean;
  wallMs: number;
  latencyMs: { p50?: number; p95?: number };
}

export interface BatchReport {
  items: ItemRecord[];
  summary: BatchSummary;
}

/**
 * Runs one prompt over many files on the engine, at batch priority, holding
 * the job folder's lock so that no other run works there at the same time.
 * Files are listed and read one at a time with at most `concurrency` in flight.
 * Each result is written atomically and recorded in the job's journal as it
 * finishes; a rerun skips what was recorded ok. One file's failure never
 * stops the others. Cancelling stops new work and aborts what is in flight;
 * those items are not recorded, so the next run picks them up.
 */
export async function runBatch(client: LlmClient, job: BatchJob): Promise<BatchReport> {
  const dir = job.journalDir ?? job.outDir;
  return runInFolder(client, job, dir).catch(batchFilesFailure(dir));
}

async function runInFolder(client: LlmClient, job: BatchJob, dir: string): Promise<BatchReport> {
  await refuseOutDirAmongInputs(job);
  await checkFolders(job);
  if (job.queue) return runJoined(client, job, dir, job.queue);
  // The journal is read only once the lock is held, so it includes everything the previous holder did.
  const lock = await BatchLock.acquire(dir, job.onNotice);
  try {
    const journal = await Journal.open(dir, jobIdOf(job));
    try {
      const mode = await modeFor(job, journal);
      return await new BatchRun(client, { ...job, mode }, journal).execute();
    } finally {
      await journal.close();
    }
  } finally {
    await lock.release();
  }
}

/** A run that shares its job with other processes through a queue: no folder lock, the queue keeps them apart. */
async function runJoined(client: LlmClient, job: BatchJob, dir: string, queue: JobQueue): Promise<BatchReport> {
  const journal = await Journal.open(dir, jobIdOf(job));
  // The queue lost stops the items in flight too: their results could no longer be committed.
  const stop = new AbortController();
  if (job.signal?.aborted) stop.abort();
  const unlink = onAbort(job.signal, () => stop.abort());
  try {
    const run = new BatchRun(client, { ...job, mode: 'live', signal: stop.signal }, journal);
    return await run.executeJoined(queue, () => stop.abort());
  } catch (error) {
    // An item's own failures are its records; what escapes is the queue's Redis going away.
    throw error instanceof FlowgateError ? error : queue.lost(error);
  } finally {
    unlink();
    await journal.close();
  }
}

/** The mode this run takes: the job's, or for `auto` the one chooseMode picks (said in a notice). */
async function modeFor(job: BatchJob, journal: Journal): Promise<'live' | 'provider'> {
  if (job.mode !== 'auto') return job.mode ?? 'live';
  if (journal.openBatches.length) {
    job.onNotice?.('Batch mode auto: provider batch, to collect the provider batches an earlier run created.');
    return 'provider';
  }
  const estimate = await estimateBatch(job);
  const choice = chooseMode(estimate.toSend, job.endpoint, job.auto);
  job.onNotice?.(`Batch mode auto: ${choice.why}.`);
  return choice.mode;
}

/** The inputs' filter: the job's own, and the output folder unless results live beside their inputs. */
export function inputFilter(job: Pick<BatchJob, 'outDir' | 'ignore' | 'excludeOutDir'>): IgnoreCheck | undefined {
  return job.excludeOutDir === false ? job.ignore : outsideOf(job.outDir, job.ignore);
}

/** What makes answers differ names the job: the same command later resumes it, a changed one starts anew. */
export function jobIdOf(
  job: Pick<BatchJob, 'template' | 'endpoint' | 'system' | 'maxTokens' | 'writeReasoning'>,
): string {
  const { provider, baseUrl, model, params } = job.endpoint;
  // Params only when set, so jobs journalled before endpoints had them keep their ids.
  return jobId({
    template: job.template,
    provider,
    baseUrl,
    model,
    system: job.system,
    maxTokens: job.maxTokens,
    ...(params ? { params } : {}),
    ...(job.writeReasoning ? { writeReasoning: true } : {}),
  });
}

/** What processes sharing a job must also agree on: which files are sent, and whether their secrets are redacted first. */
export interface SharedSending {
  redact: boolean;
  allowSecrets: boolean;
  allowBinary: boolean;
}

/**
 * The identity of a job several processes share through a queue: the job's
 * own, and how its files are sent, so that a process that would send a file
 * unredacted (or send one the others skip) never joins the others' queue.
 */
export function sharedJobIdOf(job: Parameters<typeof jobIdOf>[0], sending: SharedSending): string {
  return jobId({ job: jobIdOf(job), ...sending });
}

export class BatchRun {
  private readonly items: ItemRecord[] = [];
  private readonly latency = new Histogram();
  private readonly progress: BatchProgress = {
    done: 0,
    failed: 0,
    skipped: 0,
    resumed: 0,
    running: 0,
    inputTokens: 0,
    outputTokens: 0,
    elapsedMs: 0,
  };
  private readonly started = performance.now();
  private readonly rules: SkipRules;
  /** The queue this run shares its job through, when it joined one. */
  private queue: JobQueue | undefined;
  private readonly concurrency: number;

  constructor(
    private readonly client: LlmClient,
    private readonly job: BatchJob,
    private readonly journal: Journal,
  ) {
    this.rules = { ...DEFAULT_SKIP_RULES, ...job.skip };
    this.concurrency = job.concurrency ?? 4;
  }

  async execute(): Promise<BatchReport> {
    if (this.job.mode === 'provider') {
      await runAsProviderBatches(this.client.providerBatches(this.job.endpoint), this.job, this.journal, this);
      return { items: this.items, summary: this.summary() };
    }
    const running = new Set<Promise<boolean>>();
    // With a shared beginning long enough to be cached, the first request goes alone: it writes the
    // cache that every later one reads.
    let warm = !cachesPrompts(this.job) || sharedTokens(this.job) < PROMPT_CACHE_MIN_TOKENS;
    for await (const entry of expandInputs(this.job.inputs, this.job.cwd, inputFilter(this.job))) {
      if (this.job.signal?.aborted) break;
      const item = this.process(entry).finally(() => running.delete(item));
      running.add(item);
      if (!warm) warm = await item;
      else if (running.size >= this.concurrency) await Promise.race(running);
    }
    await Promise.all(running);
    return { items: this.items, summary: this.summary() };
  }

  /**
   * Works through the items the queue leases to this process until every
   * item of the job has a record (from any process), renewing its leases as
   * it goes; then reports the whole job from the queue's records.
   */
  async executeJoined(queue: JobQueue, stopItems: () => void): Promise<BatchReport> {
    this.queue = queue;
    const { cwd } = this.job;
    const inputs = (): AsyncGenerator<BatchInput> => expandInputs(this.job.inputs, cwd, inputFilter(this.job));
    const total = await queue.seed(async function* (this: void) {
      for await (const { path } of inputs()) yield inputName(cwd, path);
    }, this.job.signal);
    // Joining again retries the job's failures, as running a job again does.
    const retried = await queue.requeueFailed();
    if (retried) this.job.onNotice?.(`${retried} failed item(s) of the shared job are queued again.`);
    this.progress.shared = { recorded: await queue.recordedCount(), total };
    this.report();
    const working = new Map<string, { item: QueuedItem; done: Promise<void> }>();
    // A renewal or a commit that fails means the queue is gone: the items in flight stop, as nothing could
    // commit them, and the run ends with that error once they have.
    let lost: Error | undefined;
    const loseQueue = (error: unknown): void => {
      lost ??= error instanceof Error ? error : new Error(String(error));
      stopItems();
    };
    const renewal = setInterval(() => {
      void queue.renew([...working.values()].map((w) => w.item)).catch(loseQueue);
    }, queue.leaseMs / 3);
    try {
      while (!this.job.signal?.aborted) {
        const free = this.concurrency - working.size;
        const items = free > 0 ? await queue.next(free, working.size ? 50 : 500) : [];
        for (const item of items) {
          const done = this.processQueued(queue, item)
            .catch(loseQueue)
            .finally(() => working.delete(item.id));
          working.set(item.id, { item, done });
        }
        if (!items.length && !working.size && (await queue.finished(total))) break;
        if (working.size >= this.concurrency || (!items.length && working.size))
          await Promise.race([...working.values()].map((w) => w.done));
      }
      await Promise.all([...working.values()].map((w) => w.done));
      if (lost) throw lost;
    } catch (error) {
      stopItems();
      await Promise.allSettled([...working.values()].map((w) => w.done));
      throw error;
    } finally {
      clearInterval(renewal);
    }
    const records = await queue.records();
    return { items: records, summary: { ...this.summary(), ...countsOf(records) } };
  }

  /** One leased item: skipped when another process already recorded it (and its output is there), else done here. */
  private async processQueued(queue: JobQueue, item: QueuedItem): Promise<void> {
    const path = resolvePath(this.job.cwd, item.input);
    const earlier = await queue.recorded(item.input);
    if (earlier?.status === 'ok' && earlier.output) {
      const info = await lstat(resolvePath(this.job.outDir, earlier.output)).catch(() => undefined);
      if (info?.isFile()) return queue.ack(item);
      await queue.forget(item.input); // committed, then its writer died before writing: ask again
    } else if (earlier) return queue.ack(item);
    await this.process({ path });
    if (!this.job.signal?.aborted) await queue.ack(item);
  }

  /**
   * One item, start to finish; whatever goes wrong with it is its own
   * failure, never the run's. True when a request was sent for it.
   */
  private async process({ path, problem }: BatchInput): Promise<boolean> {
    const input = inputName(this.job.cwd, path);
    if (problem) {
      await this.finish({ input, status: problem.status, attempts: 0, error: problem.reason });
      return false;
    }
    try {
      return await this.prepareAndRequest(path, input);
    } catch (error) {
      await this.finish({ input, status: 'failed', attempts: 0, error: messageOf(error) });
      return false;
    }
  }

  private async prepareAndRequest(path: string, input: string): Promise<boolean> {
    const item = await this.prepare(path, input);
    if (!item) return false;
    this.progress.running++;
    this.report();
    try {
      await this.request(item);
      return true;
    } finally {
      this.progress.running--;
    }
  }

  /**
   * What will be sent for one input, or undefined when the item is already
   * dealt with (its target refused, skipped, or finished by an earlier run).
   */
  async prepare(path: string, input: string): Promise<PreparedItem | undefined> {
    const target = this.job.target?.(path) ?? mirrorTarget(path, this.job.cwd, this.job.outDir);
    if ('error' in target) {
      await this.finish({ input, status: 'failed', attempts: 0, error: `${input} ${target.error}.` });
      return undefined;
    }
    const prepared = await preparePrompt(this.job, this.rules, input, path);
    if ('skip' in prepared) {
      await this.finish({ input, status: 'skipped', attempts: 0, error: prepared.skip });
      return undefined;
    }
    const promptSha256 = sha256(prepared.prompt);
    const earlier = this.journal.finished(input);
    const rerun = earlier && (await rerunReason(earlier, promptSha256, target.path));
    if (earlier && !rerun) {
      this.progress.resumed++;
      await this.finish(resumedItem(earlier), false);
      return undefined;
    }
    // A result that could not be written is refused before it is paid for.
    await refuseLinks(this.job.outDir, target.path);
    return {
      input,
      prompt: prepared.prompt,
      sharedChars: prepared.sharedChars,
      target,
      extra: {
        ...(prepared.redacted ? { redacted: prepared.redacted } : {}),
        promptSha256,
        ...(rerun ? { rerun } : {}),
      },
    };
  }

  private async request(item: PreparedItem): Promise<void> {
    const { input, target, extra } = item;
    const started = performance.now();
    let attempts = 1;
    let text = '';
    const usage: ItemUsage = {};
    const ending: Ending = { toolCalls: 0, refusal: '' };
    let reasoning = '';
    try {
      const chunks = this.client.streamChunks(chatRequestOf(this.job, item), {
        endpoint: { ...this.job.endpoint, concurrency: this.job.endpoint.concurrency ?? this.concurrency },
        fallbacks: this.job.fallbacks,
        priority: 'batch',
        signal: this.job.signal,
        timeouts: this.job.timeouts,
        maxAttempts: this.job.maxAttempts,
        cache: this.job.cache,
      });
      for await (const chunk of chunks) {
        for (const event of chunk) {
          if (event.type === 'text') text += event.text;
          else if (event.type === 'retry') attempts++;
          else if (event.type === 'usage') Object.assign(usage, definedOnly(event));
          else if (event.type === 'reasoning') reasoning += event.text;
          else noteEnding(ending, event);
        }
      }
      const ms = Math.round(performance.now() - started);
      this.latency.record(ms);
      await this.writeAnswer({ input, target, extra }, { text, reasoning, ending, usage, attempts, ms });
    } catch (error) {
      if (error instanceof CancelledError && this.job.signal?.aborted) return; // not recorded: the next run does it
      await this.finish({
        input,
        status: 'failed',
        attempts,
        error: messageOf(error),
        ms: Math.round(performance.now() - started),
        ...extra,
      });
    }
  }

  /** Writes one answer where its item's result goes, and records it: the same for a live run and a provider batch. */
  async writeAnswer(
    { input, target, extra }: Pick<PreparedItem, 'input' | 'target' | 'extra'>,
    answer: Answer,
  ): Promise<void> {
    const { text, reasoning, ending, usage, attempts, ms } = answer;
    // The output is the answer; the reasoning only when asked for. A cut-off answer is written, and marked.
    const incomplete = incompleteReason(ending, text);
    const output = this.job.writeReasoning && reasoning ? withReasoning(reasoning, text) : text;
    const record: ItemRecord = {
      input,
      ...(text || !incomplete ? { output: target.relative.split(sep).join('/') } : {}),
      status: incomplete ? 'incomplete' : 'ok',
      ...(incomplete ? { error: incomplete } : {}),
      attempts,
      ...usage,
      ...(ms === undefined ? {} : { ms }),
      ...extra,
    };
    // Shared with other processes, the result is committed first: only the worker whose commit wins writes.
    if (this.queue && !(await this.queue.commit(record))) return;
    if (text || !incomplete) await writeAtomically(this.job.outDir, target.path, output);
    await this.finish(record, true, false);
  }

  /** Progress that is not an item's: a provider batch's state. */
  reportBatches(batches: ProviderBatchProgress[]): void {
    this.progress.providerBatches = batches;
    this.report();
  }

  async finish(item: ItemRecord, record = true, commit = true): Promise<void> {
    // In a shared job every record is committed like an answer (a failure, a skip, one an earlier run
    // finished); a record another process made stands.
    if (commit && this.queue && !(await this.queue.commit(item))) return;
    if (record) await this.journal.record(item);
    // The whole job's count, for the progress only: a queue lost here is found by the next commit or renewal.
    if (this.queue && this.progress.shared) {
      const recorded = await this.queue.recordedCount().catch(() => this.progress.shared!.recorded);
      this.progress.shared = { ...this.progress.shared, recorded };
    }
    this.items.push(item);
    if (item.status === 'ok') this.progress.done++;
    else if (item.status === 'failed' || item.status === 'incomplete') this.progress.failed++;
    else this.progress.skipped++;
    this.progress.inputTokens += item.inputTokens ?? 0;
    this.progress.outputTokens += item.outputTokens ?? 0;
    this.report(item);
  }

  private report(item?: ItemRecord): void {
    this.progress.elapsedMs = Math.round(performance.now() - this.started);
    this.job.onProgress?.({ ...this.progress }, item);
  }

  private summary(): BatchSummary {
    const { running: _, ...progress } = this.progress;
    const wallMs = Math.round(performance.now() - this.started);
    return {
      ...progress,
      elapsedMs: wallMs,
      ok: this.progress.done,
      incomplete: this.items.filter((i) => i.status === 'incomplete').length,
      cachedInputTokens: this.items.reduce((sum, i) => sum + (i.resumed ? 0 : (i.cachedInputTokens ?? 0)), 0),
      rerun: this.items.filter((i) => i.rerun).length,
      redacted: this.items.filter((i) => i.redacted).length,
      total: this.items.length,
      mode: this.job.mode === 'provider' ? 'provider' : 'live',
      cancelled: this.job.signal?.aborted ?? false,
      wallMs,
      latencyMs: { p50: this.latency.percentile(50), p95: this.latency.percentile(95) },
    };
  }
}

/** The summary's counts over every process's records of a shared job. */
function countsOf(records: ItemRecord[]): Partial<BatchSummary> {
  const count = (status: ItemRecord['status']): number => records.filter((r) => r.status === status).length;
  return {
    ok: count('ok'),
    done: count('ok'),
    failed: count('failed') + count('incomplete'),
    incomplete: count('incomplete'),
    skipped: count('skipped'),
    total: records.length,
    inputTokens: records.reduce((sum, r) => sum + (r.inputTokens ?? 0), 0),
    outputTokens: records.reduce((sum, r) => sum + (r.outputTokens ?? 0), 0),
  };
}

/**
 * Why an item an earlier run finished must be asked again, if it must: the
 * prompt it would send now differs from the one recorded (its content
 * changed), or its answer is no longer where it was written. Records from
 * before prompts were hashed are trusted on their output alone.
 */
async function rerunReason(
  earlier: ItemRecord,
  promptSha256: string,
  output: string,
): Promise<RerunReason | undefined> {
  if (earlier.promptSha256 !== undefined && earlier.promptSha256 !== promptSha256) return 'input changed';
  const info = await lstat(output).catch(() => undefined);
  return info?.isFile() ? undefined : 'output missing';
}

/** An earlier run's record as this run reports it: marked resumed, without the time it took then (nothing was spent now). */
function resumedItem(earlier: ItemRecord): ItemRecord {
  const { ms: _ms, rerun: _rerun, ...rest } = earlier;
  return { ...rest, resumed: true };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function messageOf(error: unknown): string {
  return error instanceof FlowgateError || error instanceof Error ? error.message : String(error);
}

export type ItemUsage = Pick<
  ItemRecord,
  'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'cacheWriteInputTokens'
>;

/** The usage figures an event gave; one it left out does not erase an earlier one. */
function definedOnly(event: ItemUsage): ItemUsage {
  const usage: ItemUsage = {};
  for (const key of ['inputTokens', 'outputTokens', 'cachedInputTokens', 'cacheWriteInputTokens'] as const) {
    if (event[key] !== undefined) usage[key] = event[key];
  }
  return usage;
}

/** What is sent for one item, live or in a provider batch. */
export function chatRequestOf(job: BatchJob, item: Pick<PreparedItem, 'prompt' | 'sharedChars'>): ChatRequest {
  const promptCache = promptCacheOf(job, item.sharedChars);
  return {
    messages: [{ role: 'user', content: item.prompt }],
    system: job.system,
    maxTokens: job.maxTokens,
    ...(promptCache ? { promptCache } : {}),
  };
}

/** The job's cache hint: one key for the whole job, so its requests meet the same cache. */
function promptCacheOf(job: BatchJob, sharedChars: number): PromptCacheHint | undefined {
  if (!cachesPrompts(job) || (!sharedChars && !job.system)) return undefined;
  return { key: `flowgate-${jobIdOf(job)}`, ttl: job.promptCache === '1h' ? '1h' : '5m', sharedChars };
}

/** One input, ready to send. */
export interface PreparedItem {
  input: string;
  prompt: string;
  /** Characters at the start of the prompt that every item shares. */
  sharedChars: number;
  target: { path: string; relative: string };
  extra: Pick<ItemRecord, 'redacted' | 'promptSha256' | 'rerun' | 'providerBatch'>;
}

/** One answer, however it came (streamed live, or read from a provider batch's results). */
export interface Answer {
  text: string;
  reasoning: string;
  ending: Ending;
  usage: ItemUsage;
  attempts: number;
  ms?: number;
}

/** What an answer said besides its text, to tell a whole answer from one that is not. */
export interface Ending {
  finish?: FinishReason;
  toolCalls: number;
  refusal: string;
}

function noteEnding(ending: Ending, event: StreamEvent): void {
  if (event.type === 'finish') ending.finish = event.reason;
  else if (event.type === 'toolCall') ending.toolCalls++;
  else if (event.type === 'refusal') ending.refusal += event.text;
}

/** Why an answer that arrived is not a whole one; undefined when it is. */
function incompleteReason({ finish, toolCalls, refusal }: Ending, text: string): string | undefined {
  if (refusal) return `the model refused: ${refusal.slice(0, 300)}`;
  if (finish === 'refusal') return 'the model refused to answer';
  if (finish === 'content_filter') return "the provider's content filter stopped the answer";
  if (finish === 'length') {
    return text
      ? 'cut off by the token limit (the partial answer was written)'
      : 'cut off by the token limit before any text';
  }
  if (toolCalls || finish === 'tool_calls')
    return `the model asked for ${toolCalls || 'a'} tool call(s) instead of answering`;
  if (!text) return 'the model answered without any text';
  return undefined;
}

/** The reasoning folded above the answer, as Markdown renders it. */
function withReasoning(reasoning: string, answer: string): string {
  return `<details>\n<summary>Reasoning</summary>\n\n${reasoning.trim()}\n\n</details>\n\n${answer}`;
}
