import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchLockedError } from './errors';
import { createExclusive, readIfPresent } from '../fs/safe-fs';

export const LOCK_NAME = '.flowgate-batch.lock';

/** Who holds a lock: enough to tell whether it is still running, and to name it to a person. */
interface Holder {
  pid: number;
  host: string;
  started: string;
  /** Tells this holder's lock from a later one by the same pid. */
  token: string;
}

/**
 * One batch at a time per output folder, so two runs never both pay for the
 * same file: a lock file created exclusively (nothing, not even a link,
 * may stand at its name), holding the pid, host and start time. A lock
 * whose process is gone (kill -9, a crash) is taken over, with a notice;
 * one whose process runs, or that belongs to another machine, is refused.
 */
export class BatchLock {
  private constructor(
    readonly path: string,
    private readonly token: string,
  ) {}

  static async acquire(dir: string, onNotice?: (text: string) => void): Promise<BatchLock> {
    const path = join(dir, LOCK_NAME);
    const mine: Holder = {
      pid: process.pid,
      host: hostname(),
      started: new Date().toISOString(),
      token: randomBytes(8).toString('hex'),
    };
    let replaced: Holder | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      if (await createExclusive(dir, path, `${JSON.stringify(mine)}\n`)) {
        if (replaced)
          onNotice?.(
            `Took over the lock in ${dir} left by process ${replaced.pid} (started ${replaced.started}), which is no longer running.`,
          );
        return new BatchLock(path, mine.token);
      }
      const holder = await readHolder(path);
      if (holder === 'gone') continue;
      if (holder === 'unknown')
        throw new BatchLockedError(
          `${path} is in the way but is not a Flowgate lock. If no batch is running on ${dir}, delete it.`,
          path,
        );
      if (isRunning(holder)) throw lockedBy(holder, dir, path);
      if (await removeStale(dir, path, holder, mine)) replaced = holder;
      else await sleep(20);
    }
    throw new BatchLockedError(
      `Another Flowgate batch keeps taking the lock on ${dir}. Wait for it to finish, or choose another output folder.`,
      path,
    );
  }

  /** Removes the lock if it is still this run's. */
  async release(): Promise<void> {
    const holder = await readHolder(this.path).catch(() => 'gone' as const);
    if (typeof holder === 'object' && holder.token === this.token) await rm(this.path, { force: true });
  }
}

function lockedBy(holder: Holder, dir: string, path: string): BatchLockedError {
  const where =
    holder.host === hostname() ? (holder.pid === process.pid ? ', this same process' : '') : ` on ${holder.host}`;
  return new BatchLockedError(
    `Another Flowgate batch (process ${holder.pid}${where}, started ${holder.started}) is running on ${dir}; two runs at once would pay for the same files. Wait for it to finish or stop it, or choose another output folder. If process ${holder.pid} is not a Flowgate batch, delete ${path}.`,
    path,
    holder.pid,
  );
}

/**
 * Removes a lock whose process is gone, if it is still that lock. A second
 * exclusive file guards the check-then-remove, so that of two runs finding
 * the same stale lock only one removes it (and never the other's new one).
 */
async function removeStale(dir: string, path: string, stale: Holder, mine: Holder): Promise<boolean> {
  const guard = `${path}.takeover`;
  if (!(await createExclusive(dir, guard, `${JSON.stringify(mine)}\n`))) {
    const other = await readHolder(guard);
    if (typeof other === 'object' && !isRunning(other)) await rm(guard, { force: true }); // a taker that died half-way
    return false;
  }
  try {
    const current = await readHolder(path);
    if (typeof current !== 'object' || current.token !== stale.token) return false;
    await rm(path, { force: true });
    return true;
  } finally {
    await rm(guard, { force: true });
  }
}

async function readHolder(path: string): Promise<Holder | 'gone' | 'unknown'> {
  const text = await readIfPresent(path);
  if (text === undefined) return 'gone';
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    const valid =
      Number.isInteger(value.pid) &&
      typeof value.host === 'string' &&
      typeof value.started === 'string' &&
      typeof value.token === 'string';
    return valid ? (value as Holder) : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Who holds the lock on `dir`, if anyone, and whether that process still runs (for `flowgate batch --status`). */
export async function lockHolder(
  dir: string,
): Promise<{ pid: number; host: string; started: string; running: boolean } | undefined> {
  const holder = await readHolder(join(dir, LOCK_NAME));
  if (typeof holder !== 'object') return undefined;
  return { pid: holder.pid, host: holder.host, started: holder.started, running: isRunning(holder) };
}

/** Whether the holder may still be running: always so for another machine's, or this process's own (another run in it). */
function isRunning(holder: Holder): boolean {
  if (holder.host !== hostname() || holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
