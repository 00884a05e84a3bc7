import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { ConfigError } from '../errors';
import { UnsafePathError } from '../fs/errors';
import { reportPath } from './report';
import { refuseLinks } from '../fs/safe-fs';

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

interface Placement {
  inputs: string[];
  cwd: string;
  outDir: string;
  excludeOutDir?: boolean;
}

/**
 * Refuses an output folder that is an input or holds one (`--out .`). The
 * walk leaves the output folder out of the inputs, so such a run would
 * quietly do nothing, or mix answers with the files they answer and read
 * them back as inputs next time. A job whose results sit beside their
 * inputs (excludeOutDir false) keeps them out of the walk itself.
 */
export async function refuseOutDirAmongInputs(job: Placement): Promise<void> {
  if (job.excludeOutDir === false) return;
  const out = await canonical(resolve(job.outDir));
  for (const input of job.inputs) {
    const rel = relative(out, await canonical(resolve(job.cwd, input)));
    if (rel.startsWith('..') || isAbsolute(rel)) continue;
    const how = rel === '' ? 'is the input' : 'holds the input';
    throw new ConfigError(
      `The output folder ${job.outDir} ${how} "${input}": the answers would be mixed with the files they answer, and the output folder is left out of the inputs, so they would not run. Choose an output folder outside the inputs, such as a new folder named flowgate-output.`,
    );
  }
}

/** The path with its folders' links resolved (not its own: a named link is its own item), for comparing places. */
async function canonical(path: string): Promise<string> {
  const parent = dirname(path);
  if (parent === path) return path;
  const real = await realpath(parent).catch(() => undefined);
  return join(real ?? (await canonical(parent)), basename(path));
}
