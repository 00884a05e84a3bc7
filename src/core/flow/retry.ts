import { CancelledError, HttpError, NetworkError, ProviderError, TimeoutError, type FlowgateError } from '../errors';
import { formatDuration } from '../duration';
import { parseRateLimitHeaders } from './rate-limit-headers';

export interface RetryOptions {
  /** Attempts in all, the first included. @default 4 */
  maxAttempts: number;
  /** The backoff's first step. @default 500 */
  baseDelayMs: number;
  /** No computed backoff waits longer than this (a server's Retry-After may). @default 30_000 */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryOptions> = Object.freeze({
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
});

/**
 * Whether a failed attempt may be repeated. Never once text has reached the
 * caller: a repeat would show it twice.
 */
export function shouldRetry(error: FlowgateError, contentDelivered: boolean): boolean {
  if (contentDelivered || error instanceof CancelledError) return false;
  return error.retryable;
}

/**
 * How long to wait before attempt `failedAttempt + 1`. A server's own word
 * (retry-after-ms, retry-after, or for a 429 the reset of the exhausted
 * allowance) wins; otherwise exponential backoff with full jitter.
 */
export function retryDelayMs(
  failedAttempt: number,
  error: FlowgateError,
  options: RetryOptions,
  now: number,
  random: () => number = Math.random,
): number {
  const hinted = serverHintMs(error, now);
  if (hinted !== undefined) return hinted;
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (failedAttempt - 1));
  return Math.round(random() * ceiling);
}

function serverHintMs(error: FlowgateError, now: number): number | undefined {
  if (!(error instanceof HttpError)) return undefined;
  const info = parseRateLimitHeaders(error.headers, now);
  if (info.retryAfterMs !== undefined) return info.retryAfterMs;
  if (error.status !== 429) return undefined;
  const exhausted = [info.requests, info.tokens].filter((a) => a.remaining === 0 && a.resetAt !== undefined);
  if (exhausted.length === 0) return undefined;
  return Math.max(0, Math.max(...exhausted.map((a) => a.resetAt as number)) - now);
}

/** What a person reads while Flowgate waits: "rate limited, retrying in 4 s (attempt 2 of 4)". */
export function describeRetry(error: FlowgateError, delayMs: number, nextAttempt: number, maxAttempts: number): string {
  return `${retryReason(error)}, retrying in ${formatDuration(delayMs)} (attempt ${nextAttempt} of ${maxAttempts})`;
}

/** What went wrong, in a few words, naming the provider's own error type where it gave one. */
function retryReason(error: FlowgateError): string {
  const type = error instanceof HttpError || error instanceof ProviderError ? error.providerType : undefined;
  const said = type ? ` (${type})` : '';
  // A rate-limit type adds nothing to "rate limited"; insufficient_quota and the like do.
  if (error.status === 429) return `rate limited${type && !/rate.?limit/i.test(type) ? said : ''}`;
  if (error.status === 529 || type === 'overloaded_error') return 'provider overloaded';
  if (error.status !== undefined) return `server error ${error.status}${said}`;
  if (error instanceof ProviderError) return `the provider reported an error${said}`;
  if (error instanceof TimeoutError)
    return error.phase === 'connect'
      ? 'connection timed out'
      : `${error.phase === 'idle' ? 'stream stalled' : 'timed out'}`;
  if (error instanceof NetworkError) return networkReason(error.systemCode);
  if (error.code === 'FLOWGATE_PROTOCOL') return 'malformed response';
  return 'request failed';
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};

function networkReason(code: string | undefined): string {
  if (code === undefined) return 'connection closed';
  return NETWORK_REASONS[code] ?? `connection failed (${code})`;
}
