import type { Allowance, RateLimitInfo } from './rate-limit-headers';

export interface QuotaSnapshot {
  requests: Allowance;
  tokens: Allowance;
}

/**
 * What the provider last said about an endpoint's allowance, minus what has
 * been sent since. Without a known limit, it holds a request back when the
 * provider said the allowance is spent and its reset is still ahead.
 */
export class QuotaModel {
  private requests: Allowance = {};
  private tokens: Allowance = {};
  private requestsSince = 0;
  private tokensSince = 0;

  /**
   * `sentSince` counts what was sent after the request whose response carried
   * these headers: the provider's `remaining` could not include it yet.
   */
  update(info: RateLimitInfo, sentSince: { requests: number; tokens: number } = { requests: 0, tokens: 0 }): void {
    if (info.requests.limit !== undefined || info.requests.remaining !== undefined) {
      this.requests = info.requests;
      this.requestsSince = sentSince.requests;
    }
    if (info.tokens.limit !== undefined || info.tokens.remaining !== undefined) {
      this.tokens = info.tokens;
      this.tokensSince = sentSince.tokens;
    }
  }

  noteSent(tokens: number): void {
    this.requestsSince++;
    this.tokensSince += tokens;
  }

  /** Milliseconds to wait before sending a request that reserves `tokens`; 0 means go. */
  waitMs(tokens: number, now: number): number {
    return Math.max(
      spentWait(this.requests, this.requestsSince, 1, now),
      spentWait(this.tokens, this.tokensSince, tokens, now),
    );
  }

  /** The provider's per-minute limits, when it has told them. */
  get learnedRpm(): number | undefined {
    return this.requests.limit;
  }

  get learnedTpm(): number | undefined {
    return this.tokens.limit;
  }

  snapshot(now: number): QuotaSnapshot {
    return {
      requests: current(this.requests, this.requestsSince, now),
      tokens: current(this.tokens, this.tokensSince, now),
    };
  }
}

function spentWait(allowance: Allowance, usedSince: number, need: number, now: number): number {
  const { remaining, resetAt } = allowance;
  // With a known limit the scheduler paces with a bucket at that rate, which
  // knows when the next unit comes back; waiting for the full reset would idle.
  if (allowance.limit !== undefined || remaining === undefined || resetAt === undefined || resetAt <= now) return 0;
  // After the reset the allowance counts as unknown again, so a need larger than the limit cannot wait forever.
  const enough = Math.min(need, allowance.limit ?? need);
  return remaining - usedSince < enough ? resetAt - now : 0;
}

function current(allowance: Allowance, usedSince: number, now: number): Allowance {
  if (allowance.resetAt !== undefined && allowance.resetAt <= now)
    return { limit: allowance.limit, remaining: allowance.limit, resetAt: undefined };
  if (allowance.remaining === undefined) return { ...allowance };
  return { ...allowance, remaining: Math.max(0, allowance.remaining - usedSince) };
}
