/**
 * A batch folder's state, read without running anything: whether a run
 * holds it, and per job what its journal says (items finished ok or failed,
 * provider batches created and not yet collected). `flowgate batch --status`
 * prints it; asking the provider where those batches are is the caller's
 * choice, and never submits anything.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { JOURNAL_PREFIX, readJournal, type ProviderBatchRecord } from './journal';
import { lockHolder } from './lock';

export interface JobStatus {
  jobId: string;
  journal: string;
  ok: number;
  failed: number;
  incomplete: number;
  lastWritten: Date;
  /** Provider batches created and not yet collected: a run resumes polling them. */
  openBatches: ProviderBatchRecord[];
}

export interface FolderStatus {
  dir: string;
  runner?: { pid: number; host: string; started: string; running: boolean };
  jobs: JobStatus[];
}

export async function batchStatus(dir: string): Promise<FolderStatus> {
  const names = (await readdir(dir)).filter((n) => n.startsWith(JOURNAL_PREFIX) && n.endsWith('.jsonl')).sort();
  const jobs = await Promise.all(names.map((name) => jobStatus(join(dir, name), name)));
  return { dir, runner: await lockHolder(dir), jobs };
}

async function jobStatus(path: string, name: string): Promise<JobStatus> {
  const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  const { last, batches } = readJournal(text);
  const records = [...last.values()];
  return {
    jobId: name.slice(JOURNAL_PREFIX.length, -'.jsonl'.length),
    journal: path,
    ok: records.filter((r) => r.status === 'ok').length,
    failed: records.filter((r) => r.status === 'failed').length,
    incomplete: records.filter((r) => r.status === 'incomplete').length,
    lastWritten: info.mtime,
    openBatches: [...batches.values()],
  };
}
