/**
 * Rate-limit headers from OpenAI, Anthropic and RFC 9110's Retry-After,
 * turned into one shape. Times are absolute (epoch ms), computed from the
 * moment the response arrived, since OpenAI's resets are relative durations.
 */

export interface Allowance {
  limit?: number;
  remaining?: number;
  /** When `remaining` is back to `limit` (epoch ms). */
  resetAt?: number;
}

export interface RateLimitInfo {
  requests: Allowance;
  tokens: Allowance;
  /** How long the server asked us to wait, from retry-after-ms or retry-after. */
  retryAfterMs?: number;
}

type Headers = Record<string, string | undefined>;

/** Whether a (lower-case) header name is one this module reads. */
export function isRateLimitHeader(name: string): boolean {
  return name.includes('ratelimit') || name.startsWith('retry-after');
}

export function parseRateLimitHeaders(headers: Headers, receivedAt: number): RateLimitInfo {
  const openaiReset = (value: string | undefined) => {
    const ms = parseGoDuration(value);
    return ms === undefined ? undefined : receivedAt + ms;
  };
  const anthropicReset = (value: string | undefined) => parseDate(value);
  return {
    requests: firstKnown(
      allowance(
        headers,
        'x-ratelimit-limit-requests',
        'x-ratelimit-remaining-requests',
        'x-ratelimit-reset-requests',
        openaiReset,
      ),
      allowance(
        headers,
        'anthropic-ratelimit-requests-limit',
        'anthropic-ratelimit-requests-remaining',
        'anthropic-ratelimit-requests-reset',
        anthropicReset,
      ),
    ),
    tokens: firstKnown(
      allowance(
        headers,
        'x-ratelimit-limit-tokens',
        'x-ratelimit-remaining-tokens',
        'x-ratelimit-reset-tokens',
        openaiReset,
      ),
      allowance(
        headers,
        'anthropic-ratelimit-tokens-limit',
        'anthropic-ratelimit-tokens-remaining',
        'anthropic-ratelimit-tokens-reset',
        anthropicReset,
      ),
      allowance(
        headers,
        'anthropic-ratelimit-input-tokens-limit',
        'anthropic-ratelimit-input-tokens-remaining',
        'anthropic-ratelimit-input-tokens-reset',
        anthropicReset,
      ),
    ),
    retryAfterMs: parseRetryAfter(headers, receivedAt),
  };
}

function allowance(
  headers: Headers,
  limit: string,
  remaining: string,
  reset: string,
  parseReset: (value: string | undefined) => number | undefined,
): Allowance {
  return {
    limit: parseCount(headers[limit]),
    remaining: parseCount(headers[remaining]),
    resetAt: parseReset(headers[reset]),
  };
}

function firstKnown(...candidates: Allowance[]): Allowance {
  return candidates.find((a) => a.limit !== undefined || a.remaining !== undefined) ?? {};
}

function parseCount(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

/** `retry-after-ms` (a number of ms), else `retry-after` (seconds, or an HTTP date). */
export function parseRetryAfter(headers: Headers, now: number): number | undefined {
  const ms = Number(headers['retry-after-ms']);
  if (headers['retry-after-ms'] !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers['retry-after']?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const GO_UNITS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

/** Go's time.Duration text, as OpenAI sends it: `1s`, `6m0s`, `20ms`, `1h2m3.5s`. */
export function parseGoDuration(value: string | undefined): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const part = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * (GO_UNITS[match[2] as string] as number);
    index = part.lastIndex;
  }
  return total;
}

function parseDate(value: string | undefined): number | undefined {
  if (!value) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}
