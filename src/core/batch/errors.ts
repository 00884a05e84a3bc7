import { FlowgateError } from '../errors';

/** Another batch holds the output folder's lock; nothing was sent. Not a usage mistake: the CLI exits 1. */
export class BatchLockedError extends FlowgateError {
  override readonly name = 'BatchLockedError';
  readonly code = 'FLOWGATE_BATCH_LOCKED';
  constructor(
    message: string,
    readonly lockPath: string,
    readonly pid?: number,
  ) {
    super(message, { retryable: false });
  }
}

/**
 * The batch's own files (its lock, journal, report, or the folders they go
 * in) could not be read or written: a missing permission, a full disk. What
 * the file system said is kept as the cause. The CLI exits 1.
 */
export class BatchFilesError extends FlowgateError {
  override readonly name = 'BatchFilesError';
  readonly code = 'FLOWGATE_BATCH_FILES';
  constructor(
    readonly dir: string,
    cause: Error,
  ) {
    super(
      `Flowgate could not read or write the batch's files in ${dir} (${cause.message}). Check that the folder is writable and the disk has room, or choose another output folder.`,
      { cause, retryable: false },
    );
  }
}

/** A file-system failure (anything with an errno code) as a BatchFilesError; the batch's own errors as they are. */
export function batchFilesFailure(dir: string): (error: unknown) => never {
  return (error) => {
    if (
      error instanceof FlowgateError ||
      !(error instanceof Error) ||
      typeof (error as NodeJS.ErrnoException).code !== 'string'
    )
      throw error;
    throw new BatchFilesError(dir, error);
  };
}
