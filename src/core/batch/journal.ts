import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { openForAppend, readIfPresent } from '../fs/safe-fs';

/** `incomplete`: answered, but not with a whole answer (cut off, refused, filtered, tool calls only); asked again on a rerun. */
export type ItemStatus = 'ok' | 'incomplete' | 'failed' | 'skipped';

/** One finished item, as report.json lists it. Paths are relative to the working folder. */
export interface ItemRecord {
  input: string;
  output?: string;
  status: ItemStatus;
  attempts: number;
  error?: string;
  inputTokens?: number;
  outputTokens?: number;
  /** Prompt tokens the provider served from its cache, part of inputTokens. */
  cachedInputTokens?: number;
  /** Prompt tokens written to the provider's cache, part of inputTokens. */
  cacheWriteInputTokens?: number;
  ms?: number;
  /** Values replaced by placeholders before sending (never the values themselves). */
  redacted?: number;
  /**
   * sha256 of the exact prompt sent for it (template filled with the file's
   * path and content, after redaction). A rerun compares it with the prompt
   * it would send now: a different one means the input changed since.
   */
  promptSha256?: string;
  /** Why a rerun asked it again although an earlier run had finished it. */
  rerun?: RerunReason;
  /** The provider batch it ran in, when the run was in provider mode (billed at the batch price). */
  providerBatch?: string;
  /** Finished in an earlier run of the same job and not asked again (report only; never in the journal). */
  resumed?: true;
}

export type RerunReason = 'input changed' | 'output missing';

/** A provider batch the job created: journalled as soon as it exists, so a rerun polls it instead of paying again. */
export interface ProviderBatchRecord {
  id: string;
  /** Its items: custom id to input name. */
  items: Record<string, string>;
  /** The sha256 of the prompt each item was sent with, by custom id: an answer to an older prompt is not taken. */
  prompts?: Record<string, string>;
}

/** What makes two runs the same job: same prompt, same endpoint and model, same output settings. */
export function jobId(parts: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

/**
 * The job's journal: one JSON line per finished item, appended as each one
 * finishes (after its output file is in place). Running the same job again
 * reads it and skips every item recorded ok, so nothing is requested twice.
 * A line cut short by a crash is ignored; its item simply runs again. The
 * journal is never read or written through a symbolic link.
 */
export class Journal {
  /** Appends one after another, so lines from items finishing together never interleave. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly done: Map<string, ItemRecord>,
    /** Provider batches created and not yet collected. */
    private readonly batches: Map<string, ProviderBatchRecord>,
    private readonly file: FileHandle,
  ) {}

  static async open(dir: string, id: string): Promise<Journal> {
    const path = journalPath(dir, id);
    const file = await openForAppend(dir, path);
    try {
      const { done, batches } = readJournal((await readIfPresent(path)) ?? '');
      return new Journal(path, done, batches, file);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** Provider batches an earlier run created and did not finish collecting. */
  get openBatches(): ProviderBatchRecord[] {
    return [...this.batches.values()];
  }

  async recordBatch(batch: ProviderBatchRecord): Promise<void> {
    await this.append({ submitted: batch });
    this.batches.set(batch.id, batch);
  }

  /** Every result of the batch is written and journalled: a rerun has nothing to poll there. */
  async recordCollected(id: string): Promise<void> {
    await this.append({ collected: id });
    this.batches.delete(id);
  }

  /** The earlier record of an item that finished ok, if any. */
  finished(input: string): ItemRecord | undefined {
    return this.done.get(input);
  }

  get finishedCount(): number {
    return this.done.size;
  }

  async record(item: ItemRecord): Promise<void> {
    await this.append(item);
    if (item.status === 'ok') this.done.set(item.input, item);
  }

  private async append(entry: JournalEntry): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    this.writing = this.writing.then(() => this.file.appendFile(line, 'utf8'));
    await this.writing;
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.file.close();
  }
}

export function journalPath(dir: string, id: string): string {
  return join(dir, `${JOURNAL_PREFIX}${id}.jsonl`);
}

export const JOURNAL_PREFIX = '.flowgate-batch-';

/** What a journal says: each input's last record, the items finished ok, and the provider batches still open. */
export function readJournal(text: string): {
  last: Map<string, ItemRecord>;
  done: Map<string, ItemRecord>;
  batches: Map<string, ProviderBatchRecord>;
} {
  const last = new Map<string, ItemRecord>();
  const done = new Map<string, ItemRecord>();
  const batches = new Map<string, ProviderBatchRecord>();
  for (const line of text.split('\n')) {
    const entry = parse(line);
    if (!entry) continue;
    if ('submitted' in entry) batches.set(entry.submitted.id, entry.submitted);
    else if ('collected' in entry) batches.delete(entry.collected);
    else {
      last.set(entry.input, entry);
      if (entry.status === 'ok') done.set(entry.input, entry);
      else done.delete(entry.input);
    }
  }
  return { last, done, batches };
}

/** A line of the journal: a finished item, a provider batch created, or one collected. */
type JournalEntry = ItemRecord | { submitted: ProviderBatchRecord } | { collected: string };

function parse(line: string): JournalEntry | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    const batch = value.submitted as ProviderBatchRecord | undefined;
    if (batch && typeof batch.id === 'string' && typeof batch.items === 'object') return { submitted: batch };
    if (typeof value.collected === 'string') return { collected: value.collected };
    return typeof value.input === 'string' && typeof value.status === 'string'
      ? (value as unknown as ItemRecord)
      : undefined;
  } catch {
    return undefined;
  }
}
