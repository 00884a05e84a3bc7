/** The engine's public surface. Nothing under src/core imports 'vscode'. */
export { LlmClient, type CallOptions, type ClientOptions } from './client';
export { collect } from './completion';
export { endpointOrigin } from './endpoint';
export * from './errors';
export { DEFAULT_TIMEOUTS, resolveTimeouts, type Timeouts } from './timeouts';
export type * from './types';
export { isProviderKind } from './providers';
export { DEFAULT_RETRY, type RetryOptions } from './flow/retry';
export { DEFAULT_BREAKER, type BreakerOptions, type BreakerState } from './flow/breaker';
export { DEFAULT_CONCURRENCY, endpointKey } from './flow/endpoint-state';
export type { Priority } from './flow/scheduler';
export type { Counters, EndpointSnapshot, MetricsSnapshot, Timing } from './flow/metrics';
export type { Percentiles } from './flow/histogram';
export type { Allowance } from './flow/rate-limit-headers';
export type { QuotaSnapshot } from './flow/quota';
export { resolveProxy, type ProxyOptions } from './http/proxy';
export { Redactor, BUILT_IN_RULES, customRules, countFound, describeFound, luhnValid, type RedactionKind, type RedactionResult, type RedactionRule } from './redact';
export { diagnose, formatDoctorReport, type DoctorEndpoint, type DoctorOptions, type DoctorReport, type DoctorStep } from './doctor';
