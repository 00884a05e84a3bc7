/**
 * A continuous-refill token bucket. `take` may drive the level below zero
 * (a debt), so that a request larger than the bucket can still go once the
 * bucket is full, and the long-run rate stays exactly `perMinute`.
 */
export class TokenBucket {
  private level: number;
  private updatedAt: number;

  constructor(
    private perMinute: number,
    private capacity: number,
    now: number,
  ) {
    this.level = capacity;
    this.updatedAt = now;
  }

  /**
   * About one second's worth: providers enforce per-minute limits over
   * shorter windows. It is kept SAFETY_MARGIN_MS of budget below the server's
   * own bucket, because requests sent in order can arrive out of order or
   * bunched; that lead absorbs the jitter, so a server enforcing the same
   * limit sees no 429. The long-run rate is unchanged.
   */
  static forRate(perMinute: number, now: number): TokenBucket {
    return new TokenBucket(perMinute, capacityFor(perMinute), now);
  }

  /** Milliseconds until `amount` can be taken; 0 means now. */
  waitMs(amount: number, now: number): number {
    this.refill(now);
    const needed = Math.min(amount, this.capacity);
    if (this.level >= needed) return 0;
    return Math.ceil(((needed - this.level) / this.perMinute) * 60_000);
  }

  /**
   * A take larger than the bucket (every request at 60 RPM or less) leaves no
   * lead in the level to absorb jitter: sent exactly one interval apart, two
   * requests that arrive a few milliseconds closer together draw a 429 from a
   * server whose bucket holds one. So such a take also pays the margin, and
   * the next one waits SAFETY_MARGIN_MS longer.
   */
  take(amount: number, now: number): void {
    this.refill(now);
    this.level -= amount > this.capacity ? amount + marginFor(this.perMinute) : amount;
  }

  /** Gives back what a reservation did not use (or takes what it overran, with a negative amount). */
  refund(amount: number, now: number): void {
    this.refill(now);
    this.level = Math.min(this.capacity, this.level + amount);
  }

  /** Changes the rate, keeping the current fill ratio. */
  setRate(perMinute: number, now: number): void {
    this.refill(now);
    const capacity = capacityFor(perMinute);
    this.level = (this.level / this.capacity) * capacity;
    this.perMinute = perMinute;
    this.capacity = capacity;
  }

  /** Never more than `level`: what the provider says is left, or 0 after a 429. */
  lowerTo(level: number, now: number): void {
    this.refill(now);
    this.level = Math.min(this.level, level);
  }

  get rate(): number {
    return this.perMinute;
  }

  available(now: number): number {
    this.refill(now);
    return this.level;
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) this.level = Math.min(this.capacity, this.level + (elapsed * this.perMinute) / 60_000);
    this.updatedAt = Math.max(this.updatedAt, now);
  }
}

/** How much earlier than the server the client's bucket behaves as if it started. */
export const SAFETY_MARGIN_MS = 100;

function capacityFor(perMinute: number): number {
  return Math.max(1, perMinute / 60) - marginFor(perMinute);
}

/** SAFETY_MARGIN_MS of budget at this rate. */
function marginFor(perMinute: number): number {
  return (perMinute * SAFETY_MARGIN_MS) / 60_000;
}
