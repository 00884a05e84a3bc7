/**
 * A log-bucketed histogram of durations: each bucket is 5% wider than the
 * last, so a percentile is within 5% of the truth at any scale, in constant
 * memory. Values below 1 ms share the first bucket.
 */
const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 400; // 1.05^400 ms is beyond a day

export interface Percentiles {
  count: number;
  p50?: number;
  p95?: number;
  p99?: number;
}

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;
  private sumMs = 0;

  record(ms: number): void {
    const index = ms <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms) / LOG_GROWTH));
    this.counts[index]!++;
    this.total++;
    this.sumMs += ms;
  }

  get sum(): number {
    return this.sumMs;
  }

  /**
   * Observations at or below each bound, cumulative, as Prometheus buckets
   * want them. Exact to the 5% width of the underlying buckets.
   */
  cumulative(boundsMs: readonly number[]): number[] {
    return boundsMs.map((bound) => {
      let count = 0;
      for (let index = 0; index < BUCKETS && GROWTH ** index <= bound * (1 + 1e-9); index++)
        count += this.counts[index]!;
      return count;
    });
  }

  get count(): number {
    return this.total;
  }

  /** The upper bound of the bucket holding the p-th percentile (0 < p <= 100). */
  percentile(p: number): number | undefined {
    if (this.total === 0) return undefined;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.counts[index]!;
      if (seen >= rank) return Math.round(GROWTH ** index * 10) / 10;
    }
    return undefined;
  }

  addFrom(other: Histogram): void {
    for (let index = 0; index < BUCKETS; index++) this.counts[index]! += other.counts[index]!;
    this.total += other.total;
    this.sumMs += other.sumMs;
  }

  summary(): Percentiles {
    return { count: this.total, p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99) };
  }
}

/** Since start, and over a recent window made of rotating slices. */
export class WindowedHistogram {
  readonly sinceStart = new Histogram();
  private slices: { startedAt: number; histogram: Histogram }[] = [];

  constructor(
    private readonly windowMs = 60_000,
    private readonly sliceMs = 10_000,
  ) {}

  record(ms: number, now: number): void {
    this.sinceStart.record(ms);
    this.currentSlice(now).record(ms);
  }

  recent(now: number): Histogram {
    const merged = new Histogram();
    for (const slice of this.slices) if (now - slice.startedAt < this.windowMs) merged.addFrom(slice.histogram);
    return merged;
  }

  private currentSlice(now: number): Histogram {
    const last = this.slices[this.slices.length - 1];
    if (last && now - last.startedAt < this.sliceMs) return last.histogram;
    this.slices = this.slices.filter((slice) => now - slice.startedAt < this.windowMs);
    const slice = { startedAt: now, histogram: new Histogram() };
    this.slices.push(slice);
    return slice.histogram;
  }
}
