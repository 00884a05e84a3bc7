import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UnsafePathError } from './errors';
import { reportPath } from './report';
import { refuseLinks } from './safe-fs';

interface Folders {
  cwd: string;
  outDir: string;
  journalDir?: string;
}

/**
 * What is checked before anything is sent, so that a run that cannot write
 * its results never pays for them: the output and journal folders are not
 * links themselves (the working folder excepted: it is where the user
 * is), and report.json is not a link.
 */
export async function checkFolders(job: Folders): Promise<void> {
  const jobDir = job.journalDir ?? job.outDir;
  for (const folder of new Set([job.outDir, jobDir].map((f) => resolve(f)))) {
    if (folder === resolve(job.cwd)) continue;
    if ((await lstat(folder).catch(() => undefined))?.isSymbolicLink()) throw new UnsafePathError(folder, 'link');
  }
  await refuseLinks(jobDir, reportPath(jobDir));
}
