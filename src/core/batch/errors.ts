import { ConfigError } from '../errors';

/** Another batch holds the output folder's lock; nothing was sent. Not a usage mistake: the CLI exits 1. */
export class BatchLockedError extends ConfigError {
  override readonly name = 'BatchLockedError';
  constructor(
    message: string,
    readonly lockPath: string,
    readonly pid?: number,
  ) {
    super(message);
  }
}
