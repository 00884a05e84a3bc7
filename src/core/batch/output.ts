import { isAbsolute, relative, resolve } from 'node:path';

/** Where one input's result goes, or why it cannot go anywhere safe. */
export type OutputTarget = { path: string; relative: string } | { error: string };

/**
 * Mirrors the input's path relative to `cwd` under `outDir`, with `.md`
 * added: src/a.ts -> DIR/src/a.ts.md. An input outside `cwd` has no place in
 * the mirror and is refused rather than written somewhere surprising.
 */
export function mirrorTarget(input: string, cwd: string, outDir: string): OutputTarget {
  const rel = relative(cwd, input);
  if (!rel || rel.startsWith('..') || isAbsolute(rel))
    return { error: 'is outside the working folder, so it has no place in the output mirror' };
  return contained(outDir, `${rel}.md`);
}

/** `rel` under `root`, refusing anything that resolves outside it. */
export function contained(root: string, rel: string): OutputTarget {
  const path = resolve(root, rel);
  const fromRoot = relative(resolve(root), path);
  if (!fromRoot || fromRoot.startsWith('..') || isAbsolute(fromRoot))
    return { error: `would be written outside ${root}` };
  return { path, relative: fromRoot };
}
