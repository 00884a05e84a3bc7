/**
 * undici's dispatchers, loaded without undici's index. Importing the index
 * installs a process-wide global dispatcher (`Symbol.for('undici.globalDispatcher.1')`
 * and `.2`) when none is set. Inside VS Code's extension host that state is
 * shared with every other extension, so the engine must not touch it.
 */
/* eslint-disable @typescript-eslint/no-require-imports, @typescript-eslint/no-unsafe-assignment -- undici's modules are required one by one, for the reason above. */
import type { Dispatcher, EnvHttpProxyAgent as EnvHttpProxyAgentType, Pool as PoolType } from 'undici';

const Pool: typeof PoolType = require('undici/lib/dispatcher/pool');
const EnvHttpProxyAgent: typeof EnvHttpProxyAgentType = require('undici/lib/dispatcher/env-http-proxy-agent');

// undici's index gives every dispatcher its request/connect API (the proxy
// agent opens tunnels with connect()). This copies that one step for the
// engine's own copy of undici's classes; it touches no global.
const DispatcherClass: { prototype: object } = require('undici/lib/dispatcher/dispatcher');
Object.assign(DispatcherClass.prototype, require('undici/lib/api'));

export { EnvHttpProxyAgent, Pool };
export type { Dispatcher, EnvHttpProxyAgentType, PoolType };
