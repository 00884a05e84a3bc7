/** The engine's public surface. Nothing under src/core imports 'vscode'. */
export { LlmClient, type ClientOptions } from './request/client';
export { collect } from './request/completion';
export { endpointOrigin } from './endpoint';
export { endpointSecrets } from './guards/secrets';
export * from './errors';
export { formatDuration } from './duration';
export { loadTokenCounter } from './tokens/load-token-counter';
export { TOKENS_PER_IMAGE } from './tokens/estimate';
export { DEFAULT_TIMEOUTS, resolveTimeouts, type Timeouts } from './request/timeouts';
export type * from './types';
export { isProviderKind } from './providers';
export { headersProblem, paramsProblem } from './providers/extras';
export { DEFAULT_RETRY } from './flow/retry';
export type { Counters, EndpointSnapshot } from './metrics/metrics';
export type { Percentiles } from './metrics/histogram';
export type { Allowance } from './flow/rate-limit-headers';
export { resolveProxy, type ProxyOptions } from './http/proxy';
export { Redactor, BUILT_IN_RULES, customRules, countFound, describeFound, luhnValid } from './guards/redact';
export { diagnose, formatDoctorReport, type DoctorEndpoint } from './doctor';
export { startPrometheusServer } from './metrics/prometheus';
export { ResponseCache, type CacheUse } from './cache/response-cache';
export {
  Budget,
  BudgetExceededError,
  cacheSavingOf,
  costOf,
  formatCost,
  type ModelPrice,
  type PriceTable,
} from './guards/cost';
export { connectRedisState, redisWhere, type RedisSharedState, type RedisStateOptions } from './shared/redis-state';
export { JobQueue } from './shared/job-queue';
export type { SharedGate, SharedState, SharedStatus } from './shared/shared-state';
