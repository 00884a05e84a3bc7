import { lstat, opendir, readFile } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';

/** Folders no batch wants, whatever .gitignore says. */
const ALWAYS_SKIPPED = new Set(['.git', 'node_modules', '.hg', '.svn']);

export type IgnoreCheck = (absolutePath: string, isDirectory: boolean) => boolean;

/**
 * One input as the walk found it: a file to run, or a path that cannot be
 * run, with why. Nothing named or found is dropped in silence.
 */
export interface BatchInput {
  path: string;
  problem?: { status: 'failed' | 'skipped'; reason: string };
}

/**
 * The files a batch runs over, one at a time: named files as they are,
 * folders walked recursively, honouring each folder's .gitignore and an
 * optional extra rule (VS Code's files.exclude). Symbolic links are not
 * followed, so a walk stays inside the folders it was given; a link, named
 * or found, comes out as skipped, and a missing or unreadable path as
 * failed. Nothing is collected up front, so ten thousand files cost no more
 * memory than ten.
 */
export async function* expandInputs(
  inputs: string[],
  cwd: string,
  extraIgnore?: IgnoreCheck,
): AsyncGenerator<BatchInput> {
  const seen = new Set<string>();
  for (const input of inputs) {
    const path = resolve(cwd, input);
    if (seen.has(path)) continue;
    const info = await lstat(path).catch((error: NodeJS.ErrnoException) => error);
    if (info instanceof Error) {
      seen.add(path);
      yield { path, problem: { status: 'failed', reason: unreadable(info) } };
    } else if (info.isDirectory()) yield* walk(path, [], extraIgnore, seen);
    else {
      seen.add(path);
      yield info.isFile()
        ? { path }
        : { path, problem: { status: 'skipped', reason: notFollowed(info.isSymbolicLink(), 'named') } };
    }
  }
}

interface Rules {
  base: string;
  rules: Ignore;
}

async function* walk(
  dir: string,
  inherited: Rules[],
  extraIgnore: IgnoreCheck | undefined,
  seen: Set<string>,
): AsyncGenerator<BatchInput> {
  if (seen.has(dir)) return;
  seen.add(dir);
  const rules = [...inherited];
  const gitignore = await readFile(join(dir, '.gitignore'), 'utf8').catch(() => undefined);
  if (gitignore !== undefined) rules.push({ base: dir, rules: ignore().add(gitignore) });
  const entries: { name: string; directory: boolean; file: boolean; link: boolean }[] = [];
  try {
    for await (const entry of await opendir(dir))
      entries.push({
        name: entry.name,
        directory: entry.isDirectory(),
        file: entry.isFile(),
        link: entry.isSymbolicLink(),
      });
  } catch (error) {
    yield { path: dir, problem: { status: 'failed', reason: unreadable(error as NodeJS.ErrnoException) } };
    return;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.directory && ALWAYS_SKIPPED.has(entry.name)) continue;
    if (isIgnored(path, entry.directory, rules) || extraIgnore?.(path, entry.directory)) continue;
    if (entry.directory) yield* walk(path, rules, extraIgnore, seen);
    else if (!seen.has(path)) {
      seen.add(path);
      yield entry.file ? { path } : { path, problem: { status: 'skipped', reason: notFollowed(entry.link, 'found') } };
    }
  }
}

function unreadable(error: NodeJS.ErrnoException): string {
  if (error.code === 'ENOENT') return 'no such file or folder; check the path';
  if (error.code === 'EACCES' || error.code === 'EPERM') return 'cannot be read (permission denied)';
  return `cannot be read (${error.code ?? error.message})`;
}

function notFollowed(link: boolean, how: 'named' | 'found'): string {
  if (!link) return 'is not a regular file or folder';
  return how === 'named'
    ? 'is a symbolic link; Flowgate does not follow links: name the file it points to instead'
    : 'is a symbolic link; links inside folders are not followed';
}

function isIgnored(path: string, directory: boolean, rules: Rules[]): boolean {
  return rules.some(({ base, rules: r }) => {
    const rel = relative(base, path).split(sep).join('/');
    return rel !== '' && !rel.startsWith('..') && r.ignores(directory ? `${rel}/` : rel);
  });
}

/** Never read the batch's own output folder back in as input (it may sit inside an input folder). */
export function outsideOf(outDir: string, extra?: IgnoreCheck): IgnoreCheck {
  const root = resolve(outDir);
  return (path, isDirectory) => path === root || path.startsWith(root + sep) || (extra?.(path, isDirectory) ?? false);
}

export async function countInputs(inputs: string[], cwd: string, extraIgnore?: IgnoreCheck): Promise<number> {
  let count = 0;
  for await (const _ of expandInputs(inputs, cwd, extraIgnore)) count++;
  return count;
}
