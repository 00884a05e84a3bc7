import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Where one input's result goes, or why it cannot go anywhere safe. */
export type OutputTarget = { path: string; relative: string } | { error: string };

/**
 * Mirrors the input's path relative to `cwd` under `outDir`, with `.md`
 * added: src/a.ts -> DIR/src/a.ts.md. An input outside `cwd` has no place in
 * the mirror and is refused rather than written somewhere surprising.
 */
export function mirrorTarget(input: string, cwd: string, outDir: string): OutputTarget {
  const rel = relative(cwd, input);
  if (!rel || rel.startsWith('..') || isAbsolute(rel)) return { error: 'is outside the working folder, so it has no place in the output mirror' };
  return contained(outDir, `${rel}.md`);
}

/** `rel` under `root`, refusing anything that resolves outside it. */
export function contained(root: string, rel: string): OutputTarget {
  const path = resolve(root, rel);
  const fromRoot = relative(resolve(root), path);
  if (!fromRoot || fromRoot.startsWith('..') || isAbsolute(fromRoot)) return { error: `would be written outside ${root}` };
  return { path, relative: fromRoot };
}

/**
 * Writes a file so that a reader (or a crash) never sees half of it: a
 * temporary file beside the target, flushed to disk, then renamed over it.
 * Every folder on the way from `root` must be a real folder, not a symbolic
 * link, so nothing is written outside `root` through a link planted in it.
 */
export async function writeAtomically(root: string, path: string, text: string): Promise<void> {
  await makeFolders(resolve(root), dirname(path));
  const existing = await lstat(path).catch(() => undefined);
  if (existing?.isSymbolicLink()) throw new Error(`${path} is a symbolic link; Flowgate does not write through links.`);
  const temporary = join(dirname(path), `.${randomBytes(6).toString('hex')}.flowgate.tmp`);
  const file = await open(temporary, 'wx', 0o644);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function makeFolders(root: string, folder: string): Promise<void> {
  const rel = relative(root, folder);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${folder} is outside ${root}.`);
  let current = root;
  await mkdir(root, { recursive: true });
  for (const part of rel ? rel.split(sep) : []) {
    current = join(current, part);
    let info = await lstat(current).catch(() => undefined);
    if (!info) {
      // Items run in parallel: another may create the same folder first.
      await mkdir(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      info = await lstat(current);
    }
    if (!info.isDirectory()) throw new Error(`${current} is not a folder (a symbolic link?); Flowgate does not write through it.`);
  }
}
