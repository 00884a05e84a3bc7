/**
 * undici's Pool, loaded without undici's index. Importing the index installs a
 * process-wide global dispatcher (`Symbol.for('undici.globalDispatcher.1')`
 * and `.2`) when none is set. Inside VS Code's extension host that state is
 * shared with every other extension, so the engine must not touch it.
 */
import type { Pool as PoolType } from 'undici';

const Pool: typeof PoolType = require('undici/lib/dispatcher/pool');

export { Pool };
export type { PoolType };
