/** The engine's public surface. Nothing under src/core imports 'vscode'. */
export { LlmClient, type CallOptions, type ClientOptions } from './client';
export { collect } from './completion';
export { endpointOrigin } from './endpoint';
export * from './errors';
export { DEFAULT_TIMEOUTS, resolveTimeouts, type Timeouts } from './timeouts';
export type * from './types';
export { isProviderKind } from './providers';
