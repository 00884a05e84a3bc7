import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UnsafePathError } from './errors';

/**
 * Every file a batch writes (answers, the journal, the report, the lock)
 * goes through here, and none of it goes through a symbolic link: each
 * folder from the root down must be a real folder, the file itself must be a
 * plain file or absent, and files are opened with O_NOFOLLOW (where the
 * platform has it; elsewhere the lstat checks stand alone). The root itself
 * is the caller's choice and is taken as it is.
 */
const NO_FOLLOW = constants.O_NOFOLLOW ?? 0;

/** Creates `folder` and every folder between `root` and it, refusing anything that is not a real folder. */
export async function ensureFolders(root: string, folder: string): Promise<void> {
  const top = resolve(root);
  const rel = relative(top, resolve(folder));
  if (rel.startsWith('..') || isAbsolute(rel)) throw new UnsafePathError(folder, 'outside');
  await mkdir(top, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  if (!(await stat(top)).isDirectory()) throw new UnsafePathError(top, 'notFolder');
  let current = top;
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
    if (info.isSymbolicLink()) throw new UnsafePathError(current, 'link');
    if (!info.isDirectory()) throw new UnsafePathError(current, 'notFolder');
  }
}

/** Throws unless `path` could be written under `root` without following a link: its folders real, itself a plain file or absent. */
export async function refuseLinks(root: string, path: string): Promise<void> {
  await ensureFolders(root, dirname(path));
  const info = await lstat(path).catch(() => undefined);
  if (info?.isSymbolicLink()) throw new UnsafePathError(path, 'link');
  if (info && !info.isFile()) throw new UnsafePathError(path, 'notFile');
}

/**
 * Writes a file so that a reader (or a crash) never sees half of it: a
 * temporary file beside the target, flushed to disk, then renamed over it.
 * A link that appears at the target after the check is replaced by the
 * rename, never written through.
 */
export async function writeAtomically(root: string, path: string, text: string): Promise<void> {
  await refuseLinks(root, path);
  const temporary = await writeTemporary(path, text);
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Opens `path` for appending, creating it; never through a link. */
export async function openForAppend(root: string, path: string): Promise<FileHandle> {
  await refuseLinks(root, path);
  return open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NO_FOLLOW, 0o644).catch(
    refusedLink(path),
  );
}

/** The text of `path`, or undefined when there is none; a link there is refused, not read. */
export async function readIfPresent(path: string): Promise<string | undefined> {
  let file: FileHandle;
  try {
    file = await open(path, constants.O_RDONLY | NO_FOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return refusedLink(path)(error);
  }
  try {
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}

/**
 * Creates `path` holding `text` only if nothing (not even a link) is there,
 * atomically: the text is complete before the name appears. False when
 * something already is.
 */
export async function createExclusive(root: string, path: string, text: string): Promise<boolean> {
  await ensureFolders(root, dirname(path));
  const temporary = await writeTemporary(path, text);
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temporary, { force: true });
  }
}

async function writeTemporary(path: string, text: string): Promise<string> {
  const temporary = join(dirname(path), `.${randomBytes(6).toString('hex')}.flowgate.tmp`);
  // 'wx' is O_CREAT | O_EXCL: it fails on anything already there, a link included.
  const file = await open(temporary, 'wx', 0o644);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await file.close();
  return temporary;
}

/** O_NOFOLLOW's ELOOP, said as what it means. */
function refusedLink(path: string): (error: unknown) => never {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw new UnsafePathError(path, 'link');
    throw error;
  };
}
