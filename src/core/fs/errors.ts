import { FlowgateError } from '../errors';

const PROBLEMS = {
  link: 'is a symbolic link; Flowgate does not write through links. Remove the link, or choose another output folder.',
  notFolder:
    'is in the way: it is not a folder, so Flowgate cannot write under it. Move it away, or choose another output folder.',
  notFile:
    'is in the way: it is not a plain file, so Flowgate will not replace it. Move it away, or choose another output folder.',
  outside:
    'is outside the folder this batch writes to, and Flowgate writes nothing outside it. Choose an output folder that holds it.',
} as const;

/**
 * The batch refused to write where a symbolic link (or anything but a plain
 * file or folder) stands, or outside its folder; nothing was written there. Found before anything
 * is sent wherever it can be, but not a usage mistake: the CLI exits 1.
 */
export class UnsafePathError extends FlowgateError {
  override readonly name = 'UnsafePathError';
  readonly code = 'FLOWGATE_UNSAFE_PATH';
  constructor(
    readonly path: string,
    readonly problem: keyof typeof PROBLEMS,
  ) {
    super(`${path} ${PROBLEMS[problem]}`, { retryable: false });
  }
}
